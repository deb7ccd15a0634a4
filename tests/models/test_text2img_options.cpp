// The Text->Image networks' quality options against their definitions: spectral normalisation makes the
// largest singular value 1 (checked against an SVD); the minibatch standard-deviation channel against a
// direct computation, and 0 for identical samples; FiLM starts as the identity (same output as the plain
// generator with the same weights); 1-channel images; the original's parameter counts are unchanged with
// every option off.
#include <gtest/gtest.h>

#include "fergan/core/check.h"
#include "fergan/models/spectral_norm.h"
#include "fergan/models/state.h"
#include "fergan/models/text2img.h"

using namespace fergan;
using namespace fergan::models;

namespace {
Text2ImgOptions small() {
  Text2ImgOptions o;
  o.ngf = 8;
  o.ndf = 8;
  o.noise_dim = 4;
  o.latent_dim = 16;
  o.conditional = true;
  return o;
}
}  // namespace

TEST(SpectralNorm, LargestSingularValueBecomesOne) {
  torch::manual_seed(3);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(6, 5, 3));
  add_spectral_norm(*conv);
  conv->train();
  torch::Tensor w;
  for (int i = 0; i < 50; ++i) w = spectral_normalized_weight(*conv);  // the power iteration converges
  const auto sigma = torch::linalg_svdvals(w.detach().reshape({5, -1}))[0].item<double>();
  EXPECT_NEAR(sigma, 1.0, 1e-4);
  // Eval mode does not advance the iteration: the same weight twice.
  conv->eval();
  EXPECT_TRUE(torch::equal(spectral_normalized_weight(*conv), spectral_normalized_weight(*conv)));
  // The forward is a conv with the normalised weight, and gradients reach the raw weight.
  const auto x = torch::randn({2, 6, 7, 7});
  const auto y = spectral_norm_forward(*conv, x);
  EXPECT_TRUE(
      torch::allclose(y, torch::conv2d(x, spectral_normalized_weight(*conv), conv->bias), 1e-5, 1e-6));
  conv->train();
  spectral_norm_forward(*conv, x).sum().backward();
  EXPECT_GT(conv->weight.grad().abs().sum().item<double>(), 0);
  torch::nn::Linear plain(3, 2);
  EXPECT_THROW(spectral_normalized_weight(*plain), Error);  // no buffers
}

TEST(MinibatchStddev, MatchesADirectComputation) {
  torch::manual_seed(4);
  const auto h = torch::randn({8, 3, 2, 2});
  const auto channel = minibatch_stddev_channel(h);
  ASSERT_EQ(channel.sizes(), (std::vector<int64_t>{8, 1, 2, 2}));
  // Groups of 4: samples {0, 2, 4, 6} and {1, 3, 5, 7}.
  for (int64_t m = 0; m < 2; ++m) {
    const auto group = h.index_select(0, torch::tensor({m, m + 2, m + 4, m + 6}));
    const double expected = (group.var(0, false) + 1e-8).sqrt().mean().item<double>();
    for (int64_t i = m; i < 8; i += 2) EXPECT_NEAR(channel[i].mean().item<double>(), expected, 1e-6);
  }
  // Identical samples: (almost) zero; a batch of 6 uses groups of 3, of 5 a group of 5.
  EXPECT_LT(minibatch_stddev_channel(torch::ones({6, 3, 2, 2})).max().item<double>(), 1e-3);
  EXPECT_EQ(minibatch_stddev_channel(torch::randn({5, 3, 2, 2})).size(0), 5);
}

TEST(Text2ImgOptions, FilmStartsAsTheIdentity) {
  torch::manual_seed(5);
  Text2ImgOptions plain_options = small(), film_options = small();
  film_options.film = true;
  Text2ImageGenerator plain(plain_options), film(film_options);
  // Same weights for the shared layers.
  auto film_state = film->named_parameters();
  for (const auto& item : plain->named_parameters()) {
    torch::NoGradGuard no_grad;
    film_state[item.key()].copy_(item.value());
  }
  const auto emb = torch::randn({4, 16}), noise = torch::randn({4, 4});
  EXPECT_TRUE(torch::allclose(plain(emb, noise), film(emb, noise)));
  EXPECT_EQ(film->film->size(), 3u);  // one modulation per up-block at 64x64
  // FiLM's layers learn: they get gradients.
  film(emb, noise).pow(2).mean().backward();
  EXPECT_GT(film->film[0]->as<torch::nn::LinearImpl>()->weight.grad().abs().sum().item<double>(), 0);
}

TEST(Text2ImgOptions, OneChannelAndSpectralNormShapes) {
  Text2ImgOptions o = small();
  o.channels = 1;
  o.spectral_norm = true;
  o.minibatch_std = true;
  Text2ImageGenerator g(o);
  Text2ImageDiscriminator d(o);
  const auto emb = torch::randn({4, 16});
  const auto images = g(emb, torch::randn({4, 4}));
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{4, 1, 64, 64}));
  EXPECT_EQ(d(images, emb).sizes(), (std::vector<int64_t>{100, 1}));
  for (const auto& item : d->named_buffers())
    EXPECT_EQ(item.key().find("running"), std::string::npos) << item.key();
  EXPECT_THROW(d(torch::randn({4, 3, 64, 64}), emb), Error);  // 3 channels into a 1-channel D
  o.channels = 2;
  EXPECT_THROW(Text2ImageGenerator{o}, Error);
}

TEST(Text2ImgOptions, OriginalParameterCountsWithEveryOptionOff) {
  Text2ImgOptions o;
  EXPECT_EQ(parameter_count(*Text2ImageGenerator(o)), 19565571);
  EXPECT_EQ(parameter_count(*Text2ImageDiscriminator(o)), 663745);
}
