// fergan_eval, Image -> Text: emotion retrieval against the caption table, with its chance baselines.
#include "eval_run.h"

#include <spdlog/spdlog.h>

#include "fergan/eval/metric_table.h"
#include "fergan/eval/metrics.h"

namespace fergan::eval {
using nlohmann::json;

namespace {

json retrieval_json(const RetrievalResult& r, const std::vector<std::string>& names) {
  json per_class = json::object();
  for (size_t k = 0; k < names.size() && k < r.per_class_accuracy.size(); ++k) {
    per_class[names[k]] = json_number(r.per_class_accuracy[k]);
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

}  // namespace

void image_to_text_retrieval(EvalRun& run, LoadedImg2Text& model) {
  const SplitData& test = run.test;
  const auto& names = test.emotion_names;
  auto retrieve = [&](const torch::Tensor& embeddings) {
    return retrieval_json(emotion_retrieval(embeddings, test.caption_embeddings, test.caption_labels,
                                            test.labels, test.captions, test.num_classes()),
                          names);
  };
  spdlog::info("image->text: retrieval over {} captions", test.caption_strings.size());
  json j = {{"model", retrieve(predict_embeddings(model, run.real_images, run.options.batch_size))},
            {"random_embeddings",
             retrieve(random_embeddings_like(test.caption_embeddings, test.size(), run.options.seed + 1))}};
  if (test.image_embeddings.defined() && test.image_embeddings.size(1) == test.caption_embeddings.size(1)) {
    j["clip_image_embeddings"] = retrieve(test.image_embeddings);
  }
  run.result["img2text"] = j;

  run.report.heading("Image -> Text: emotion retrieval");
  add_to_report(run.report, retrieval_table(run.result));
  add_to_report(run.report, confusion_table(run.result));
}

}  // namespace fergan::eval
