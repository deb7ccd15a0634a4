// Fitting fergan_eval's sample sizes to the training split (see sample_plan.h).
#include "fergan/eval/sample_plan.h"

#include <algorithm>
#include <limits>

#include "fergan/core/check.h"

namespace fergan::eval {

SamplePlan plan_samples(const torch::Tensor& labels, const std::vector<std::string>& emotion_names,
                        const std::string& split, int64_t samples_per_emotion,
                        int64_t classifier_train_samples, int64_t grid_columns, uint64_t seed) {
  const int64_t classes = static_cast<int64_t>(emotion_names.size());
  FG_CHECK(labels.dim() == 1 && labels.numel() > 0, "split '", split, "' holds no images");
  auto label_of = labels.to(torch::kCPU, torch::kLong).contiguous();
  const auto* l = label_of.data_ptr<int64_t>();
  std::vector<int64_t> count(static_cast<size_t>(classes), 0);
  for (int64_t i = 0; i < label_of.numel(); ++i) {
    if (l[i] >= 0 && l[i] < classes) ++count[static_cast<size_t>(l[i])];
  }

  SamplePlan plan;
  int64_t fit = std::numeric_limits<int64_t>::max(), smallest = -1;
  std::string missing;
  for (int64_t k = 0; k < classes; ++k) {
    const int64_t n = count[static_cast<size_t>(k)];
    if (n == 0) {
      missing += (missing.empty() ? "" : ", ") + emotion_names[static_cast<size_t>(k)];
      continue;
    }
    FG_CHECK(
        n >= 4, "split '", split, "' has ", n, " image(s) of emotion '",
        emotion_names[static_cast<size_t>(k)],
        "': the Text -> Image scores need at least 4 per emotion (2 real reference images, 2 to train the "
        "classifier); evaluate a run on more data or pass --train-split");
    if (n / 2 < fit) fit = n / 2, smallest = k;
  }
  FG_CHECK(smallest >= 0, "split '", split, "' holds no image of any of the ", classes, " emotions");
  if (!missing.empty()) {
    const int64_t present = classes - static_cast<int64_t>(std::count(count.begin(), count.end(), 0));
    plan.notes.push_back({"reference_emotions", classes, present,
                          str("split '", split, "' has no images of ", missing,
                              ": no real reference images (and no row in real.png) for them")});
  }
  plan.per_emotion = std::min(samples_per_emotion, fit);
  if (plan.per_emotion < samples_per_emotion) {
    plan.notes.push_back(
        {"samples_per_emotion", samples_per_emotion, plan.per_emotion,
         str("split '", split, "' has ", count[static_cast<size_t>(smallest)], " images of '",
             emotion_names[static_cast<size_t>(smallest)], "', its smallest emotion: at most half of each ",
             "emotion's images form the real reference set, the rest train the classifier; the generated "
             "set ",
             "matches the reference set's size")});
  }

  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto perm = torch::randperm(label_of.numel(), gen, torch::kLong);
  const auto* order = perm.data_ptr<int64_t>();
  std::vector<int64_t> taken(static_cast<size_t>(classes), 0);
  for (int64_t i = 0; i < perm.numel(); ++i) {
    const int64_t idx = order[i], k = l[idx];
    if (k >= 0 && k < classes && taken[static_cast<size_t>(k)] < plan.per_emotion) {
      ++taken[static_cast<size_t>(k)];
      plan.reference.push_back(idx);
    } else if (static_cast<int64_t>(plan.classifier.size()) < classifier_train_samples) {
      plan.classifier.push_back(idx);
    }
  }
  const int64_t used = static_cast<int64_t>(plan.classifier.size());
  if (used < classifier_train_samples) {
    plan.notes.push_back({"classifier_train_samples", classifier_train_samples, used,
                          str("split '", split, "' has ", label_of.numel(), " images and ",
                              plan.reference.size(), " of them form the real reference set")});
  }
  plan.grid_columns = std::min(grid_columns, plan.per_emotion);
  if (plan.grid_columns < grid_columns) {
    plan.notes.push_back({"grid_columns", grid_columns, plan.grid_columns,
                          str("the sample figures show all ", plan.per_emotion, " images of each emotion")});
  }
  return plan;
}

std::string describe(const SizeNote& note) {
  return str(note.setting, " ", note.requested, " -> ", note.used, ": ", note.reason);
}

}  // namespace fergan::eval
