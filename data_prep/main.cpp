// data_prep: FER2013 (CSV or image folders) -> HDF5 shards + manifest.json; `data_prep synth` draws a
// synthetic FER-format dataset. The logic lives in fg_data (src/data/prep*.cpp); this entry point only
// plugs the C++ CLIP (fg_clip) in for --clip-weights / --clip-vocab, so fg_data does not depend on it.
#include "fergan/clip/encoders.h"
#include "fergan/clip/tokenizer.h"
#include "fergan/clip/weights.h"
#include "fergan/core/logging.h"
#include "fergan/data/prep.h"

namespace {

fergan::data::PrepHooks clip_hooks(const std::string& weights, const std::string& vocab) {
  const torch::Device device =
      torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  fergan::clip::ClipModel model = fergan::clip::load_clip(weights, device);
  fergan::data::PrepHooks hooks;
  hooks.caption_encoder = fergan::clip::caption_encoder_for(model, fergan::clip::Tokenizer::from_file(vocab),
                                                            /*normalize=*/false);
  hooks.image_encoder = fergan::clip::image_encoder_for(model, /*normalize=*/false);
  hooks.clip_model_id = model->model_id();
  return hooks;
}

}  // namespace

int main(int argc, char** argv) {
  fergan::logging::init();
  return fergan::logging::run_main([&] { return fergan::data::data_prep_main(argc, argv, clip_hooks); });
}
