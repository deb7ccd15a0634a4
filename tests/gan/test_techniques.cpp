// The GAN training techniques against their definitions: DiffAugment's transformations on images whose
// result is known (exact integer shifts with zero fill, a cutout square of half the size, brightness and
// contrast formulas; gradients pass through); the weight average's update rule and warm-up and its standing
// BatchNorm statistics; the hinge losses; and the step's optional terms (mode seeking, supervised, auxiliary
// classifier) recomputed independently.
#include <gtest/gtest.h>

#include "fergan/core/check.h"
#include "fergan/gan/augment.h"
#include "fergan/gan/gan.h"
#include "fergan/gan/step.h"
#include "fergan/gan/weight_average.h"

using namespace fergan;
using namespace fergan::gan;

namespace {
torch::Tensor params_with(std::vector<std::pair<int64_t, float>> values, int64_t batch = 1) {
  auto p = torch::full({batch, kAugmentParams}, 0.5f);
  for (auto [k, v] : values) p.select(1, k).fill_(v);
  return p;
}
AugmentPolicy only(bool translation, bool cutout, bool color) {
  AugmentPolicy p;
  p.translation = translation, p.cutout = cutout, p.color = color;
  return p;
}
}  // namespace

TEST(Augment, TranslationShiftsByWholePixelsWithZeroFill) {
  const auto x = torch::arange(1, 1 + 16 * 16, torch::kFloat).view({1, 1, 16, 16});
  // 16 px: shifts in [-2, 2]; parameter u maps to floor(u * 5) - 2. u = 0.9 -> +2 rows, u = 0.1 -> -2
  // columns.
  const auto y = augment(x, params_with({{1, 0.9f}, {0, 0.1f}}), only(true, false, false));
  for (int64_t r = 0; r < 16; ++r) {
    for (int64_t c = 0; c < 16; ++c) {
      const int64_t sr = r + 2, sc = c - 2;  // the source pixel
      const float expected = (sr < 16 && sc >= 0) ? x[0][0][sr][sc].item<float>() : 0.0f;
      ASSERT_EQ(y[0][0][r][c].item<float>(), expected) << r << "," << c;
    }
  }
  // The middle value is no shift at all.
  EXPECT_TRUE(torch::equal(augment(x, params_with({}), only(true, false, false)), x));
}

TEST(Augment, CutoutZeroesASquareOfHalfTheSize) {
  const auto x = torch::ones({3, 2, 16, 16});
  auto p = params_with({}, 3);
  p.select(1, 2).copy_(
      torch::tensor({0.0f, 0.5f, 0.999f}));  // cutout x: at the left edge, middle, right edge
  const auto y = augment(x, p, only(false, true, false));
  EXPECT_EQ(y[1].eq(0).sum().item<int64_t>(), 2 * 8 * 8);  // fully inside: 8x8 on both channels
  EXPECT_LT(y[0].eq(0).sum().item<int64_t>(), 2 * 8 * 8);  // clipped by the border
  EXPECT_GT(y[0].eq(0).sum().item<int64_t>(), 0);
  EXPECT_TRUE(torch::equal(y[1][0], y[1][1]));  // the same square on every channel
}

TEST(Augment, ColorAndGradients) {
  torch::manual_seed(1);
  const auto x = torch::rand({2, 1, 8, 8}).requires_grad_(true);
  const auto p = params_with({{4, 0.75f}, {5, 1.0f}}, 2);  // brightness +0.25, contrast x1.5
  const auto y = augment(x, p, only(false, false, true));
  const auto b = x + 0.25;
  const auto mean = b.mean({1, 2, 3}, true);
  EXPECT_TRUE(torch::allclose(y, (b - mean) * 1.5 + mean, 1e-5, 1e-6));
  augment(x, p, only(true, true, true)).sum().backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0);
  EXPECT_THROW(AugmentPolicy::parse({"translation", "flip"}, "text2img.augment"), Error);
  EXPECT_TRUE(AugmentPolicy::parse({"translation", "cutout", "color"}, "k").any());
}

TEST(WeightAverage, FollowsTheWeightsWithWarmUp) {
  torch::manual_seed(2);
  torch::nn::Linear net(3, 2);
  WeightAverage average(net->clone(), 0.999);
  const auto w0 = net->weight.detach().clone();
  {
    torch::NoGradGuard no_grad;
    net->weight.add_(1.0);
  }
  average.update(*net);  // n = 0: d = min(0.999, 1/10) = 0.1
  auto avg_w = average.model().parameters()[0];
  EXPECT_TRUE(torch::allclose(avg_w, 0.1 * w0 + 0.9 * (w0 + 1.0)));
  average.set_updates(100000);  // long after the warm-up: d = decay
  const auto before = avg_w.clone();
  average.update(*net);
  EXPECT_TRUE(torch::allclose(avg_w, 0.999 * before + 0.001 * (w0 + 1.0)));
  EXPECT_FALSE(avg_w.requires_grad());
  EXPECT_THROW(WeightAverage(net->clone(), 1.0), Error);
}

TEST(WeightAverage, StandingStatisticsAreTheMeanOverTheBatches) {
  torch::nn::BatchNorm2d bn(2);
  bn->eval();
  const auto a = torch::randn({4, 2, 3, 3}) + 2, b = torch::randn({4, 2, 3, 3}) - 1;
  refresh_batch_norm_statistics(*bn, [&] {
    bn->forward(a);
    bn->forward(b);
  });
  const auto expected = (a.mean({0, 2, 3}) + b.mean({0, 2, 3})) / 2;  // cumulative average of batch means
  EXPECT_TRUE(torch::allclose(bn->running_mean, expected, 1e-5, 1e-6));
  EXPECT_FALSE(bn->is_training());          // restored
  EXPECT_EQ(*bn->options.momentum(), 0.1);  // restored
}

TEST(Losses, HingeAndBce) {
  const auto real = torch::tensor({2.0f, 0.5f}), fake = torch::tensor({-0.5f, 1.0f}),
             wrong = torch::tensor({0.0f});
  // Hinge: relu(1 - real) = [0, 0.5] -> 0.25; relu(1 + fake) = [0.5, 2] -> 1.25; wrong: 1 -> (1.25 + 1)/2.
  EXPECT_NEAR(discriminator_loss(Loss::Hinge, real, fake, {}).item<double>(), (0.25 + 1.25) / 2, 1e-6);
  EXPECT_NEAR(discriminator_loss(Loss::Hinge, real, fake, wrong).item<double>(), (0.25 + 1.125) / 2, 1e-6);
  EXPECT_NEAR(generator_loss(Loss::Hinge, fake).item<double>(), -0.25, 1e-6);
  EXPECT_NEAR(generator_loss(Loss::Bce, fake).item<double>(),
              torch::binary_cross_entropy(torch::sigmoid(fake), torch::ones(2)).item<double>(), 1e-6);
}

TEST(StepTerms, ModeSeekingSupervisedAndAverage) {
  torch::manual_seed(6);
  models::Text2ImgOptions net;
  net.ngf = net.ndf = 8;
  net.noise_dim = 4;
  net.latent_dim = 16;
  net.channels = 1;
  GanOptions o;
  o.mode_seeking = 0.5;
  o.ema_decay = 0.99;
  o.augment = AugmentPolicy::parse({"translation"}, "k");
  Text2ImgGan gan(net, o, AdamSettings{}, torch::kCPU);
  StepInputs in;
  in.condition = torch::randn({4, 16});
  in.real = torch::rand({4, 1, 64, 64}) * 2 - 1;
  in.noise = torch::randn({4, 4});
  in.noise2 = torch::randn({4, 4});
  in.augment = torch::rand({4, kAugmentUses, kAugmentParams});
  const auto g0 = gan.G->fc->weight.detach().clone();
  NoGradSync sync;
  torch::Tensor expected;
  {
    // The term the step reports, recomputed from the generator before the step (train mode, one pass).
    torch::NoGradGuard no_grad;
    auto copy = std::dynamic_pointer_cast<models::Text2ImageGeneratorImpl>(gan.G->clone());
    const auto both =
        copy->forward(torch::cat({in.condition, in.condition}), torch::cat({in.noise, in.noise2}));
    expected = (both.chunk(2)[0] - both.chunk(2)[1]).abs().mean() / (in.noise - in.noise2).abs().mean();
  }
  const StepStats s = train_step(gan, in, sync);
  EXPECT_NEAR(s.mode_seeking.item<double>(), expected.item<double>(), 1e-5);
  EXPECT_FALSE(s.supervised.defined());
  // The average moved one warm-up step (d = 0.1) towards the updated weights.
  const auto avg = gan.weight_average()->model().parameters()[0];  // fc.weight
  EXPECT_TRUE(torch::allclose(avg, 0.1 * g0 + 0.9 * gan.G->fc->weight.detach(), 1e-5, 1e-7));
  EXPECT_EQ(gan.weight_average()->updates(), 1);
  in.noise2 = torch::Tensor();
  EXPECT_THROW(train_step(gan, in, sync), Error);

  // Image->Text with the supervised term: it is 1 - cos(G(image), true embedding), averaged.
  models::Img2TextOptions i2t;
  i2t.latent_dim = 16;
  GanOptions sup;
  sup.supervised = 2.0;
  Img2TextGan image_to_text(i2t, sup, AdamSettings{}, torch::kCPU);
  StepInputs j;
  j.condition = torch::rand({3, 3, 64, 64}) * 2 - 1;
  j.real = torch::randn({3, 16});
  torch::Tensor distance;
  {
    torch::NoGradGuard no_grad;
    distance = (1 - torch::cosine_similarity(image_to_text.G(j.condition), j.real, 1)).mean();
  }
  const auto t = train_step(image_to_text, j, sync);
  EXPECT_NEAR(t.supervised.item<double>(), distance.item<double>(), 1e-5);
}

TEST(StepTerms, AuxiliaryClassifier) {
  torch::manual_seed(7);
  models::Text2ImgOptions net;
  net.ngf = net.ndf = 8;
  net.latent_dim = 16;
  net.channels = 1;
  net.conditional = true;
  // Without the term the discriminator has no classifier head: its state (and checkpoints) stay as before.
  models::Text2ImageDiscriminator plain(net);
  for (const auto& p : plain->named_parameters()) EXPECT_EQ(p.key().rfind("classes", 0), std::string::npos);
  EXPECT_THROW(plain->forward_with_classes(torch::zeros({1, 1, 64, 64}), torch::zeros({1, 16})), Error);

  net.num_classes = kNumEmotions;
  GanOptions o;
  o.class_weight = 1.0;
  StepInputs in;
  in.condition = torch::randn({6, 16});
  in.real = torch::rand({6, 1, 64, 64}) * 2 - 1;
  in.labels = torch::tensor({0, 3, 6, 0, 3, 6}, torch::kLong);
  NoGradSync sync;
  {
    Text2ImgGan gan(net, o, AdamSettings{}, torch::kCPU);
    EXPECT_EQ(gan.D->classes->weight.sizes(),
              (std::vector<int64_t>{kNumEmotions, net.discriminator_top_channels()}));
    torch::Tensor expected_real;
    {
      // The real faces' cross-entropy the step reports, from a copy of D before the step (its first D pass).
      torch::NoGradGuard no_grad;
      auto copy = std::dynamic_pointer_cast<models::Text2ImageDiscriminatorImpl>(gan.D->clone());
      const auto [patches, classes] = copy->forward_with_classes(in.real, in.condition);
      EXPECT_EQ(classes.sizes(), (std::vector<int64_t>{6, kNumEmotions}));
      EXPECT_TRUE(torch::allclose(patches, copy->forward(in.real, in.condition)));  // the same patch logits
      expected_real = torch::cross_entropy_loss(classes, in.labels);
    }
    const auto head0 = gan.D->classes->weight.detach().clone();
    const StepStats first = train_step(gan, in, sync);
    EXPECT_NEAR(first.class_real.item<double>(), expected_real.item<double>(), 1e-5);
    ASSERT_TRUE(first.class_fake.defined());
    EXPECT_GT(first.class_fake.item<double>(), 0);
    EXPECT_FALSE(torch::equal(head0, gan.D->classes->weight.detach()));  // the head learns in the D step
  }
  // With spectral normalisation (small features) the classifier still learns the real faces' emotions on a
  // fixed batch within a few dozen steps.
  net.spectral_norm = true;
  Text2ImgGan gan(net, o, AdamSettings{}, torch::kCPU);
  const StepStats first = train_step(gan, in, sync);
  StepStats last;
  for (int i = 0; i < 40; ++i) last = train_step(gan, in, sync);
  EXPECT_LT(last.class_real.item<double>(), 0.5 * first.class_real.item<double>());
  in.labels = torch::Tensor();
  EXPECT_THROW(train_step(gan, in, sync), Error);
}
