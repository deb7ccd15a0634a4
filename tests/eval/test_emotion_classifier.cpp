// The CAS classifier: it must learn separable synthetic emotions, and CAS computed with real images standing
// in for the generated ones must land next to the classifier's own real accuracy (the known answer of CAS).
#include <gtest/gtest.h>

#include "fergan/eval/emotion_classifier.h"
#include "synthetic_faces.h"

namespace fergan::eval {
namespace {

ClassifierOptions fast_options() {
  ClassifierOptions o;
  o.image_size = 32;
  o.epochs = 8;
  o.batch_size = 32;
  o.lr = 3e-3;
  o.seed = 1;
  return o;
}

TEST(EmotionClassifier, InputIsGrayscaleAtTheRequestedSize) {
  auto x = torch::rand({2, 3, 64, 64}) * 2 - 1;
  auto y = classifier_input(x, 48);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 1, 48, 48}));
  auto same = classifier_input(x, 64);
  EXPECT_TRUE(torch::allclose(same, x.mean(1, true)));
}

TEST(EmotionClassifier, CasOfRealVersusRealIsCloseToRealAccuracy) {
  auto train = testing::synthetic_faces(40, 7, 32, 21, /*noise=*/0.45);
  auto test = testing::synthetic_faces(20, 7, 32, 22, 0.45);
  auto other_real = testing::synthetic_faces(40, 7, 32, 23, 0.45);  // plays the "generated" images
  auto cas = classification_accuracy_scores(train.images, train.labels, test.images, test.labels,
                                            other_real.images, other_real.labels, fast_options());
  EXPECT_GT(cas.real_accuracy, 0.5) << "the classifier must learn the synthetic emotions";
  EXPECT_NEAR(cas.train_real_test_gen, cas.real_accuracy, 0.1);
  EXPECT_NEAR(cas.train_gen_test_real, cas.real_accuracy, 0.1);
  EXPECT_EQ(cas.generated, 280);
}

TEST(EmotionClassifier, CasOfImagesIgnoringTheEmotionIsNearChance) {
  auto train = testing::synthetic_faces(40, 7, 32, 31, 0.45);
  auto test = testing::synthetic_faces(20, 7, 32, 32, 0.45);
  // A generator that ignores the caption: one emotion's pattern whatever label it was asked for.
  auto wrong = testing::synthetic_faces(40, 7, 32, 33, 0.45);
  auto one_pattern = testing::synthetic_faces(280, 1, 32, 34, 0.45);
  auto cas = classification_accuracy_scores(train.images, train.labels, test.images, test.labels,
                                            one_pattern.images, wrong.labels, fast_options());
  EXPECT_GT(cas.real_accuracy, 0.45);
  EXPECT_LT(cas.train_real_test_gen, 0.3);
  EXPECT_LT(cas.train_gen_test_real, 0.3);
}

}  // namespace
}  // namespace fergan::eval
