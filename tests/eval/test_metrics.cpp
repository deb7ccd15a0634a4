// Known-answer tests of the metric library: retrieval, diversity / mode collapse, Fréchet distance, CLIP
// score.
#include <gtest/gtest.h>

#include <cmath>

#include "fergan/core/check.h"
#include "fergan/eval/metrics.h"
#include "synthetic_faces.h"

namespace fergan::eval {
namespace {

// Seven emotions, two captions each (as with two caption templates).
struct CaptionTable {
  torch::Tensor embeddings;  // [14, 32]
  torch::Tensor labels;      // [14]
};
CaptionTable caption_table() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  return {torch::randn({14, 32}, gen), torch::arange(7, torch::kLong).repeat(2)};
}

TEST(Retrieval, GeneratorReturningTheCaptionEmbeddingScoresPerfectly) {
  auto table = caption_table();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  auto true_captions = torch::randint(14, {200}, gen, torch::kLong);
  auto true_labels = table.labels.index_select(0, true_captions);
  // The "generator": the caption embedding itself, at an arbitrary scale (cosine must not care).
  auto predictions = table.embeddings.index_select(0, true_captions) * 3.5;
  auto r = emotion_retrieval(predictions, table.embeddings, table.labels, true_labels, true_captions, 7);
  EXPECT_DOUBLE_EQ(r.accuracy, 1.0);
  EXPECT_NEAR(r.mean_cosine_true, 1.0, 1e-6);
  for (int k = 0; k < 7; ++k) EXPECT_DOUBLE_EQ(r.per_class_accuracy[k], 1.0) << "class " << k;
  EXPECT_EQ(r.confusion.sum().item<int64_t>(), 200);
  EXPECT_EQ(r.confusion.diagonal().sum().item<int64_t>(), 200);
  EXPECT_TRUE(torch::equal(r.predicted_caption, true_captions));
}

TEST(Retrieval, ConfusionMatrixCountsWhereEachSampleWent) {
  auto table = caption_table();
  // Samples of label 0 whose prediction is the caption of label 3, and samples of label 5 predicted
  // correctly.
  auto true_labels = torch::tensor({0, 0, 0, 5, 5}, torch::kLong);
  auto true_captions = torch::tensor({0, 7, 0, 5, 12}, torch::kLong);
  auto predicted_caption = torch::tensor({3, 3, 10, 5, 12}, torch::kLong);
  auto predictions = table.embeddings.index_select(0, predicted_caption);
  auto r = emotion_retrieval(predictions, table.embeddings, table.labels, true_labels, true_captions, 7);
  EXPECT_DOUBLE_EQ(r.accuracy, 2.0 / 5.0);
  EXPECT_EQ(r.confusion[0][3].item<int64_t>(), 3);
  EXPECT_EQ(r.confusion[5][5].item<int64_t>(), 2);
  EXPECT_DOUBLE_EQ(r.per_class_accuracy[0], 0.0);
  EXPECT_DOUBLE_EQ(r.per_class_accuracy[5], 1.0);
  EXPECT_TRUE(std::isnan(r.per_class_accuracy[1]));
  EXPECT_EQ(r.per_class_count[0], 3);
  // Independent path for the mean cosine to the true caption.
  double expected = 0;
  for (int i = 0; i < 5; ++i) {
    auto a = predictions[i], b = table.embeddings[true_captions[i].item<int64_t>()];
    expected += (a.dot(b) / (a.norm() * b.norm())).item<double>();
  }
  EXPECT_NEAR(r.mean_cosine_true, expected / 5.0, 1e-5);
}

TEST(Retrieval, RejectsMismatchedShapes) {
  auto table = caption_table();
  auto bad = torch::randn({3, 16});
  EXPECT_THROW(emotion_retrieval(bad, table.embeddings, table.labels, torch::zeros({3}, torch::kLong),
                                 torch::zeros({3}, torch::kLong), 7),
               fergan::Error);
}

TEST(Diversity, MeanPairwiseDistanceKnownAnswer) {
  // Constant images with values 0, 1, 3: pairwise RMS distances 1, 3, 2 -> mean 2.
  auto images = torch::stack({torch::zeros({3, 4, 4}), torch::ones({3, 4, 4}), torch::full({3, 4, 4}, 3.0)});
  EXPECT_NEAR(mean_pairwise_distance(images), 2.0, 1e-9);
  EXPECT_THROW(mean_pairwise_distance(images.slice(0, 0, 1)), fergan::Error);
}

TEST(Diversity, ConstantGeneratorIsFlaggedRealImagesAreNot) {
  auto real = testing::synthetic_faces(12, 7, 32, 11);
  // Collapsed generator: one fixed image for every caption, as the original produced.
  auto constant = real.images[0].unsqueeze(0).expand({84, 3, 32, 32}).clone();
  auto collapsed = diversity(constant, real.labels, real.images, real.labels);
  EXPECT_TRUE(collapsed.any_collapsed);
  ASSERT_EQ(collapsed.per_class.size(), 7u);
  for (const auto& e : collapsed.per_class) {
    EXPECT_TRUE(e.collapsed) << "class " << e.label;
    EXPECT_NEAR(e.ratio, 0.0, 1e-9);
  }
  // Nearly-collapsed: tiny per-sample noise (0.12/255 as measured on the original) is still flagged.
  auto nearly = constant + torch::randn_like(constant) * (0.12 / 127.5);
  EXPECT_TRUE(diversity(nearly, real.labels, real.images, real.labels).any_collapsed);

  // A "generator" returning other real images of the right emotion keeps the real spread.
  auto other = testing::synthetic_faces(12, 7, 32, 99);
  auto healthy = diversity(other.images, other.labels, real.images, real.labels);
  EXPECT_FALSE(healthy.any_collapsed);
  EXPECT_NEAR(healthy.mean_ratio, 1.0, 0.15);
  // Samples that depend on the emotion: images of different classes are further apart than within one class.
  EXPECT_GT(healthy.between_over_within, 1.0);
  // Constant output ignores the emotion: ratio 1 (up to float rounding of near-zero distances).
  EXPECT_NEAR(collapsed.between_over_within, 1.0, 1e-3);
}

TEST(Frechet, SetWithItselfIsZero) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto x = torch::randn({300, 16}, gen).matmul(torch::randn({16, 16}, gen));
  EXPECT_NEAR(frechet_distance(x, x), 0.0, 1e-8);
}

TEST(Frechet, MatchesClosedFormForGivenGaussians) {
  // Non-commuting covariances: compare with tr sqrt(S1 S2) from the (non-symmetric) eigenvalues of S1 S2.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
  auto a = torch::randn({6, 6}, gen).to(torch::kDouble), b = torch::randn({6, 6}, gen).to(torch::kDouble);
  auto s1 = a.matmul(a.t()) + torch::eye(6, torch::kDouble) * 0.1;
  auto s2 = b.matmul(b.t()) + torch::eye(6, torch::kDouble) * 0.1;
  auto m1 = torch::randn({6}, gen).to(torch::kDouble), m2 = torch::randn({6}, gen).to(torch::kDouble);
  auto eig = torch::linalg_eigvals(s1.matmul(s2));
  const double tr_sqrt = torch::real(torch::sqrt(eig)).sum().item<double>();
  const double expected = (m1 - m2).pow(2).sum().item<double>() + s1.trace().item<double>() +
                          s2.trace().item<double>() - 2 * tr_sqrt;
  EXPECT_NEAR(frechet_distance(GaussianStats{m1, s1}, GaussianStats{m2, s2}), expected,
              1e-8 * (1 + expected));

  // Diagonal covariances: ||m1 - m2||^2 + sum (sqrt(v1) - sqrt(v2))^2.
  auto v1 = torch::tensor({1.0, 4.0, 9.0}, torch::kDouble),
       v2 = torch::tensor({4.0, 4.0, 1.0}, torch::kDouble);
  auto d1 = GaussianStats{torch::zeros({3}, torch::kDouble), torch::diag(v1)};
  auto d2 = GaussianStats{torch::tensor({1.0, 0.0, 2.0}, torch::kDouble), torch::diag(v2)};
  EXPECT_NEAR(frechet_distance(d1, d2), 5.0 + (1.0 + 0.0 + 4.0), 1e-10);
}

TEST(Frechet, SampledGaussiansApproachTheClosedForm) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const int64_t n = 40000;
  auto std1 = torch::tensor({1.0, 2.0, 0.5, 1.0}), std2 = torch::tensor({1.5, 1.0, 0.5, 3.0});
  auto mu2 = torch::tensor({0.5, -0.5, 0.0, 1.0});
  auto x = torch::randn({n, 4}, gen) * std1;
  auto y = torch::randn({n, 4}, gen) * std2 + mu2;
  const double expected = mu2.pow(2).sum().item<double>() + (std1 - std2).pow(2).sum().item<double>();  // 3.0
  EXPECT_NEAR(frechet_distance(x, y), expected, 0.1);
  EXPECT_THROW(frechet_distance(x, y.slice(1, 0, 3)), fergan::Error);
}

TEST(ClipScore, NormalisesBothSidesAndReportsPerCaption) {
  auto text = torch::eye(3) * 5.0;  // three orthogonal caption features, unnormalised
  // Image 0,1 match caption 0 exactly (scaled); image 2 is orthogonal to its caption 1; image 3 opposes
  // caption 2.
  auto images = torch::stack({text[0] * 0.1, text[0] * 7.0, text[2], -text[2]});
  auto captions = torch::tensor({0, 0, 1, 2}, torch::kLong);
  auto r = clip_score(images, text, captions);
  EXPECT_NEAR(r.per_caption_score[0], 100.0, 1e-9);
  EXPECT_NEAR(r.per_caption_score[1], 0.0, 1e-9);
  EXPECT_NEAR(r.per_caption_score[2], 0.0, 1e-9);  // clamped at 0
  EXPECT_NEAR(r.per_caption_cosine[2], -1.0, 1e-9);
  EXPECT_NEAR(r.score, 50.0, 1e-9);
  EXPECT_NEAR(r.mean_cosine, (1 + 1 + 0 - 1) / 4.0, 1e-9);
  EXPECT_EQ(r.per_caption_count[0], 2);
}

}  // namespace
}  // namespace fergan::eval
