// fergan_eval's pipeline: score a checkpoint on a shard split and write metrics.json, metrics.txt and a
// self-contained report.html.
//
// Image->Text: emotion retrieval of the generator's embeddings against the caption table, next to two
// baselines (random embeddings: chance; the images' own CLIP image embeddings when the shards hold them).
// Text->Image: per-emotion samples scored by diversity (mode-collapse flag), CAS both ways with a classifier
// trained here, Fréchet distance on that classifier's features, and with CLIP weights CLIP score and Fréchet
// distance on CLIP image features; each next to the same numbers for random embeddings fed to the generator
// and for real images of the split.
//
// Sizes a small run cannot supply (samples per emotion, classifier images, the real reference set, figure
// columns) shrink to what its data holds, with a printed note and an entry in metrics.json's "adjustments"
// (sample_plan.h), so the defaults work on any run, the README demo's included.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "fergan/eval/metric_table.h"  // metrics_table(): the text fergan_eval prints
#include "fergan/eval/metrics.h"

namespace fergan::eval {

struct EvalOptions {
  std::string checkpoint = "latest";  // generator .pth, checkpoint directory, or "latest" (needs run_dir)
  std::string run_dir;                // for "latest" and the training log (metrics.jsonl)
  std::string shards;                 // default: data.shards of the checkpoint's config
  std::string split = "test";         // evaluated split
  std::string train_split = "train";  // real images the CAS classifier learns from
  std::string out = "eval";           // output directory
  std::string device = "auto";
  std::string weights = "average";  // average (the generator's weight average when saved) | trained
  double truncation = 0;            // text2img noise truncated to [-t, t] (checkpoint_models.h); 0 = none
  int64_t batch_size = 64;
  int64_t max_samples = 0;            // 0 = the whole evaluated split
  int64_t samples_per_emotion = 100;  // generated images per emotion (at most: see sample_plan.h)
  int64_t classifier_train_samples =
      6000;  // real training images for the classifier (seeded subset; at most)
  int classifier_epochs = 6;
  double collapse_threshold = kDefaultCollapseThreshold;
  uint64_t seed = 0;
  int max_report_checkpoints = 6;  // sample grids for at most this many text2img checkpoints (evenly spaced)
  std::string clip_weights, clip_vocab;
};

// Runs everything, writes the outputs into options.out and returns the metrics JSON.
nlohmann::json run_evaluation(const EvalOptions& options);

}  // namespace fergan::eval
