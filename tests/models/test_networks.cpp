// The four networks: the original's parameter counts and layer shapes at 64x64 (docs/original.md), the size
// rule at 128/256, the conditional and noise variants (their extra inputs must actually change the output),
// and bad options.
#include <gtest/gtest.h>

#include <cstdlib>

#include "fergan/core/check.h"
#include "fergan/core/config.h"
#include "fergan/models/img2text.h"
#include "fergan/models/state.h"
#include "fergan/models/text2img.h"

using namespace fergan;
using namespace fergan::models;

namespace {
std::string source_dir() {
  const char* d = std::getenv("FERGAN_SOURCE_DIR");
  return d ? d : ".";
}

Text2ImgOptions t2i(int64_t size, bool conditional = false, int64_t noise = 0) {
  Text2ImgOptions o;
  o.image_size = size;
  o.conditional = conditional;
  o.noise_dim = noise;
  return o;
}

// name -> shape of every parameter, for comparing a network against the original's layer list.
std::map<std::string, std::vector<int64_t>> shapes(const torch::nn::Module& m) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().sizes().vec();
  return out;
}
}  // namespace

TEST(Networks, OriginalParameterCountsFromOriginalYaml) {
  Config config = load_config(source_dir() + "/config/original.yaml");
  Img2TextOptions i2t = Img2TextOptions::from(config);
  Text2ImgOptions t2 = Text2ImgOptions::from(config);
  EXPECT_EQ(parameter_count(*Img2TextGenerator(i2t)), 790464);
  EXPECT_EQ(parameter_count(*Img2TextDiscriminator(i2t)), 131585);
  EXPECT_EQ(parameter_count(*Text2ImageGenerator(t2)), 19565571);
  EXPECT_EQ(parameter_count(*Text2ImageDiscriminator(t2)), 663745);
}

TEST(Networks, DeepImg2TextEncoder) {
  // Hand count: four k4 convs (3->64->128->256->256) with biases, GroupNorm affine pairs, fc 256*4*4 -> 512.
  Img2TextOptions o;
  o.deep_encoder = true;
  Img2TextGenerator g(o);
  const int64_t convs =
      (3 * 64 * 16 + 64) + (64 * 128 * 16 + 128) + (128 * 256 * 16 + 256) + (256 * 256 * 16 + 256);
  const int64_t norms = 2 * (64 + 128 + 256 + 256);
  EXPECT_EQ(parameter_count(*g), convs + norms + (256 * 16 * 512 + 512));
  torch::NoGradGuard no_grad;
  for (int64_t size : {48, 64})
    EXPECT_EQ(g->forward(torch::zeros({2, 3, size, size})).sizes(), (std::vector<int64_t>{2, 512}));
}

TEST(Networks, OriginalLayerShapes) {
  // The original's networks layer by layer (ConvTranspose weights are [in, out, k, k]).
  using S = std::map<std::string, std::vector<int64_t>>;
  EXPECT_EQ(shapes(*Img2TextGenerator()), (S{{"features.0.weight", {64, 3, 4, 4}},
                                             {"features.0.bias", {64}},
                                             {"features.2.weight", {128, 64, 4, 4}},
                                             {"features.2.bias", {128}},
                                             {"features.4.weight", {256, 128, 4, 4}},
                                             {"features.4.bias", {256}},
                                             {"fc.weight", {512, 256}},
                                             {"fc.bias", {512}}}));
  EXPECT_EQ(shapes(*Img2TextDiscriminator()), (S{{"trunk.0.weight", {256, 512}},
                                                 {"trunk.0.bias", {256}},
                                                 {"head.weight", {1, 256}},
                                                 {"head.bias", {1}}}));
  EXPECT_EQ(shapes(*Text2ImageGenerator(t2i(64))), (S{{"fc.weight", {32768, 512}},
                                                      {"fc.bias", {32768}},
                                                      {"net.0.weight", {512, 256, 4, 4}},
                                                      {"net.0.bias", {256}},
                                                      {"net.1.weight", {256}},
                                                      {"net.1.bias", {256}},
                                                      {"net.3.weight", {256, 128, 4, 4}},
                                                      {"net.3.bias", {128}},
                                                      {"net.4.weight", {128}},
                                                      {"net.4.bias", {128}},
                                                      {"net.6.weight", {128, 64, 4, 4}},
                                                      {"net.6.bias", {64}},
                                                      {"net.7.weight", {64}},
                                                      {"net.7.bias", {64}},
                                                      {"net.9.weight", {64, 3, 3, 3}},
                                                      {"net.9.bias", {3}}}));
  EXPECT_EQ(shapes(*Text2ImageDiscriminator(t2i(64))), (S{{"features.0.weight", {64, 3, 4, 4}},
                                                          {"features.0.bias", {64}},
                                                          {"features.2.weight", {128, 64, 4, 4}},
                                                          {"features.2.bias", {128}},
                                                          {"features.3.weight", {128}},
                                                          {"features.3.bias", {128}},
                                                          {"features.5.weight", {256, 128, 4, 4}},
                                                          {"features.5.bias", {256}},
                                                          {"features.6.weight", {256}},
                                                          {"features.6.bias", {256}},
                                                          {"head.weight", {1, 256, 4, 4}},
                                                          {"head.bias", {1}}}));
}

TEST(Networks, OutputShapesAtAllSizes) {
  torch::manual_seed(0);
  const int64_t B = 2;
  for (int64_t size : {64, 128, 256}) {
    SCOPED_TRACE(size);
    // ngf 16 keeps this fast; the channel rule at ngf 64 is checked in SizeRuleChannels.
    Text2ImgOptions o = t2i(size);
    o.ngf = 16;
    Text2ImageGenerator g(o);
    Text2ImageDiscriminator d(o);
    torch::Tensor images = g(torch::randn({B, 512}));
    EXPECT_EQ(images.sizes(), (std::vector<int64_t>{B, 3, size, size}));
    EXPECT_LE(images.abs().max().item<float>(), 1.0f);  // tanh
    EXPECT_EQ(d(images).sizes(), (std::vector<int64_t>{B * Text2ImgOptions::kPatchesPerSample, 1}));
    Img2TextGenerator ig;
    EXPECT_EQ(ig(images).sizes(), (std::vector<int64_t>{B, 512}));
  }
  EXPECT_EQ(Img2TextDiscriminator()(torch::randn({B, 512})).sizes(), (std::vector<int64_t>{B, 1}));
}

TEST(Networks, SizeRuleChannels) {
  // 128: 512->256->128->64->32 ; 256: ...->32->16. Discriminator: 64,128,256,512(,512).
  Text2ImageGenerator g128(t2i(128)), g256(t2i(256));
  EXPECT_EQ(g128->net[12]->as<torch::nn::ConvTranspose2d>()->weight.sizes(),
            (std::vector<int64_t>{32, 3, 3, 3}));
  EXPECT_EQ(g256->net[15]->as<torch::nn::ConvTranspose2d>()->weight.sizes(),
            (std::vector<int64_t>{16, 3, 3, 3}));
  Text2ImgOptions small = t2i(256);
  small.ngf = 4;  // base 32 -> 16 -> 16 ... never below 16
  Text2ImageGenerator gs(small);
  EXPECT_EQ(gs->net[15]->as<torch::nn::ConvTranspose2d>()->weight.sizes(),
            (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_EQ(Text2ImageDiscriminator(t2i(128))->head->weight.sizes(), (std::vector<int64_t>{1, 512, 4, 4}));
  Text2ImageDiscriminator d256(t2i(256));
  EXPECT_EQ(d256->head->weight.sizes(), (std::vector<int64_t>{1, 512, 4, 4}));
  EXPECT_EQ(t2i(256).num_scale_blocks(), 5);
  EXPECT_EQ(t2i(256).discriminator_top_channels(), 512);
}

TEST(Networks, NoiseChangesTheImage) {
  torch::manual_seed(1);
  Text2ImgOptions o = t2i(64, false, 100);
  o.ngf = 8;
  Text2ImageGenerator g(o);
  EXPECT_EQ(g->fc->weight.size(1), 612);  // [embedding, noise] concatenated
  torch::Tensor e = torch::randn({2, 512});
  torch::Tensor a = g(e, torch::randn({2, 100}));
  torch::Tensor b = g(e, torch::randn({2, 100}));
  EXPECT_GT((a - b).abs().max().item<float>(), 1e-3f);
  EXPECT_THROW(g(e), Error);  // noise required
  o.noise_dim = 0;
  Text2ImageGenerator no_noise(o);
  EXPECT_THROW(no_noise(e, torch::randn({2, 100})), Error);  // noise not expected
}

TEST(Networks, ConditionalText2ImgDiscriminatorProjection) {
  torch::manual_seed(2);
  Text2ImageDiscriminator d(t2i(64, true));
  d->eval();  // fixed BatchNorm statistics so the two calls see the same features
  torch::Tensor images = torch::randn({2, 3, 64, 64});
  torch::Tensor e1 = torch::randn({2, 512}), e2 = torch::randn({2, 512});
  torch::Tensor l1 = d(images, e1), l2 = d(images, e2);
  EXPECT_EQ(l1.sizes(), (std::vector<int64_t>{50, 1}));
  EXPECT_GT((l1 - l2).abs().max().item<float>(), 1e-4f);
  // Independent path: head logits + <V e, 4x4-window mean of the 8x8 features> for patch (i, j).
  torch::NoGradGuard ng;
  torch::Tensor h = d->features->forward(images);
  torch::Tensor code = d->projection(e1);
  torch::Tensor head = d->head(h);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i : {0, 2, 4})
      for (int64_t j : {0, 3}) {
        torch::Tensor window = h[b].slice(1, i, i + 4).slice(2, j, j + 4).mean({1, 2});
        float expect = head[b][0][i][j].item<float>() + (window * code[b]).sum().item<float>();
        EXPECT_NEAR(l1[b * 25 + i * 5 + j][0].item<float>(), expect, 1e-4f);
      }
  EXPECT_THROW(d(images), Error);  // conditional needs the embedding
  // Unconditional ignores the embedding entirely.
  Text2ImageDiscriminator u(t2i(64));
  u->eval();
  EXPECT_TRUE(torch::equal(u(images, e1), u(images, e2)));
}

TEST(Networks, ConditionalImg2TextDiscriminatorProjection) {
  torch::manual_seed(3);
  Img2TextOptions o;
  o.conditional = true;
  Img2TextDiscriminator d(o);
  torch::Tensor e = torch::randn({3, 512});
  torch::Tensor x1 = torch::randn({3, 3, 64, 64}), x2 = torch::randn({3, 3, 64, 64});
  torch::Tensor l1 = d(e, x1);
  EXPECT_EQ(l1.sizes(), (std::vector<int64_t>{3, 1}));
  EXPECT_GT((l1 - d(e, x2)).abs().max().item<float>(), 1e-5f);
  // logit = psi(h) + <V enc(x), h>
  torch::NoGradGuard ng;
  torch::Tensor h = d->trunk->forward(e);
  torch::Tensor expect =
      d->head(h) + (d->projection(d->image_encoder->forward(x1).flatten(1)) * h).sum(1, true);
  EXPECT_TRUE(torch::allclose(l1, expect, 1e-5, 1e-6));
  EXPECT_THROW(d(e), Error);
  // The unconditional one is the original MLP: 131,585 parameters; the conditional one adds the encoder + V.
  EXPECT_GT(parameter_count(*d), 131585);
}

TEST(Networks, Cloneable) {
  torch::manual_seed(4);
  Text2ImgOptions o = t2i(64, false, 10);
  o.ngf = 8;
  Text2ImageGenerator g(o);
  auto copy = std::dynamic_pointer_cast<Text2ImageGeneratorImpl>(g->clone());
  ASSERT_TRUE(copy);
  auto a = named_state(*g), b = named_state(*copy);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second));
    EXPECT_NE(a[i].second.data_ptr(), b[i].second.data_ptr());
  }
}

TEST(Networks, BadOptionsNameTheKey) {
  Text2ImgOptions o = t2i(96);
  try {
    Text2ImageGenerator g(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("text2img.image_size"), std::string::npos) << e.what();
  }
  Text2ImageDiscriminator d(t2i(64));
  EXPECT_THROW(d(torch::randn({1, 3, 128, 128})), Error);                // wrong image size
  EXPECT_THROW(Img2TextDiscriminator()(torch::randn({2, 256})), Error);  // wrong embedding size
}
