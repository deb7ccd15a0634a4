// fergan_infer's three modes, each writing files a person can open:
//   text2img  - N samples per caption (with per_image also each sample as its own PNG, at the generator's
//               resolution and channels, under OUT/<emotion>/ named like FER2013's folders); captions
//               embedded with CLIP when weights are given, otherwise taken from the shards' caption table
//               (--caption must then be one of its strings, or --emotion NAME); writes samples.png (one
//               labelled row per caption) and one labelled grid per caption.
//   img2text  - for a folder of images or a shard split: the predicted emotion (nearest caption embedding by
//               cosine) with the similarity to every emotion, as predictions.csv and predictions.json.
//   roundtrip - image -> Img2Text embedding -> Text2Img image, side by side (round_trip.png).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fergan::eval {

struct InferOptions {
  std::string checkpoint = "latest";  // generator .pth, checkpoint directory, or "latest" (needs run_dir)
  std::string run_dir;
  std::string shards;          // default: data.shards of the checkpoint's config
  std::string split = "test";  // img2text / roundtrip source when no images_dir
  std::string images_dir;  // img2text / roundtrip: a folder of images (emotion-named subfolders give labels)
  std::string out = "infer";
  std::string device = "auto";
  std::string weights = "average";  // average (the generator's weight average when saved) | trained
  double truncation = 0;            // text2img noise truncated to [-t, t] (checkpoint_models.h); 0 = none
  int64_t batch_size = 64;
  int64_t samples = 8;      // text2img: samples per caption; roundtrip: images
  int64_t max_samples = 0;  // img2text from a split: N evenly spaced samples (0 = all)
  uint64_t seed = 0;
  std::vector<std::string> captions;  // text2img
  std::vector<std::string> emotions;  // text2img: emotion names (first caption of each)
  bool per_image = false;             // text2img: also every sample as OUT/<emotion>/NNNNN.png at native size
  std::string clip_weights, clip_vocab;
};

void run_text2img(const InferOptions& options);
void run_img2text(const InferOptions& options);
void run_roundtrip(const InferOptions& options);

}  // namespace fergan::eval
