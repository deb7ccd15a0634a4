// fergan_eval's pipeline (see evaluate.h): load, generate, score, compare with baselines, report.
#include "fergan/eval/evaluate.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <limits>
#include <optional>
#include <sstream>
#include <tuple>

#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"
#include "fergan/core/runtime.h"
#include "fergan/data/image_grid.h"
#include "fergan/data/image_io.h"
#include "fergan/data/image_tensor.h"
#include "fergan/eval/checkpoint_models.h"
#include "fergan/eval/clip_features.h"
#include "fergan/eval/emotion_classifier.h"
#include "fergan/eval/report.h"
#include "fergan/eval/split_data.h"

namespace fergan::eval {
namespace stdfs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int64_t kMetricImageSize = 64;  // diversity and classifier inputs: every source resized to this
constexpr int64_t kGridColumns = 8;

json number(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

torch::Tensor resize(const torch::Tensor& images, int64_t size) {
  return data::resize_bilinear(images, size);
}

json retrieval_json(const RetrievalResult& r, const std::vector<std::string>& names) {
  json per_class = json::object();
  for (size_t k = 0; k < names.size() && k < r.per_class_accuracy.size(); ++k) {
    per_class[names[k]] = number(r.per_class_accuracy[k]);
  }
  json confusion = json::array();
  for (int64_t i = 0; i < r.confusion.size(0); ++i) {
    json row = json::array();
    for (int64_t j = 0; j < r.confusion.size(1); ++j) row.push_back(r.confusion[i][j].item<int64_t>());
    confusion.push_back(row);
  }
  return {{"accuracy", r.accuracy},
          {"per_class_accuracy", per_class},
          {"confusion", confusion},
          {"mean_cosine_true_caption", r.mean_cosine_true},
          {"samples", r.num_samples}};
}

json diversity_json(const DiversityResult& d, const std::vector<std::string>& names) {
  json per_class = json::object();
  for (const auto& e : d.per_class) {
    const std::string name =
        e.label < static_cast<int64_t>(names.size()) ? names[e.label] : std::to_string(e.label);
    per_class[name] = {
        {"generated", e.generated}, {"real", e.real}, {"ratio", number(e.ratio)}, {"collapsed", e.collapsed}};
  }
  return {{"mean_ratio", number(d.mean_ratio)},
          {"mode_collapse", d.any_collapsed},
          {"threshold", d.threshold},
          {"between_over_within", number(d.between_over_within)},
          {"per_class", per_class}};
}

json clip_json(const ClipScoreResult& c, const std::vector<std::string>& captions) {
  json per_caption = json::object();
  for (size_t i = 0; i < captions.size() && i < c.per_caption_score.size(); ++i) {
    if (c.per_caption_count[i] == 0) continue;
    per_caption[captions[i]] = {{"score", number(c.per_caption_score[i])},
                                {"cosine", number(c.per_caption_cosine[i])}};
  }
  return {{"score", c.score}, {"mean_cosine", c.mean_cosine}, {"per_caption", per_caption}};
}

// Random directions scaled to the caption table's mean norm: "an embedding the generator has never seen".
torch::Tensor random_embeddings_like(const torch::Tensor& table, int64_t count, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto r = torch::randn({count, table.size(1)}, gen);
  const double mean_norm = table.norm(2, 1).mean().item<double>();
  return r / r.norm(2, 1, true) * mean_norm;
}

// Per emotion: `per_label` caption indices cycling over that emotion's captions.
struct Requests {
  torch::Tensor captions;  // int64 [K * per_label]
  torch::Tensor labels;    // int64 [K * per_label]
};
Requests per_emotion_requests(const SplitData& data, int64_t per_label) {
  std::vector<int64_t> captions, labels;
  auto cl = data.caption_labels.accessor<int64_t, 1>();
  for (int64_t k = 0; k < data.num_classes(); ++k) {
    std::vector<int64_t> of_label;
    for (int64_t c = 0; c < data.caption_labels.numel(); ++c) {
      if (cl[c] == k) of_label.push_back(c);
    }
    if (of_label.empty()) continue;
    for (int64_t i = 0; i < per_label; ++i) {
      captions.push_back(of_label[static_cast<size_t>(i) % of_label.size()]);
      labels.push_back(k);
    }
  }
  return {torch::tensor(captions, torch::kLong), torch::tensor(labels, torch::kLong)};
}

std::vector<std::string> upper_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (auto n : names) {
    for (auto& ch : n) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    out.push_back(n);
  }
  return out;
}

std::string fixed(double v, int digits = 3) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

std::string jnum(const json& j, int digits = 3) {
  return j.is_number() ? fixed(j.get<double>(), digits)
                       : (j.is_boolean() ? (j.get<bool>() ? "YES" : "no") : "-");
}

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

// Labelled grid: rows = emotions, kGridColumns fixed-noise samples each (same noise in every checkpoint).
void write_checkpoint_grid(LoadedText2Img& model, const SplitData& data, const std::string& path,
                           const std::string& title, int64_t batch_size, uint64_t seed) {
  std::vector<int64_t> ids;
  std::vector<std::string> row_labels;
  const auto first = data.first_caption_of_label();
  const auto names = upper_names(data.emotion_names);
  for (size_t k = 0; k < first.size(); ++k) {
    if (first[k] < 0) continue;
    for (int64_t c = 0; c < kGridColumns; ++c) ids.push_back(first[k]);
    row_labels.push_back(names[k]);
  }
  // Each column uses the same noise in every row (rows differ only by caption): generate column-major noise.
  std::vector<torch::Tensor> rows;
  for (size_t r = 0; r < row_labels.size(); ++r) {
    auto emb = data.caption_embeddings.index_select(
        0, torch::tensor(
               std::vector<int64_t>(ids.begin() + r * kGridColumns, ids.begin() + (r + 1) * kGridColumns)));
    rows.push_back(generate_images(model, emb, batch_size, seed));
  }
  data::write_png(path,
                  data::labeled_grid(data::to_uint8_nhwc(torch::cat(rows)), kGridColumns, row_labels, title));
}

}  // namespace

json run_evaluation(const EvalOptions& o) {
  const auto device = runtime::select_device(o.device);
  const auto i2t_path = resolve_generator_checkpoint(o.checkpoint, o.run_dir, "img2text");
  const auto t2i_path = resolve_generator_checkpoint(o.checkpoint, o.run_dir, "text2img");
  FG_CHECK(i2t_path || t2i_path, "no img2text or text2img generator checkpoint found for '", o.checkpoint,
           "'", o.run_dir.empty() ? "" : str(" (run dir '", o.run_dir, "')"));
  fs::ensure_writable_dir(o.out);
  const auto figures = stdfs::path(o.out) / "figures";
  fs::ensure_writable_dir(figures.string());
  std::optional<LoadedImg2Text> i2t;
  std::optional<LoadedText2Img> t2i;
  if (i2t_path) i2t = load_img2text_generator(*i2t_path, device);
  if (t2i_path) t2i = load_text2img_generator(*t2i_path, device);
  const Config& config = t2i ? t2i->config : i2t->config;
  const std::string shards = o.shards.empty() ? config.data.shards : o.shards;
  std::string run_dir = o.run_dir;
  if (run_dir.empty() && stdfs::exists(stdfs::path(config.run_dir) / "metrics.jsonl"))
    run_dir = config.run_dir;

  spdlog::info("evaluating on split '{}' of {}", o.split, shards);
  const SplitData test = load_split(shards, o.split, o.max_samples);
  const auto& names = test.emotion_names;
  const int64_t classes = test.num_classes();

  json result;
  result["checkpoints"] = {{"img2text", i2t ? json(i2t->path) : json(nullptr)},
                           {"text2img", t2i ? json(t2i->path) : json(nullptr)},
                           {"img2text_epoch", i2t ? json(i2t->meta.epoch) : json(nullptr)},
                           {"text2img_epoch", t2i ? json(t2i->meta.epoch) : json(nullptr)}};
  result["shards"] = shards;
  result["split"] = o.split;
  result["samples"] = test.size();
  result["emotions"] = names;
  result["caption_embeddings"] = test.random_embeddings ? "seeded random (not CLIP)" : "CLIP text embeddings";

  std::optional<ClipFeatures> clip;
  if (!o.clip_weights.empty()) {
    FG_CHECK(!o.clip_vocab.empty(), "--clip-weights needs --clip-vocab (bpe_simple_vocab_16e6.txt.gz)");
    clip = load_clip_features(o.clip_weights, o.clip_vocab, device, o.batch_size);
  }

  HtmlReport report("fergan evaluation");
  report.paragraph(str("Split '", o.split, "' of ", shards, " (", test.size(), " images). Checkpoints: ",
                       i2t ? i2t->path : "(no img2text)", "; ", t2i ? t2i->path : "(no text2img)", "."));

  const auto real_64 = test.model_input(kMetricImageSize);

  // ---- Image -> Text ----
  if (i2t) {
    spdlog::info("image->text: retrieval over {} captions", test.caption_strings.size());
    auto predictions = predict_embeddings(*i2t, real_64, o.batch_size);
    auto model = emotion_retrieval(predictions, test.caption_embeddings, test.caption_labels, test.labels,
                                   test.captions, classes);
    auto random =
        emotion_retrieval(random_embeddings_like(test.caption_embeddings, test.size(), o.seed + 1),
                          test.caption_embeddings, test.caption_labels, test.labels, test.captions, classes);
    json j = {{"model", retrieval_json(model, names)}, {"random_embeddings", retrieval_json(random, names)}};
    if (test.image_embeddings.defined() && test.image_embeddings.size(1) == test.caption_embeddings.size(1)) {
      auto zero_shot = emotion_retrieval(test.image_embeddings, test.caption_embeddings, test.caption_labels,
                                         test.labels, test.captions, classes);
      j["clip_image_embeddings"] = retrieval_json(zero_shot, names);
    }
    result["img2text"] = j;

    report.heading("Image -> Text: emotion retrieval");
    std::vector<std::vector<std::string>> rows = {{"emotion", "model", "random embeddings"}};
    for (int64_t k = 0; k < classes; ++k) {
      rows.push_back({names[k], fixed(model.per_class_accuracy[k]), fixed(random.per_class_accuracy[k])});
    }
    rows.push_back({"overall top-1", fixed(model.accuracy), fixed(random.accuracy)});
    rows.push_back(
        {"mean cosine to true caption", fixed(model.mean_cosine_true), fixed(random.mean_cosine_true)});
    report.table(rows);
    report.paragraph("Confusion matrix (rows: true emotion, columns: predicted; shading = row fraction).");
    std::vector<std::vector<std::string>> conf = {{"true \\ predicted"}};
    std::vector<std::vector<double>> shade;
    for (const auto& n : names) conf[0].push_back(n);
    for (int64_t i = 0; i < classes; ++i) {
      std::vector<std::string> row = {names[i]};
      std::vector<double> s = {-1};
      const double total = std::max<int64_t>(1, model.per_class_count[i]);
      for (int64_t k = 0; k < classes; ++k) {
        const int64_t v = model.confusion[i][k].item<int64_t>();
        row.push_back(std::to_string(v));
        s.push_back(v / total);
      }
      conf.push_back(row);
      shade.push_back(s);
    }
    report.table(conf, shade);
  }

  // ---- Text -> Image ----
  if (t2i) {
    const int64_t m = o.samples_per_emotion;
    spdlog::info("text->image: {} samples per emotion at {}x{}", m, t2i->generator->options.image_size,
                 t2i->generator->options.image_size);
    auto requests = per_emotion_requests(test, m);
    auto generated = resize(generate_images(*t2i, test.caption_embeddings.index_select(0, requests.captions),
                                            o.batch_size, o.seed + 2),
                            kMetricImageSize);
    auto random_images =
        resize(generate_images(
                   *t2i, random_embeddings_like(test.caption_embeddings, requests.labels.numel(), o.seed + 3),
                   o.batch_size, o.seed + 4),
               kMetricImageSize);

    // Real images from the training split: a per-emotion reference set R (m per emotion, the same size as the
    // generated set) and, disjoint from it, the classifier's training images.
    spdlog::info("loading real images of split '{}' for the classifier", o.train_split);
    const SplitData train = load_split(shards, o.train_split);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + 5);
    auto perm = torch::randperm(train.size(), gen, torch::kLong);
    std::vector<int64_t> taken(static_cast<size_t>(classes), 0), ref_idx, cls_idx;
    auto tl = train.labels.accessor<int64_t, 1>();
    for (int64_t i = 0; i < perm.numel(); ++i) {
      const int64_t idx = perm[i].item<int64_t>(), k = tl[idx];
      if (k >= 0 && k < classes && taken[k] < m) {
        ++taken[k];
        ref_idx.push_back(idx);
      } else if (static_cast<int64_t>(cls_idx.size()) < o.classifier_train_samples) {
        cls_idx.push_back(idx);
      }
    }
    FG_CHECK(!cls_idx.empty(), "split '", o.train_split, "' has too few images to train the classifier");
    auto train_64 = train.model_input(kMetricImageSize);
    auto ref_t = torch::tensor(ref_idx, torch::kLong), cls_t = torch::tensor(cls_idx, torch::kLong);
    auto reference = train_64.index_select(0, ref_t), reference_labels = train.labels.index_select(0, ref_t);
    auto cls_images = train_64.index_select(0, cls_t), cls_labels = train.labels.index_select(0, cls_t);

    ClassifierOptions co;
    co.num_classes = classes;
    co.epochs = o.classifier_epochs;
    co.seed = o.seed + 6;
    co.device = device;
    spdlog::info("training the emotion classifier on {} real images ({} epochs)", cls_idx.size(), co.epochs);
    auto on_real = train_classifier(cls_images, cls_labels, co);
    const double real_accuracy = classifier_accuracy(on_real, real_64, test.labels, co);
    auto real_features = classifier_features(on_real, real_64, co);

    // The same scores for each image set that claims to show the requested emotions.
    auto score_set = [&](const std::string& name, const torch::Tensor& images, const torch::Tensor& labels,
                         const torch::Tensor& caption_ids) {
      spdlog::info("scoring {}", name);
      json j;
      j["images"] = images.size(0);
      j["diversity"] =
          diversity_json(diversity(images, labels, real_64, test.labels, o.collapse_threshold), names);
      j["cas_train_real_test_this"] = classifier_accuracy(on_real, images, labels, co);
      auto on_this = train_classifier(images, labels, co);
      j["cas_train_this_test_real"] = classifier_accuracy(on_this, real_64, test.labels, co);
      j["frechet_classifier_features"] =
          frechet_distance(classifier_features(on_real, images, co), real_features);
      if (clip) {
        auto text = clip->encode_text(test.caption_strings);
        auto feats = clip->encode_image(images);
        j["clip_score"] = clip_json(clip_score(feats, text, caption_ids), test.caption_strings);
        j["frechet_clip"] = frechet_distance(feats, clip->encode_image(real_64));
      }
      return j;
    };
    // Reference captions: the first caption of each emotion for real images (they carry no request).
    auto first = test.first_caption_of_label();
    auto caption_of_label = [&](const torch::Tensor& labels) {
      std::vector<int64_t> ids;
      for (int64_t i = 0; i < labels.numel(); ++i)
        ids.push_back(first[static_cast<size_t>(labels[i].item<int64_t>())]);
      return torch::tensor(ids, torch::kLong);
    };
    json t = {{"samples_per_emotion", m},
              {"image_size", t2i->generator->options.image_size},
              {"noise_dim", t2i->generator->options.noise_dim},
              {"collapse_threshold", o.collapse_threshold},
              {"classifier",
               {{"train_images", cls_idx.size()}, {"epochs", co.epochs}, {"real_accuracy", real_accuracy}}}};
    t["generated"] = score_set("generated images", generated, requests.labels, requests.captions);
    t["random_embeddings"] =
        score_set("random-embedding images", random_images, requests.labels, requests.captions);
    t["real_images"] =
        score_set("real reference images", reference, reference_labels, caption_of_label(reference_labels));
    result["text2img"] = t;

    // Figures: this checkpoint's samples, the random baseline, and the real reference.
    const auto row_names = upper_names(names);
    auto grid_of = [&](const torch::Tensor& images, const torch::Tensor& labels, const std::string& file,
                       const std::string& title) {
      std::vector<torch::Tensor> rows;
      std::vector<std::string> labels_out;
      for (int64_t k = 0; k < classes; ++k) {
        auto idx = (labels == k).nonzero().squeeze(1).slice(0, 0, kGridColumns);
        if (idx.numel() == 0) continue;
        auto row = images.index_select(0, idx);
        if (idx.numel() < kGridColumns) {  // a small split: pad the row with white tiles rather than drop it
          auto blank =
              torch::ones({kGridColumns - idx.numel(), row.size(1), row.size(2), row.size(3)}, row.options());
          row = torch::cat({row, blank});
        }
        rows.push_back(row);
        labels_out.push_back(row_names[k]);
      }
      if (rows.empty()) return std::string();
      const auto path = (figures / file).string();
      data::write_png(
          path, data::labeled_grid(data::to_uint8_nhwc(torch::cat(rows)), kGridColumns, labels_out, title));
      return path;
    };
    report.heading("Text -> Image");
    std::vector<std::vector<std::string>> rows = {
        {"metric", "generated", "random embeddings", "real images"}};
    auto add = [&](const std::string& label, const std::function<json(const json&)>& get, int digits = 3) {
      rows.push_back({label, jnum(get(t["generated"]), digits), jnum(get(t["random_embeddings"]), digits),
                      jnum(get(t["real_images"]), digits)});
    };
    add("diversity ratio (vs real, mean over emotions)",
        [](const json& s) { return s["diversity"]["mean_ratio"]; });
    add("mode collapse flagged", [](const json& s) { return s["diversity"]["mode_collapse"]; });
    add("between / within emotion distance",
        [](const json& s) { return s["diversity"]["between_over_within"]; });
    add("CAS: train real, test this", [](const json& s) { return s["cas_train_real_test_this"]; });
    add("CAS: train this, test real", [](const json& s) { return s["cas_train_this_test_real"]; });
    add(
        "Frechet distance, classifier features",
        [](const json& s) { return s["frechet_classifier_features"]; }, 2);
    if (clip) {
      add(
          "CLIP score (100 max(cos,0))", [](const json& s) { return s["clip_score"]["score"]; }, 2);
      add(
          "Frechet distance, CLIP features", [](const json& s) { return s["frechet_clip"]; }, 2);
    }
    report.table(rows);
    report.paragraph(str("Classifier accuracy on real ", o.split, " images: ", fixed(real_accuracy),
                         " (chance 1/", classes, " = ", fixed(1.0 / classes),
                         "). Mode collapse is flagged when an ", "emotion's samples are less than ",
                         o.collapse_threshold, " times as far apart as real images of that emotion."));
    for (const auto& [images, labels, file, title] :
         std::vector<std::tuple<torch::Tensor, torch::Tensor, std::string, std::string>>{
             {generated, requests.labels, "generated.png", "GENERATED"},
             {random_images, requests.labels, "random_embeddings.png", "RANDOM EMBEDDINGS"},
             {reference, reference_labels, "real.png", "REAL"}}) {
      const auto path = grid_of(images, labels, file, title);
      if (!path.empty()) report.png_file(path, title);
    }
  }

  // ---- Samples and scores per checkpoint ----
  json per_checkpoint = json::array();
  const std::string ckpt_dir =
      t2i ? stdfs::path(t2i->path).parent_path().string() : stdfs::path(i2t->path).parent_path().string();
  if (t2i) {
    auto sets = checkpoint::list_sets(ckpt_dir, "text2img");
    if (!sets.empty()) report.heading("Samples per checkpoint (same noise in every grid)");
    for (size_t pick :
         spaced_picks(sets.size(), static_cast<size_t>(std::max(0, o.max_report_checkpoints)))) {
      const auto& set = sets[pick];
      auto model = load_text2img_generator(set.generator_path, device);
      const auto path = (figures / ("samples_text2img_" + set.tag + ".png")).string();
      write_checkpoint_grid(model, test, path, "TEXT2IMG " + set.tag, o.batch_size, o.seed + 7);
      report.png_file(path, "text2img " + set.tag);
      per_checkpoint.push_back(
          {{"phase", "text2img"}, {"tag", set.tag}, {"epoch", set.meta.epoch}, {"grid", path}});
    }
  }
  if (i2t) {
    const auto sets = checkpoint::list_sets(ckpt_dir, "img2text");
    Series acc{"top-1 retrieval", {}, {}};
    for (const auto& set : sets) {
      auto model = load_img2text_generator(set.generator_path, device);
      auto r = emotion_retrieval(predict_embeddings(model, real_64, o.batch_size), test.caption_embeddings,
                                 test.caption_labels, test.labels, test.captions, classes);
      acc.x.push_back(static_cast<double>(set.meta.epoch));
      acc.y.push_back(r.accuracy);
      per_checkpoint.push_back({{"phase", "img2text"},
                                {"tag", set.tag},
                                {"epoch", set.meta.epoch},
                                {"retrieval_accuracy", r.accuracy}});
    }
    if (!sets.empty()) {
      Series chance{"chance", {acc.x.front(), acc.x.back()}, {1.0 / classes, 1.0 / classes}};
      report.heading("Image -> Text retrieval accuracy per checkpoint");
      report.raw(line_chart_svg({acc, chance}, "img2text top-1 retrieval on " + o.split, "epoch"));
    }
  }
  result["per_checkpoint"] = per_checkpoint;

  // ---- Round trip: image -> embedding -> image ----
  if (i2t && t2i) {
    const int64_t n = std::min<int64_t>(kGridColumns * 2, test.size());
    auto real = real_64.slice(0, 0, n);
    auto back =
        resize(generate_images(*t2i, predict_embeddings(*i2t, real, o.batch_size), o.batch_size, o.seed + 8),
               kMetricImageSize);
    std::vector<torch::Tensor> rows;
    std::vector<std::string> labels;
    for (int64_t s = 0; s < n; s += kGridColumns) {
      const int64_t e = std::min(n, s + kGridColumns);
      if (e - s < kGridColumns) break;
      rows.push_back(real.slice(0, s, e));
      rows.push_back(back.slice(0, s, e));
      labels.push_back("REAL");
      labels.push_back("ROUND TRIP");
    }
    if (!rows.empty()) {
      const auto path = (figures / "round_trip.png").string();
      data::write_png(path, data::labeled_grid(data::to_uint8_nhwc(torch::cat(rows)), kGridColumns, labels));
      report.heading("Round trip: image -> Img2Text embedding -> Text2Img image");
      report.png_file(path, "round trip");
    }
  }

  // ---- Loss curves ----
  if (!run_dir.empty() && stdfs::exists(stdfs::path(run_dir) / "metrics.jsonl")) {
    const auto log = read_training_log((stdfs::path(run_dir) / "metrics.jsonl").string());
    report.heading("Training curves (" + (stdfs::path(run_dir) / "metrics.jsonl").string() + ")");
    for (const std::string phase : {"img2text", "text2img"}) {
      Series d{"d_loss", {}, {}}, g{"g_loss", {}, {}}, dr{"D(real)", {}, {}}, df{"D(fake)", {}, {}};
      for (const auto& r : log) {
        if (r.phase != phase || r.event != "interval") continue;
        d.x.push_back(r.step), d.y.push_back(r.d_loss), g.x.push_back(r.step), g.y.push_back(r.g_loss);
        dr.x.push_back(r.step), dr.y.push_back(r.d_real), df.x.push_back(r.step), df.y.push_back(r.d_fake);
      }
      if (d.x.empty()) continue;
      report.raw(line_chart_svg({d, g}, phase + " losses", "step"));
      report.raw(line_chart_svg({dr, df}, phase + " discriminator outputs", "step"));
    }
    result["training_log"] = (stdfs::path(run_dir) / "metrics.jsonl").string();
  }

  const std::string table = metrics_table(result);
  report.heading("All metrics (metrics.json)");
  report.raw("<pre>" + html_escape(table) + "</pre>\n");
  fs::write_file_atomically((stdfs::path(o.out) / "metrics.json").string(), result.dump(2) + "\n");
  fs::write_file_atomically((stdfs::path(o.out) / "metrics.txt").string(), table);
  report.write((stdfs::path(o.out) / "report.html").string());
  return result;
}

std::string metrics_table(const json& r) {
  std::ostringstream os;
  os << "split: " << r.value("split", "?") << " (" << r.value("samples", 0) << " images)\n";
  const auto emotions = r.value("emotions", std::vector<std::string>{});
  if (r.contains("img2text")) {
    const auto& j = r["img2text"];
    os << "\nImage -> Text (emotion retrieval, nearest caption by cosine)\n";
    os << std::left << std::setw(14) << "emotion" << std::right << std::setw(10) << "model" << std::setw(10)
       << "random";
    const bool zs = j.contains("clip_image_embeddings");
    if (zs) os << std::setw(12) << "CLIP image";
    os << "\n";
    for (const auto& name : emotions) {
      os << std::left << std::setw(14) << name << std::right << std::setw(10)
         << jnum(j["model"]["per_class_accuracy"][name]) << std::setw(10)
         << jnum(j["random_embeddings"]["per_class_accuracy"][name]);
      if (zs) os << std::setw(12) << jnum(j["clip_image_embeddings"]["per_class_accuracy"][name]);
      os << "\n";
    }
    os << std::left << std::setw(14) << "top-1" << std::right << std::setw(10) << jnum(j["model"]["accuracy"])
       << std::setw(10) << jnum(j["random_embeddings"]["accuracy"]);
    if (zs) os << std::setw(12) << jnum(j["clip_image_embeddings"]["accuracy"]);
    os << "\n"
       << std::left << std::setw(14) << "cos(true cap)" << std::right << std::setw(10)
       << jnum(j["model"]["mean_cosine_true_caption"]) << std::setw(10)
       << jnum(j["random_embeddings"]["mean_cosine_true_caption"]);
    if (zs) os << std::setw(12) << jnum(j["clip_image_embeddings"]["mean_cosine_true_caption"]);
    os << "\n";
  }
  if (r.contains("text2img")) {
    const auto& t = r["text2img"];
    os << "\nText -> Image (" << t.value("samples_per_emotion", 0)
       << " samples per emotion; classifier accuracy on "
       << "real images " << jnum(t["classifier"]["real_accuracy"]) << ")\n";
    os << std::left << std::setw(40) << "metric" << std::right << std::setw(11) << "generated"
       << std::setw(11) << "random emb" << std::setw(11) << "real"
       << "\n";
    auto row = [&](const std::string& label, const std::function<json(const json&)>& get, int digits = 3) {
      os << std::left << std::setw(40) << label << std::right << std::setw(11)
         << jnum(get(t["generated"]), digits) << std::setw(11) << jnum(get(t["random_embeddings"]), digits)
         << std::setw(11) << jnum(get(t["real_images"]), digits) << "\n";
    };
    row("diversity ratio (mean over emotions)", [](const json& s) { return s["diversity"]["mean_ratio"]; });
    row("MODE COLLAPSE", [](const json& s) { return s["diversity"]["mode_collapse"]; });
    row("between/within-emotion distance",
        [](const json& s) { return s["diversity"]["between_over_within"]; });
    row("CAS train real -> test this", [](const json& s) { return s["cas_train_real_test_this"]; });
    row("CAS train this -> test real", [](const json& s) { return s["cas_train_this_test_real"]; });
    row(
        "Frechet dist. (classifier features)", [](const json& s) { return s["frechet_classifier_features"]; },
        2);
    if (t["generated"].contains("clip_score")) {
      row(
          "CLIP score (100*max(cos,0))", [](const json& s) { return s["clip_score"]["score"]; }, 2);
      row("CLIP mean cosine", [](const json& s) { return s["clip_score"]["mean_cosine"]; });
      row(
          "Frechet dist. (CLIP features)", [](const json& s) { return s["frechet_clip"]; }, 2);
    }
  }
  return os.str();
}

}  // namespace fergan::eval
