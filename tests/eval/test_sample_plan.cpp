// fergan_eval's sample sizes: unchanged (and the same selection walk) when the data is large enough, fitted
// with a note per change when it is not (the README demo's 60 faces per emotion), an error only when an
// emotion cannot supply two images to each side.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "fergan/core/check.h"
#include "fergan/eval/sample_plan.h"

namespace fergan::eval {
namespace {

const std::vector<std::string> kNames = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};

// Labels of a split with counts[k] images of emotion k, interleaved as a shard would hold them.
torch::Tensor split_labels(const std::vector<int64_t>& counts) {
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < *std::max_element(counts.begin(), counts.end()); ++i) {
    for (size_t k = 0; k < counts.size(); ++k) {
      if (i < counts[k]) labels.push_back(static_cast<int64_t>(k));
    }
  }
  return torch::tensor(labels, torch::kLong);
}

std::map<int64_t, int64_t> per_label(const torch::Tensor& labels, const std::vector<int64_t>& indices) {
  std::map<int64_t, int64_t> count;
  for (auto i : indices) ++count[labels[i].item<int64_t>()];
  return count;
}

const SizeNote* find_note(const SamplePlan& plan, const std::string& setting) {
  for (const auto& n : plan.notes) {
    if (n.setting == setting) return &n;
  }
  return nullptr;
}

TEST(SamplePlan, LargeSplitKeepsTheRequestAndTheSeededSelection) {
  auto labels = split_labels({500, 300, 500, 900, 600, 400, 700});
  auto plan = plan_samples(labels, kNames, "train", 100, 1000, 8, 5);
  EXPECT_TRUE(plan.notes.empty());
  EXPECT_EQ(plan.per_emotion, 100);
  EXPECT_EQ(plan.grid_columns, 8);
  ASSERT_EQ(plan.classifier.size(), 1000u);
  for (const auto& [label, n] : per_label(labels, plan.reference)) EXPECT_EQ(n, 100) << label;
  // The walk over the seeded permutation: each emotion's first 100 images form the reference set, the next
  // images (any emotion) the classifier's set, both in permutation order.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto perm = torch::randperm(labels.numel(), gen, torch::kLong);
  std::vector<int64_t> taken(7, 0), reference, classifier;
  for (int64_t i = 0; i < perm.numel(); ++i) {
    const int64_t idx = perm[i].item<int64_t>(), k = labels[idx].item<int64_t>();
    if (taken[k] < 100) {
      ++taken[k];
      reference.push_back(idx);
    } else if (classifier.size() < 1000) {
      classifier.push_back(idx);
    }
  }
  EXPECT_EQ(plan.reference, reference);
  EXPECT_EQ(plan.classifier, classifier);
}

TEST(SamplePlan, DemoSizedSplitShrinksWithNotes) {
  // The README demo: 60 synthetic faces per emotion in split 'train', fergan_eval's defaults.
  auto labels = split_labels(std::vector<int64_t>(7, 60));
  auto plan = plan_samples(labels, kNames, "train", 100, 6000, 8, 5);
  EXPECT_EQ(plan.per_emotion, 30);
  EXPECT_EQ(plan.reference.size(), 7u * 30);
  EXPECT_EQ(plan.classifier.size(), 7u * 30);
  EXPECT_EQ(plan.grid_columns, 8);
  for (const auto& [label, n] : per_label(labels, plan.reference)) EXPECT_EQ(n, 30) << label;
  std::set<int64_t> reference(plan.reference.begin(), plan.reference.end());
  for (auto i : plan.classifier) EXPECT_EQ(reference.count(i), 0u) << "image " << i << " on both sides";
  ASSERT_EQ(plan.notes.size(), 2u);
  const auto* spe = find_note(plan, "samples_per_emotion");
  ASSERT_NE(spe, nullptr);
  EXPECT_EQ(spe->requested, 100);
  EXPECT_EQ(spe->used, 30);
  EXPECT_NE(spe->reason.find("split 'train' has 60 images"), std::string::npos) << spe->reason;
  const auto* cls = find_note(plan, "classifier_train_samples");
  ASSERT_NE(cls, nullptr);
  EXPECT_EQ(cls->used, 210);
  EXPECT_EQ(describe(*spe).rfind("samples_per_emotion 100 -> 30: ", 0), 0u) << describe(*spe);
}

TEST(SamplePlan, SmallestEmotionSetsTheSizeAndTheFigureColumns) {
  auto labels = split_labels({12, 9, 12, 12, 12, 12, 12});
  auto plan = plan_samples(labels, kNames, "train", 100, 6000, 8, 1);
  EXPECT_EQ(plan.per_emotion, 4);  // disgust: 9 images, 4 for the reference set
  EXPECT_EQ(plan.grid_columns, 4);
  EXPECT_NE(find_note(plan, "samples_per_emotion")->reason.find("'disgust'"), std::string::npos);
  EXPECT_EQ(find_note(plan, "grid_columns")->used, 4);
  EXPECT_EQ(plan.reference.size() + plan.classifier.size(), static_cast<size_t>(labels.numel()));
}

TEST(SamplePlan, MissingEmotionIsANoteTooFewImagesAnError) {
  auto labels = split_labels({10, 0, 10, 10, 10, 10, 10});
  auto plan = plan_samples(labels, kNames, "train", 100, 6000, 8, 1);
  const auto* missing = find_note(plan, "reference_emotions");
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->used, 6);
  EXPECT_NE(missing->reason.find("disgust"), std::string::npos);
  EXPECT_EQ(per_label(labels, plan.reference).count(1), 0u);

  try {
    plan_samples(split_labels({10, 3, 10, 10, 10, 10, 10}), kNames, "train", 100, 6000, 8, 1);
    FAIL() << "3 images of one emotion accepted";
  } catch (const fergan::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("split 'train' has 3 image(s) of emotion 'disgust'"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace fergan::eval
