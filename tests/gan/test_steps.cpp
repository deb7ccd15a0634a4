// The GAN steps against a second, independent computation: the losses recomputed with Sigmoid + BCELoss on
// deep copies of the networks, the GradSync bracketing (begin before backward with the right parameters and
// zeroed grads, end after with grads filled, optimizer step only after end), frozen discriminator in the G
// step.
#include <gtest/gtest.h>

#include "fergan/core/check.h"
#include "fergan/gan/gan.h"
#include "fergan/gan/step.h"
#include "fergan/models/state.h"

using namespace fergan;
using namespace fergan::gan;

namespace {

template <typename M>
M deep_copy(const M& m) {
  return M(std::dynamic_pointer_cast<typename M::Impl>(m->clone()));
}

torch::Tensor bce(const torch::Tensor& logits, double target) {  // the original's Sigmoid + BCELoss
  torch::Tensor p = torch::sigmoid(logits);
  return torch::binary_cross_entropy(p, torch::full_like(p, target));
}

std::vector<torch::Tensor> snapshot(const torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool unchanged(const torch::nn::Module& m, const std::vector<torch::Tensor>& before) {
  auto now = m.parameters();
  for (size_t i = 0; i < now.size(); ++i)
    if (!torch::equal(now[i], before[i])) return false;
  return true;
}

// Records the bracketing and checks its preconditions; optionally zeroes the gradients in end().
struct RecordingSync : GradSync {
  struct Call {
    bool begin;
    size_t n;
    bool grads_clear;  // at begin: no gradient yet (zero or undefined)
    bool grads_full;   // at end: every parameter has a defined gradient
    bool all_require_grad;
  };
  std::vector<Call> calls;
  bool zero_in_end = false;
  void begin(const std::vector<torch::Tensor>& params) override {
    bool clear = true, req = true;
    for (auto& p : params) {
      clear = clear && (!p.grad().defined() || p.grad().abs().max().item<float>() == 0.0f);
      req = req && p.requires_grad();
    }
    calls.push_back({true, params.size(), clear, false, req});
  }
  void end(const std::vector<torch::Tensor>& params) override {
    bool full = true;
    for (auto& p : params) full = full && p.grad().defined();
    calls.push_back({false, params.size(), false, full, true});
    if (zero_in_end)
      for (auto& p : params) p.mutable_grad().zero_();
  }
};

// The raw tensors of a batch, and the two GANs' views of it.
struct Batch {
  torch::Tensor images, real_emb, wrong_emb, noise;
};

Batch make_batch(int64_t B, bool wrong, int64_t noise_dim = 0) {
  Batch b;
  b.images = torch::rand({B, 3, 64, 64}) * 2 - 1;
  b.real_emb = torch::randn({B, 512});
  if (wrong) b.wrong_emb = torch::randn({B, 512});
  if (noise_dim) b.noise = torch::randn({B, noise_dim});
  return b;
}

StepInputs img2text_view(const Batch& b) {
  StepInputs in;
  in.condition = b.images;
  in.real = b.real_emb;
  if (b.wrong_emb.defined()) in.wrong_sample = b.wrong_emb, in.wrong_condition = b.images;
  return in;
}

StepInputs text2img_view(const Batch& b) {
  StepInputs in;
  in.condition = b.real_emb;
  in.real = b.images;
  in.noise = b.noise;
  if (b.wrong_emb.defined()) in.wrong_sample = b.images, in.wrong_condition = b.wrong_emb;
  return in;
}

GanOptions matching(bool matching_aware) {
  GanOptions o;
  o.matching_aware = matching_aware;
  return o;
}

models::Text2ImgOptions t2i(bool conditional, int64_t noise) {
  models::Text2ImgOptions o;
  o.ngf = 8;  // small and fast; the structure is the same
  o.ndf = 8;
  o.conditional = conditional;
  o.noise_dim = noise;
  return o;
}

}  // namespace

TEST(Img2TextStep, LossesMatchAnIndependentRecomputation) {
  for (bool conditional : {false, true}) {
    SCOPED_TRACE(conditional);
    torch::manual_seed(10);
    models::Img2TextOptions o;
    o.conditional = conditional;
    Img2TextGan gan(o, matching(conditional), AdamSettings{}, torch::kCPU);
    auto G0 = deep_copy(gan.G);
    auto D0 = deep_copy(gan.D);
    Batch in = make_batch(4, conditional);
    NoGradSync sync;
    StepStats s = train_step(gan, img2text_view(in), sync);
    EXPECT_EQ(s.d_loss.dim(), 0);
    EXPECT_FALSE(s.d_loss.requires_grad());

    torch::NoGradGuard ng;
    torch::Tensor fake = G0(in.images);
    torch::Tensor real_l = D0(in.real_emb, in.images), fake_l = D0(fake, in.images);
    torch::Tensor d_loss = bce(real_l, 1) + bce(fake_l, 0);
    if (conditional) d_loss = bce(real_l, 1) + (bce(fake_l, 0) + bce(D0(in.wrong_emb, in.images), 0)) / 2;
    EXPECT_NEAR(s.d_loss.item<double>(), (d_loss / 2).item<double>(), 1e-6);
    EXPECT_NEAR(s.d_real.item<double>(), torch::sigmoid(real_l).mean().item<double>(), 1e-6);
    EXPECT_NEAR(s.d_fake.item<double>(), torch::sigmoid(fake_l).mean().item<double>(), 1e-6);
    // G loss: the original G through the UPDATED discriminator (no BatchNorm here, so D's final state is it).
    EXPECT_NEAR(s.g_loss.item<double>(), bce(gan.D(G0(in.images), in.images), 1).item<double>(), 1e-6);
    EXPECT_FALSE(unchanged(*gan.G, snapshot(*G0)));
    EXPECT_FALSE(unchanged(*gan.D, snapshot(*D0)));
  }
}

TEST(Text2ImgStep, LossesMatchAnIndependentRecomputation) {
  for (bool conditional : {false, true}) {
    SCOPED_TRACE(conditional);
    torch::manual_seed(11);
    const int64_t noise = conditional ? 16 : 0;
    Text2ImgGan gan(t2i(conditional, noise), matching(conditional), AdamSettings{}, torch::kCPU);
    auto G0 = deep_copy(gan.G);
    auto D0 = deep_copy(gan.D);
    Batch in = make_batch(3, conditional, noise);
    NoGradSync sync;
    StepStats s = train_step(gan, text2img_view(in), sync);

    torch::NoGradGuard ng;
    // Train-mode BatchNorm: each D call normalises with its own batch, so real and fake must be separate
    // calls.
    torch::Tensor fake = G0(in.real_emb, in.noise);
    torch::Tensor real_l = D0(in.images, in.real_emb), fake_l = D0(fake, in.real_emb);
    EXPECT_EQ(real_l.sizes(), (std::vector<int64_t>{75, 1}));
    torch::Tensor fake_term = bce(fake_l, 0);
    if (conditional) fake_term = (fake_term + bce(D0(in.images, in.wrong_emb), 0)) / 2;
    EXPECT_NEAR(s.d_loss.item<double>(), ((bce(real_l, 1) + fake_term) / 2).item<double>(), 1e-6);
    EXPECT_NEAR(s.d_fake.item<double>(), torch::sigmoid(fake_l).mean().item<double>(), 1e-6);
    // The G step runs a fresh G forward (same inputs, so same fake as the D step's) through the updated D.
    auto D1 = deep_copy(gan.D);  // its running stats do not matter: train mode uses batch statistics
    EXPECT_NEAR(s.g_loss.item<double>(), bce(D1(fake, in.real_emb), 1).item<double>(), 1e-6);
  }
}

TEST(GanStep, GradSyncBracketsEachBackward) {
  torch::manual_seed(12);
  Text2ImgGan gan(t2i(true, 8), matching(true), AdamSettings{}, torch::kCPU);
  RecordingSync sync;
  train_step(gan, text2img_view(make_batch(2, true, 8)), sync);
  // A second step: grads from the first step exist and must be zeroed before each backward.
  train_step(gan, text2img_view(make_batch(2, true, 8)), sync);
  const size_t nd = gan.D->parameters().size(), ng = gan.G->parameters().size();
  ASSERT_EQ(sync.calls.size(), 8u);
  for (int step = 0; step < 2; ++step) {
    auto* c = &sync.calls[step * 4];
    EXPECT_TRUE(c[0].begin);
    EXPECT_EQ(c[0].n, nd);
    EXPECT_TRUE(c[0].grads_clear);
    EXPECT_FALSE(c[1].begin);
    EXPECT_EQ(c[1].n, nd);
    EXPECT_TRUE(c[1].grads_full);
    EXPECT_TRUE(c[2].begin);
    EXPECT_EQ(c[2].n, ng);
    EXPECT_TRUE(c[2].grads_clear);
    EXPECT_TRUE(c[2].all_require_grad);
    EXPECT_TRUE(c[3].grads_full);
  }
  for (auto& p : gan.D->parameters()) EXPECT_TRUE(p.requires_grad());  // restored after the G step
}

TEST(GanStep, OptimizerStepsOnlyAfterSyncEnd) {
  // A sync whose end() zeroes every gradient: Adam with all-zero gradients moves nothing (m = v = 0), so the
  // parameters are unchanged exactly when opt.step() runs after end().
  torch::manual_seed(13);
  Img2TextGan gan(models::Img2TextOptions{}, matching(false), AdamSettings{}, torch::kCPU);
  auto g0 = snapshot(*gan.G), d0 = snapshot(*gan.D);
  RecordingSync sync;
  sync.zero_in_end = true;
  train_step(gan, img2text_view(make_batch(4, false)), sync);
  EXPECT_TRUE(unchanged(*gan.G, g0));
  EXPECT_TRUE(unchanged(*gan.D, d0));
}

TEST(GanStep, GeneratorStepLeavesDiscriminatorGradients) {
  // The D gradients after the step are exactly the D step's: the frozen D got none from the G backward.
  torch::manual_seed(14);
  Img2TextGan gan(models::Img2TextOptions{}, matching(false), AdamSettings{}, torch::kCPU);
  struct Capture : GradSync {
    std::vector<torch::Tensor> first_end;
    void end(const std::vector<torch::Tensor>& params) override {
      if (first_end.empty())
        for (auto& p : params) first_end.push_back(p.grad().clone());
    }
  } sync;
  train_step(gan, img2text_view(make_batch(4, false)), sync);
  auto params = gan.D->parameters();
  ASSERT_EQ(params.size(), sync.first_end.size());
  for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i].grad(), sync.first_end[i]));
}

TEST(GanStep, AdamSettingsFromConfig) {
  Config c;
  c.train.lr = 1e-3;
  c.train.beta1 = 0.4;
  c.train.beta2 = 0.99;
  c.train.adam_eps = 1e-6;
  c.text2img.image_size = 64;
  c.text2img.ngf = c.text2img.ndf = 8;
  c.text2img.latent_dim = 16;
  c.text2img.noise_dim = 12;
  c.text2img.conditional = c.text2img.matching_aware = true;
  auto gan = make_gan(c, "text2img", torch::kCPU);
  auto& o = static_cast<torch::optim::AdamOptions&>(gan->generator_optimizer().param_groups()[0].options());
  EXPECT_DOUBLE_EQ(o.lr(), 1e-3);
  EXPECT_DOUBLE_EQ(std::get<0>(o.betas()), 0.4);
  EXPECT_DOUBLE_EQ(std::get<1>(o.betas()), 0.99);
  EXPECT_DOUBLE_EQ(o.eps(), 1e-6);
  EXPECT_TRUE(gan->matching_aware());
  EXPECT_EQ(dynamic_cast<Text2ImgGan&>(*gan).G->options.noise_dim, 12);
  EXPECT_EQ(dynamic_cast<Text2ImgGan&>(*gan).G->options.latent_dim, 16);
  EXPECT_THROW(make_gan(c, "img2txt", torch::kCPU), Error);
}

TEST(GanStep, BadCombinationsAreErrors) {
  models::Img2TextOptions unconditional;
  EXPECT_THROW(Img2TextGan(unconditional, matching(true), AdamSettings{}, torch::kCPU), Error);
  EXPECT_THROW(Text2ImgGan(t2i(false, 0), matching(true), AdamSettings{}, torch::kCPU), Error);
  Img2TextGan gan(unconditional, matching(false), AdamSettings{}, torch::kCPU);
  NoGradSync sync;
  EXPECT_THROW(train_step(gan, img2text_view(make_batch(2, /*wrong=*/true)), sync), Error);
  Text2ImgGan t(t2i(true, 0), matching(true), AdamSettings{}, torch::kCPU);
  EXPECT_THROW(train_step(t, text2img_view(make_batch(2, /*wrong=*/false, 0)), sync), Error);
}

TEST(GanStep, RepeatedRunningStatsEqualsTwoForwards) {
  // One forward under RepeatedRunningStats leaves the running statistics of two identical forwards.
  torch::manual_seed(13);
  torch::nn::Sequential once(torch::nn::Conv2d(3, 4, 3), torch::nn::BatchNorm2d(4));
  auto twice = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(once->clone());
  auto plain = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(once->clone());
  const auto x = torch::randn({5, 3, 6, 6}) * 3 + 1;
  {
    RepeatedRunningStats repeat(*once);
    once->forward(x);
  }
  twice->forward(x);
  twice->forward(x);
  plain->forward(x);
  auto* a = once[1]->as<torch::nn::BatchNorm2dImpl>();
  auto* b = (*twice)[1]->as<torch::nn::BatchNorm2dImpl>();
  auto* c = (*plain)[1]->as<torch::nn::BatchNorm2dImpl>();
  EXPECT_TRUE(torch::allclose(a->running_mean, b->running_mean, 1e-6, 1e-7));
  EXPECT_TRUE(torch::allclose(a->running_var, b->running_var, 1e-6, 1e-7));
  EXPECT_EQ(a->num_batches_tracked.item<int64_t>(), 2);
  EXPECT_EQ(*a->options.momentum(), 0.1);                                       // restored
  EXPECT_FALSE(torch::allclose(c->running_mean, b->running_mean, 1e-3, 1e-4));  // one update is not two
}
