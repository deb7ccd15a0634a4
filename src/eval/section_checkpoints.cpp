// fergan_eval, samples per checkpoint: how the Text2Img samples and the Img2Text retrieval evolved over
// training.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "eval_run.h"
#include "fergan/data/image_grid.h"
#include "fergan/data/image_tensor.h"
#include "fergan/eval/metrics.h"

namespace fergan::eval {
using nlohmann::json;

namespace {

// Evenly spaced picks (always including the last) from `count` items.
std::vector<size_t> spaced_picks(size_t count, size_t max_picks) {
  std::vector<size_t> picks;
  if (count == 0 || max_picks == 0) return picks;
  if (count <= max_picks) {
    for (size_t i = 0; i < count; ++i) picks.push_back(i);
    return picks;
  }
  for (size_t p = 0; p < max_picks; ++p) picks.push_back((count - 1) * (p + 1) / max_picks);
  return picks;
}

// One row per emotion (its first caption), kGridColumns samples each; every row and every checkpoint uses the
// same noise, so a column shows one latent point across emotions and across training.
torch::Tensor checkpoint_grid(LoadedText2Img& model, const SplitData& data, const std::string& title,
                              int64_t batch_size, uint64_t seed) {
  const auto first = data.first_caption_of_label();
  const auto names = upper_names(data.emotion_names);
  std::vector<torch::Tensor> rows;
  std::vector<std::string> row_labels;
  for (size_t k = 0; k < first.size(); ++k) {
    if (first[k] < 0) continue;
    auto embeddings = data.caption_embeddings.index_select(
        0, torch::full({kGridColumns}, first[k], torch::TensorOptions().dtype(torch::kLong)));
    rows.push_back(data::to_uint8_nhwc(generate_images(model, embeddings, batch_size, seed)));
    row_labels.push_back(names[k]);
  }
  return data::labeled_grid(torch::cat(rows), kGridColumns, row_labels, title);
}

}  // namespace

void samples_per_checkpoint(EvalRun& run, const LoadedImg2Text* i2t, const LoadedText2Img* t2i) {
  const EvalOptions& o = run.options;
  const SplitData& test = run.test;
  json per_checkpoint = json::array();
  const std::string dir = std::filesystem::path(t2i ? t2i->path : i2t->path).parent_path().string();
  if (t2i) {
    const auto sets = checkpoint::list_sets(dir, "text2img");
    if (!sets.empty()) run.report.heading("Samples per checkpoint (same noise in every grid)");
    for (size_t pick :
         spaced_picks(sets.size(), static_cast<size_t>(std::max(0, o.max_report_checkpoints)))) {
      const auto& set = sets[pick];
      auto model = load_text2img_generator(set.generator_path, run.device, run.options.weights == "average",
                                           run.options.truncation);
      const auto path =
          write_figure(run, "samples_text2img_" + set.tag + ".png",
                       checkpoint_grid(model, test, "TEXT2IMG " + set.tag, o.batch_size, o.seed + 7));
      run.report.png_file(path, "text2img " + set.tag);
      per_checkpoint.push_back(
          {{"phase", "text2img"}, {"tag", set.tag}, {"epoch", set.meta.epoch}, {"grid", path}});
    }
  }
  if (i2t) {
    const auto sets = checkpoint::list_sets(dir, "img2text");
    Series accuracy{"top-1 retrieval", {}, {}};
    for (const auto& set : sets) {
      auto model = load_img2text_generator(set.generator_path, run.device, run.options.weights == "average");
      auto r =
          emotion_retrieval(predict_embeddings(model, run.real_images, o.batch_size), test.caption_embeddings,
                            test.caption_labels, test.labels, test.captions, test.num_classes());
      accuracy.x.push_back(static_cast<double>(set.meta.epoch));
      accuracy.y.push_back(r.accuracy);
      per_checkpoint.push_back({{"phase", "img2text"},
                                {"tag", set.tag},
                                {"epoch", set.meta.epoch},
                                {"retrieval_accuracy", r.accuracy}});
    }
    if (!sets.empty()) {
      const double chance = 1.0 / static_cast<double>(test.num_classes());
      Series chance_line{"chance", {accuracy.x.front(), accuracy.x.back()}, {chance, chance}};
      run.report.heading("Image -> Text retrieval accuracy per checkpoint");
      run.report.raw(
          line_chart_svg({accuracy, chance_line}, "img2text top-1 retrieval on " + o.split, "epoch"));
    }
  }
  run.result["per_checkpoint"] = per_checkpoint;
}

}  // namespace fergan::eval
