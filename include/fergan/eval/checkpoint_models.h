// Turning "--checkpoint PATH|latest --run-dir DIR" into ready-to-run generators.
//
// Every checkpoint carries the resolved config of the run that wrote it (CheckpointMeta::config_yaml), so the
// networks are rebuilt from that config (Options::from) rather than from flags the user would have to repeat;
// a checkpoint of another shape then cannot be loaded into a wrong network by accident.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

#include "fergan/checkpoint/checkpoint.h"
#include "fergan/core/config.h"
#include "fergan/models/img2text.h"
#include "fergan/models/text2img.h"

namespace fergan::eval {

// The directory holding the *_checkpoints.json indexes of a run directory: <run_dir>/checkpoints, the run dir
// itself, or the checkpoint_dir named by <run_dir>/config.yaml (first that has an index). Error naming what
// was tried when none has.
std::string checkpoint_dir_of_run(const std::string& run_dir);

// The generator checkpoint of `phase` ("img2text" | "text2img") that `spec` designates:
//   "latest"        newest complete set in checkpoint_dir_of_run(run_dir);
//   a directory     newest complete set in it;
//   a .pth file     that file if it belongs to `phase` (a discriminator file maps to its generator), else
//                   the newest set of `phase` beside it (the other GAN of the same run).
// std::nullopt when the phase has no checkpoint there (e.g. a run that trained only img2text); a missing
// path or an unreadable file is an error.
std::optional<std::string> resolve_generator_checkpoint(const std::string& spec, const std::string& run_dir,
                                                        const std::string& phase);

struct LoadedText2Img {
  models::Text2ImageGenerator generator{nullptr};
  Config config;
  checkpoint::CheckpointMeta meta;
  std::string path;
  bool weight_average = false;  // the weights loaded are the generator's weight average
  // Noise drawn from a standard normal truncated to [-truncation, truncation] (values outside redrawn):
  // the truncation trick, which trades diversity for fidelity. 0 = the plain normal the generator trained on.
  double truncation = 0;
};

struct LoadedImg2Text {
  models::Img2TextGenerator generator{nullptr};
  Config config;
  checkpoint::CheckpointMeta meta;
  std::string path;
  bool weight_average = false;  // the weights loaded are the generator's weight average
};

// Rebuilds the network from the checkpoint's config, loads the weights (the generator's weight average when
// the checkpoint holds one), moves it to `device`, eval mode.
// average = false loads the trained weights even when the checkpoint holds a weight average.
LoadedText2Img load_text2img_generator(const std::string& path, torch::Device device, bool average = true,
                                       double truncation = 0);
LoadedImg2Text load_img2text_generator(const std::string& path, torch::Device device, bool average = true);

// Images from a Text->Image generator: embeddings [B, D] -> [B, 3, S, S] in [-1, 1], run in batches without
// gradients. Noise (when the network takes it) is standard normal from `generator_seed`, truncated as
// model.truncation says.
torch::Tensor generate_images(LoadedText2Img& model, const torch::Tensor& embeddings, int64_t batch_size,
                              uint64_t generator_seed);

// [rows, dim] standard normal values with every value outside [-limit, limit] redrawn from `gen`; limit 0 =
// plain torch::randn. Redrawing keeps the normal's shape inside the interval.
torch::Tensor truncated_normal(int64_t rows, int64_t dim, double limit, at::Generator& gen);

// Embeddings from an Image->Text generator: images [B, 3, S, S] in [-1, 1] (resized to 64, as trained).
torch::Tensor predict_embeddings(LoadedImg2Text& model, const torch::Tensor& images, int64_t batch_size);

}  // namespace fergan::eval
