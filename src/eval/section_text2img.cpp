// fergan_eval, Text -> Image: per-emotion samples scored by diversity, CAS both ways, Fréchet distances and
// CLIP score, each next to the same scores of random-embedding images and of real images.
#include "eval_run.h"

#include <spdlog/spdlog.h>

#include "fergan/data/image_grid.h"
#include "fergan/data/image_tensor.h"
#include "fergan/eval/emotion_classifier.h"
#include "fergan/eval/metric_table.h"
#include "fergan/eval/metrics.h"

namespace fergan::eval {
using nlohmann::json;

namespace {

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

json diversity_json(const DiversityResult& d, const std::vector<std::string>& names) {
  json per_class = json::object();
  for (const auto& e : d.per_class) {
    const std::string name =
        e.label < static_cast<int64_t>(names.size()) ? names[e.label] : std::to_string(e.label);
    per_class[name] = {{"generated", e.generated},
                       {"real", e.real},
                       {"ratio", json_number(e.ratio)},
                       {"collapsed", e.collapsed}};
  }
  return {{"mean_ratio", json_number(d.mean_ratio)},
          {"mode_collapse", d.any_collapsed},
          {"threshold", d.threshold},
          {"between_over_within", json_number(d.between_over_within)},
          {"per_class", per_class}};
}

json clip_json(const ClipScoreResult& c, const std::vector<std::string>& captions) {
  json per_caption = json::object();
  for (size_t i = 0; i < captions.size() && i < c.per_caption_score.size(); ++i) {
    if (c.per_caption_count[i] == 0) continue;
    per_caption[captions[i]] = {{"score", json_number(c.per_caption_score[i])},
                                {"cosine", json_number(c.per_caption_cosine[i])}};
  }
  return {{"score", c.score}, {"mean_cosine", c.mean_cosine}, {"per_caption", per_caption}};
}

// What every image set is held against: the evaluated real images, through a classifier trained on real
// images and (with --clip-weights) through CLIP.
struct Judge {
  ClassifierOptions options;
  EmotionClassifier on_real{nullptr};
  torch::Tensor real_features;  // on_real's features of the evaluated images
  torch::Tensor clip_text;      // CLIP features of the caption table
  torch::Tensor clip_real;      // CLIP features of the evaluated images
};

// The scores of one image set that claims to show `labels` (requested through captions `caption_ids`).
json score_set(const EvalRun& run, Judge& judge, const std::string& name, const torch::Tensor& images,
               const torch::Tensor& labels, const torch::Tensor& caption_ids) {
  spdlog::info("scoring {}", name);
  const auto& real = run.real_images;
  const auto& real_labels = run.test.labels;
  json j;
  j["images"] = images.size(0);
  j["diversity"] = diversity_json(
      diversity(images, labels, real, real_labels, run.options.collapse_threshold), run.test.emotion_names);
  j["cas_train_real_test_this"] = classifier_accuracy(judge.on_real, images, labels, judge.options);
  auto on_this = train_classifier(images, labels, judge.options);
  j["cas_train_this_test_real"] = classifier_accuracy(on_this, real, real_labels, judge.options);
  j["frechet_classifier_features"] =
      frechet_distance(classifier_features(judge.on_real, images, judge.options), judge.real_features);
  if (run.clip) {
    auto features = run.clip->encode_image(images);
    j["clip_score"] = clip_json(clip_score(features, judge.clip_text, caption_ids), run.test.caption_strings);
    j["frechet_clip"] = frechet_distance(features, judge.clip_real);
  }
  return j;
}

// One row per emotion, its first `columns` images (a short row padded with white tiles); empty when no
// emotion has images.
std::string write_set_figure(const EvalRun& run, const torch::Tensor& images, const torch::Tensor& labels,
                             int64_t columns, const std::string& file, const std::string& title) {
  const auto names = upper_names(run.test.emotion_names);
  std::vector<torch::Tensor> rows;
  std::vector<std::string> row_labels;
  for (int64_t k = 0; k < run.test.num_classes(); ++k) {
    auto idx = (labels == k).nonzero().squeeze(1).slice(0, 0, columns);
    if (idx.numel() == 0) continue;
    auto row = data::to_uint8_nhwc(images.index_select(0, idx));
    if (idx.numel() < columns) {
      row = torch::cat(
          {row, torch::full({columns - idx.numel(), row.size(1), row.size(2), 3}, 255, torch::kUInt8)});
    }
    rows.push_back(row);
    row_labels.push_back(names[static_cast<size_t>(k)]);
  }
  if (rows.empty()) return "";
  return write_figure(run, file, data::labeled_grid(torch::cat(rows), columns, row_labels, title));
}

}  // namespace

void text_to_image_scores(EvalRun& run, LoadedText2Img& model, const SplitData& train,
                          const SamplePlan& plan) {
  const EvalOptions& o = run.options;
  const SplitData& test = run.test;
  const int64_t m = plan.per_emotion;
  spdlog::info("text->image: {} samples per emotion at {}x{}", m, model.generator->options.image_size,
               model.generator->options.image_size);
  auto requests = per_emotion_requests(test, m);
  auto generated = metric_images(generate_images(
      model, test.caption_embeddings.index_select(0, requests.captions), o.batch_size, o.seed + 2));
  auto random_images = metric_images(generate_images(
      model, random_embeddings_like(test.caption_embeddings, requests.labels.numel(), o.seed + 3),
      o.batch_size, o.seed + 4));

  // Real images of the training split: the reference set and, disjoint from it, the classifier's images.
  auto ref_t = torch::tensor(plan.reference, torch::kLong),
       cls_t = torch::tensor(plan.classifier, torch::kLong);
  auto reference =
      metric_images(data::to_model_input(train.images_u8.index_select(0, ref_t), kMetricImageSize));
  auto reference_labels = train.labels.index_select(0, ref_t);
  Judge judge;
  judge.options.num_classes = test.num_classes();
  judge.options.epochs = o.classifier_epochs;
  judge.options.seed = o.seed + 6;
  judge.options.device = run.device;
  spdlog::info("training the emotion classifier on {} real images of split '{}' ({} epochs)",
               plan.classifier.size(), o.train_split, judge.options.epochs);
  judge.on_real =
      train_classifier(data::to_model_input(train.images_u8.index_select(0, cls_t), kMetricImageSize),
                       train.labels.index_select(0, cls_t), judge.options);
  const double real_accuracy =
      classifier_accuracy(judge.on_real, run.real_images, test.labels, judge.options);
  judge.real_features = classifier_features(judge.on_real, run.real_images, judge.options);
  if (run.clip) {
    judge.clip_text = run.clip->encode_text(test.caption_strings);
    judge.clip_real = run.clip->encode_image(run.real_images);
  }

  // Real images carry no request: they count as asking for the first caption of their emotion.
  const auto first = test.first_caption_of_label();
  std::vector<int64_t> reference_captions;
  for (int64_t i = 0; i < reference_labels.numel(); ++i)
    reference_captions.push_back(first[static_cast<size_t>(reference_labels[i].item<int64_t>())]);
  json t = {{"samples_per_emotion", m},
            {"image_size", model.generator->options.image_size},
            {"noise_dim", model.generator->options.noise_dim},
            {"collapse_threshold", o.collapse_threshold},
            {"classifier",
             {{"train_images", plan.classifier.size()},
              {"epochs", judge.options.epochs},
              {"real_accuracy", real_accuracy}}}};
  t["generated"] = score_set(run, judge, "generated images", generated, requests.labels, requests.captions);
  t["random_embeddings"] =
      score_set(run, judge, "random-embedding images", random_images, requests.labels, requests.captions);
  t["real_images"] = score_set(run, judge, "real reference images", reference, reference_labels,
                               torch::tensor(reference_captions, torch::kLong));
  run.result["text2img"] = t;

  run.report.heading("Text -> Image");
  add_to_report(run.report, text2img_table(run.result));
  for (const auto& [images, labels, file, title] :
       std::vector<std::tuple<torch::Tensor, torch::Tensor, std::string, std::string>>{
           {generated, requests.labels, "generated.png", "GENERATED"},
           {random_images, requests.labels, "random_embeddings.png", "RANDOM EMBEDDINGS"},
           {reference, reference_labels, "real.png", "REAL"}}) {
    const auto path = write_set_figure(run, images, labels, plan.grid_columns, file, title);
    if (!path.empty()) run.report.png_file(path, title);
  }
}

}  // namespace fergan::eval
