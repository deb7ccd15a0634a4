// The sections of fergan_eval's pipeline and what they share. run_evaluation (evaluate.cpp) loads the
// generators and the evaluated split, then runs each section in turn; a section computes its metrics into the
// metrics JSON, adds its part to the HTML report and writes its figures. Private to fg_eval.
#pragma once

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "fergan/eval/checkpoint_models.h"
#include "fergan/eval/clip_features.h"
#include "fergan/eval/evaluate.h"
#include "fergan/eval/report.h"
#include "fergan/eval/sample_plan.h"
#include "fergan/eval/split_data.h"

namespace fergan::eval {

// Every image set a metric compares (generated, real, random-embedding) is brought to this size and 3
// channels first, so generators of any output size and channel count are scored alike.
constexpr int64_t kMetricImageSize = 64;
// Images per row of the sample figures (fewer when a small run has fewer per emotion: SamplePlan).
constexpr int64_t kGridColumns = 8;

struct EvalRun {
  const EvalOptions& options;
  torch::Device device;
  const SplitData& test;      // the evaluated split
  torch::Tensor real_images;  // its images as metric_images(): float [N, 3, 64, 64] in [-1, 1]
  const ClipFeatures* clip;   // null without --clip-weights
  std::string figures;        // folder of the PNG figures
  HtmlReport& report;
  nlohmann::json& result;  // the metrics JSON being filled
};

// float [B, 1|3, H, W] -> float [B, 3, kMetricImageSize, kMetricImageSize].
torch::Tensor metric_images(const torch::Tensor& images);
// A number for the metrics JSON: non-finite values (an emotion without samples) become null.
nlohmann::json json_number(double value);
// `count` random directions scaled to the mean norm of the caption table's rows: "an embedding the generator
// has never seen", the chance baseline of both GANs.
torch::Tensor random_embeddings_like(const torch::Tensor& caption_table, int64_t count, uint64_t seed);
// Emotion names as grid row labels.
std::vector<std::string> upper_names(const std::vector<std::string>& names);
// Writes a uint8 [H, W, 3] figure as figures/<file>; returns its path.
std::string write_figure(const EvalRun& run, const std::string& file, const torch::Tensor& canvas);

// ---- The sections, in report order ----

// result["img2text"]: emotion retrieval of the generator's embeddings of the evaluated images, next to random
// embeddings and the shards' CLIP image embeddings.
void image_to_text_retrieval(EvalRun& run, LoadedImg2Text& model);

// result["text2img"]: samples_per_emotion images per emotion scored by diversity, CAS both ways and Fréchet
// distances (and CLIP score), next to random-embedding images and the real reference set of `train` (plan).
void text_to_image_scores(EvalRun& run, LoadedText2Img& model, const SplitData& train,
                          const SamplePlan& plan);

// result["per_checkpoint"]: a fixed-noise sample grid for up to max_report_checkpoints text2img checkpoints
// and the retrieval accuracy of every img2text checkpoint (with a chart). Either model may be null.
void samples_per_checkpoint(EvalRun& run, const LoadedImg2Text* i2t, const LoadedText2Img* t2i);

// figures/round_trip.png: the first evaluated images beside Text2Img(Img2Text(image)).
void round_trip(EvalRun& run, LoadedImg2Text& i2t, LoadedText2Img& t2i);

// result["training_log"]: loss and discriminator-output curves from <run_dir>/metrics.jsonl, when present.
void training_curves(EvalRun& run, const std::string& run_dir);

}  // namespace fergan::eval
