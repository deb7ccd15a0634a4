// Checkpoints: one file per network, named as the original train.py named them.
//
// `{img2text,text2img}_{generator,discriminator}_epoch_{E}.pth` each hold the module's parameters and
// buffers, its optimizer state, and a CheckpointMeta (epoch, step, and what exact resume needs: the position
// in the epoch, world size, seed, RNG state, the resolved config). Rank 0 writes them atomically (temp file,
// fsync, rename); a checkpoint "set" (both networks of a phase at one point) is complete once its index entry
// `{phase}_checkpoints.json` lists it, and that index is written last. Each entry carries a commit sequence
// number ("seq"): the newest set is the one committed last, which after a resume from an older set is not
// the one with the highest step.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace fergan::checkpoint {

// LibTorch 1.x keys optimizer state by the parameter's TensorImpl address printed as a string; 2.x by the
// address itself. The key of `param` in an optimizer's state() map, for both.
template <typename StateMap>
typename StateMap::key_type optimizer_state_key(const StateMap&, const torch::Tensor& param) {
  if constexpr (std::is_same_v<typename StateMap::key_type, std::string>) {
    std::ostringstream key;
    key << param.unsafeGetTensorImpl();
    return key.str();
  } else {
    return param.unsafeGetTensorImpl();
  }
}

struct CheckpointMeta {
  std::string phase;           // "img2text" | "text2img"
  int64_t epoch = 0;           // epochs completed (1-based count, as in the file name)
  int64_t step = 0;            // optimizer steps completed in this phase
  int64_t batch_in_epoch = 0;  // steps of epoch `epoch + 1` already done (non-zero only for a mid-epoch save)
  // Samples of epoch `epoch + 1` that all ranks together consumed: the global position in the epoch's order
  // where a resumed run starts, at any world size. -1: a checkpoint written before this was stored, which
  // resumes only at its own world size (from batch_in_epoch).
  int64_t samples_in_epoch = 0;
  int64_t world = 1;
  uint64_t seed = 0;
  std::string config_yaml;  // the resolved config of the run that wrote it
};

struct CheckpointSet {
  std::string tag;  // "epoch_10" or, for a mid-epoch (signal) save, "epoch_3_step_1234"
  std::string generator_path;
  std::string discriminator_path;
  CheckpointMeta meta;
  int64_t seq = 0;  // commit order in the phase index (set by commit_set; 0 = an index entry without one)
};

std::string checkpoint_path(const std::string& dir, const std::string& phase, const std::string& network,
                            const std::string& tag);

// Writes module state + optimizer state + meta (+ extra tensors such as RNG state) atomically.
void save_network(const std::string& path, torch::nn::Module& module, torch::optim::Optimizer* optimizer,
                  const CheckpointMeta& meta, const std::map<std::string, torch::Tensor>& extra = {});

// Loads into `module` (and `optimizer` when given). Shape or name mismatches -> one error listing them all.
CheckpointMeta load_network(const std::string& path, torch::nn::Module& module,
                            torch::optim::Optimizer* optimizer,
                            std::map<std::string, torch::Tensor>* extra = nullptr);

// A second copy of a network inside a checkpoint (the generator's weight average): its parameters and
// buffers go into `extra` under "<prefix>/<name>", to be written by save_network.
void add_module_to_extra(std::map<std::string, torch::Tensor>& extra, const std::string& prefix,
                         const torch::nn::Module& module);
// Loads such a copy into `module`; returns false, leaving it untouched, when the file holds none. A copy of
// another shape is an error listing the mismatches.
bool load_module_from_extra(const std::string& path, const std::string& prefix, torch::nn::Module& module);
// One extra tensor, if the file holds it.
std::optional<torch::Tensor> read_extra(const std::string& path, const std::string& name);

// Reads only the meta of a checkpoint file (e.g. to rebuild the model from its config).
CheckpointMeta read_meta(const std::string& path);

// Records a complete set in the phase index (written last, atomically) with the next sequence number (a set
// of the same tag is replaced); keep_last retention then drops the sets committed earliest.
void commit_set(const std::string& dir, const CheckpointSet& set, int keep_last);

// All complete sets of a phase in commit order, oldest first. Entries of an index written before sequence
// numbers existed (seq 0) come first, in step order.
std::vector<CheckpointSet> list_sets(const std::string& dir, const std::string& phase);

// The set of a phase committed last, if any.
std::optional<CheckpointSet> latest_set(const std::string& dir, const std::string& phase);

// Compares the model tensors of two checkpoint files: the largest absolute difference over all tensors
// (0 = bitwise equal values). Different tensor names or shapes are an error listing them.
// relative: the largest per-tensor ||a - b|| / ||b|| (L2) instead: scale-free across weights and BatchNorm
// statistics, and not dominated by the few elements of a large float32 tensor whose gradient is near zero,
// which Adam (dividing by sqrt(v)) turns into lr-sized, noise-driven steps. A tensor that is all zeros in b
// is measured absolutely.
// worst_tensor (optional) receives the name of the tensor with the largest difference. Tensors whose name
// (without the "model/" prefix) matches `ignore` (an ECMAScript regex; empty = none) are left out.
double max_abs_difference(const std::string& path_a, const std::string& path_b, bool relative = false,
                          std::string* worst_tensor = nullptr, const std::string& ignore = "");

}  // namespace fergan::checkpoint
