// Cross-rank agreement: before training, every rank must see the same dataset and configuration, and after a
// resume hold the same checkpoint (step, weights, optimizer state). A disagreement otherwise shows up as a
// collective that times out (different step counts) or, worse, as training that silently diverges (each rank
// averaging gradients into its own Adam moments). Typical causes on a cluster: a node-local checkpoint_dir or
// dataset copy, a stale NFS directory listing, a per-node config.
//
// Everything travels over the communicator's host reductions (MPI on every backend), as digests: a value is
// rank 0's when every rank's sum of (rank 0's value, zeros elsewhere) is compared with its own.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "fergan/checkpoint/checkpoint.h"
#include "fergan/core/config.h"
#include "fergan/data/dataset.h"
#include "fergan/dist/communicator.h"

namespace fergan::train {

// Rank 0's `values`, the ranks whose own values differ from them, and which of the values differ on some
// rank: the same on every rank (an error raised on every rank then says the same, whichever rank's message
// ends the job). `values` must have the same length on every rank.
struct RootComparison {
  std::vector<double> root;
  std::vector<int> differing;
  std::vector<bool> value_differs;
};
RootComparison compare_with_root(dist::Communicator& comm, const std::vector<double>& values);

// Rank 0's text on every rank.
std::string text_from_root(dist::Communicator& comm, const std::string& text);

// 48 bits of a text's sha256 as an exact double: equal texts give equal values on every rank.
double text_digest(const std::string& text);

// "1, 3"
std::string rank_list(const std::vector<int>& ranks);

// The resolved configuration as "key: value" lines, one per key, without the keys that may differ per node
// (run_dir, checkpoint_dir, data.shards: paths; the data itself is compared by its manifest).
std::vector<std::string> comparable_config_lines(const Config& config);

// Start-up: every rank's dataset (its manifest.json's sha256, split and size) and configuration must equal
// rank 0's; otherwise an error on every rank naming the ranks and what differs (the configuration keys).
void check_startup_agreement(dist::Communicator& comm, const Config& config,
                             const data::ShardDataset& dataset);

// `--resume auto` on several ranks: rank 0 chooses each phase's set from its checkpoint_dir; every other rank
// takes the set of the same tag from its own checkpoint_dir (an error naming the ranks that have none).
// `--resume PATH` and "" are the same on every rank and resolve locally.
std::map<std::string, checkpoint::CheckpointSet> agreed_resume_sets(dist::Communicator& comm,
                                                                    const std::string& resume,
                                                                    const std::string& checkpoint_dir,
                                                                    const std::vector<std::string>& phases);

// A position-weighted sum over an optimizer's Adam state (moments and step counts) in parameter order: equal
// on ranks that hold the same state (see dist::module_checksum).
double optimizer_checksum(torch::optim::Optimizer& optimizer);

// What a rank restored, to compare across ranks.
struct RestoredState {
  std::string path;  // the generator checkpoint, for the message
  checkpoint::CheckpointMeta meta;
  double generator = 0, discriminator = 0;                      // module checksums
  double generator_optimizer = 0, discriminator_optimizer = 0;  // optimizer checksums
};
// Every rank must have restored rank 0's state; otherwise an error on every rank naming the ranks and what
// differs (step, position, weights, optimizer state).
void check_restored_agreement(dist::Communicator& comm, const RestoredState& state);

}  // namespace fergan::train
