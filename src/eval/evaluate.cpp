// fergan_eval's pipeline (see evaluate.h): load the generators and the evaluated split, fit the sample sizes
// to the data, run the sections (eval_run.h) and write metrics.json, metrics.txt and report.html.
#include "fergan/eval/evaluate.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <optional>

#include "eval_run.h"
#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"
#include "fergan/core/runtime.h"
#include "fergan/data/image_io.h"
#include "fergan/data/image_tensor.h"

namespace fergan::eval {
namespace stdfs = std::filesystem;
using nlohmann::json;

torch::Tensor metric_images(const torch::Tensor& images) {
  return data::with_channels(data::resize_bilinear(images, kMetricImageSize), 3);
}

json json_number(double value) {
  return std::isfinite(value) ? json(value) : json(nullptr);
}

torch::Tensor random_embeddings_like(const torch::Tensor& caption_table, int64_t count, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto r = torch::randn({count, caption_table.size(1)}, gen);
  const double mean_norm = caption_table.norm(2, 1).mean().item<double>();
  return r / r.norm(2, 1, true) * mean_norm;
}

std::vector<std::string> upper_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (auto n : names) {
    for (auto& ch : n) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    out.push_back(n);
  }
  return out;
}

std::string write_figure(const EvalRun& run, const std::string& file, const torch::Tensor& canvas) {
  const auto path = (stdfs::path(run.figures) / file).string();
  data::write_png(path, canvas);
  return path;
}

namespace {

struct Generators {
  std::optional<LoadedImg2Text> i2t;
  std::optional<LoadedText2Img> t2i;
  const Config& config() const { return t2i ? t2i->config : i2t->config; }
};

// The generators `--checkpoint` designates; error when neither GAN has one.
Generators load_generators(const EvalOptions& o, torch::Device device) {
  const auto i2t_path = resolve_generator_checkpoint(o.checkpoint, o.run_dir, "img2text");
  const auto t2i_path = resolve_generator_checkpoint(o.checkpoint, o.run_dir, "text2img");
  FG_CHECK(i2t_path || t2i_path, "no img2text or text2img generator checkpoint found for '", o.checkpoint,
           "'", o.run_dir.empty() ? "" : str(" (run dir '", o.run_dir, "')"));
  Generators g;
  if (i2t_path) g.i2t = load_img2text_generator(*i2t_path, device, o.weights == "average");
  if (t2i_path) g.t2i = load_text2img_generator(*t2i_path, device, o.weights == "average", o.truncation);
  return g;
}

// The Text -> Image sample sizes fitted to the training split; each change printed and recorded.
SamplePlan fit_sizes(const EvalOptions& o, const SplitData& train, json& result) {
  auto plan = plan_samples(train.labels, train.emotion_names, o.train_split, o.samples_per_emotion,
                           o.classifier_train_samples, kGridColumns, o.seed + 5);
  for (const auto& note : plan.notes) {
    spdlog::info("note: {}", describe(note));
    result["adjustments"].push_back({{"setting", note.setting},
                                     {"requested", note.requested},
                                     {"used", note.used},
                                     {"reason", note.reason}});
  }
  return plan;
}

}  // namespace

json run_evaluation(const EvalOptions& o) {
  const auto device = runtime::select_device(o.device);
  Generators g = load_generators(o, device);
  fs::ensure_writable_dir(o.out);
  const auto figures = stdfs::path(o.out) / "figures";
  fs::ensure_writable_dir(figures.string());
  const Config& config = g.config();
  const std::string shards = o.shards.empty() ? config.data.shards : o.shards;
  std::string run_dir = o.run_dir;
  if (run_dir.empty() && stdfs::exists(stdfs::path(config.run_dir) / "metrics.jsonl"))
    run_dir = config.run_dir;

  spdlog::info("evaluating on split '{}' of {}", o.split, shards);
  const SplitData test = load_split(shards, o.split, o.max_samples);
  json result;
  result["checkpoints"] = {
      {"img2text", g.i2t ? json(g.i2t->path) : json(nullptr)},
      {"text2img", g.t2i ? json(g.t2i->path) : json(nullptr)},
      {"img2text_epoch", g.i2t ? json(g.i2t->meta.epoch) : json(nullptr)},
      {"text2img_epoch", g.t2i ? json(g.t2i->meta.epoch) : json(nullptr)},
      {"img2text_weights", g.i2t ? json(g.i2t->weight_average ? "average" : "trained") : json(nullptr)},
      {"text2img_weights", g.t2i ? json(g.t2i->weight_average ? "average" : "trained") : json(nullptr)},
      {"text2img_truncation", g.t2i ? json(g.t2i->truncation) : json(nullptr)}};
  result["shards"] = shards;
  result["split"] = o.split;
  result["samples"] = test.size();
  result["emotions"] = test.emotion_names;
  result["caption_embeddings"] = test.random_embeddings ? "seeded random (not CLIP)" : "CLIP text embeddings";
  result["adjustments"] = json::array();

  std::optional<ClipFeatures> clip;
  if (!o.clip_weights.empty()) {
    FG_CHECK(!o.clip_vocab.empty(), "--clip-weights needs --clip-vocab (bpe_simple_vocab_16e6.txt.gz)");
    clip = load_clip_features(o.clip_weights, o.clip_vocab, device, o.batch_size);
  }
  // The Text -> Image scores compare with real images of the training split (reference set, classifier).
  std::optional<SplitData> train;
  SamplePlan plan;
  if (g.t2i) {
    spdlog::info("loading real images of split '{}' for the reference set and the classifier", o.train_split);
    train = load_split(shards, o.train_split);
    plan = fit_sizes(o, *train, result);
  }

  HtmlReport report("fergan evaluation");
  report.paragraph(str("Split '", o.split, "' of ", shards, " (", test.size(),
                       " images). Checkpoints: ", g.i2t ? g.i2t->path : "(no img2text)", "; ",
                       g.t2i ? g.t2i->path : "(no text2img)", "."));
  add_to_report(report, adjustments_table(result));
  EvalRun run{o,
              device,
              test,
              metric_images(test.model_input(kMetricImageSize)),
              clip ? &*clip : nullptr,
              figures.string(),
              report,
              result};
  if (g.i2t) image_to_text_retrieval(run, *g.i2t);
  if (g.t2i) text_to_image_scores(run, *g.t2i, *train, plan);
  samples_per_checkpoint(run, g.i2t ? &*g.i2t : nullptr, g.t2i ? &*g.t2i : nullptr);
  if (g.i2t && g.t2i) round_trip(run, *g.i2t, *g.t2i);
  training_curves(run, run_dir);

  fs::write_file_atomically((stdfs::path(o.out) / "metrics.json").string(), result.dump(2) + "\n");
  fs::write_file_atomically((stdfs::path(o.out) / "metrics.txt").string(), metrics_table(result));
  report.write((stdfs::path(o.out) / "report.html").string());
  return result;
}

}  // namespace fergan::eval
