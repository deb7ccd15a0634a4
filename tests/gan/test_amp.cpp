// train.amp = bf16: a Text->Image step under bf16 autocast against the same step in float32 from the same
// weights and batch (losses within 2% relative: bf16 keeps 8 bits of mantissa), with every parameter,
// gradient and optimizer state still float32 afterwards; and the autocast region itself: convolutions run in
// bf16 inside it, in float32 again after it, and regions nest.
#include <gtest/gtest.h>

#include "fergan/core/autocast.h"
#include "fergan/core/check.h"
#include "fergan/gan/gan.h"
#include "fergan/gan/step.h"

using namespace fergan;
using namespace fergan::gan;

namespace {

models::Text2ImgOptions small_networks() {
  models::Text2ImgOptions o;
  o.ngf = 8;
  o.ndf = 8;
  o.noise_dim = 8;
  o.conditional = true;
  return o;
}

StepInputs batch(int64_t B) {
  StepInputs in;
  in.condition = torch::randn({B, 512});
  in.real = torch::rand({B, 3, 64, 64}) * 2 - 1;
  in.noise = torch::randn({B, 8});
  return in;
}

}  // namespace

TEST(Amp, RegionRunsConvolutionsInBf16AndRestores) {
  const auto x = torch::randn({1, 2, 5, 5}), w = torch::randn({3, 2, 3, 3});
  EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kFloat32);
  {
    amp::Region outer(amp::Mode::Bf16, torch::kCPU);
    EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);
    {
      amp::Region inner(amp::Mode::Bf16, torch::kCPU);
      EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);
    }
    EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);  // still inside the outer region
    amp::Region none(amp::Mode::None, torch::kCPU);
    EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);  // None changes nothing
  }
  EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kFloat32);
  EXPECT_EQ(amp::parse("bf16"), amp::Mode::Bf16);
  EXPECT_EQ(amp::parse("none"), amp::Mode::None);
  EXPECT_THROW(amp::parse("fp8"), fergan::Error);
}

TEST(Amp, Bf16StepMatchesFloat32StepAndKeepsFloat32Weights) {
  GanOptions fp32_options, bf16_options;
  bf16_options.amp = amp::Mode::Bf16;
  torch::manual_seed(21);
  Text2ImgGan fp32(small_networks(), fp32_options, AdamSettings{}, torch::kCPU);
  torch::manual_seed(21);
  Text2ImgGan bf16(small_networks(), bf16_options, AdamSettings{}, torch::kCPU);
  NoGradSync sync;
  for (int step = 0; step < 2; ++step) {
    SCOPED_TRACE(step);
    torch::manual_seed(100 + step);
    const StepInputs in = batch(4);
    const StepStats a = train_step(fp32, in, sync), b = train_step(bf16, in, sync);
    EXPECT_EQ(b.d_loss.scalar_type(), torch::kFloat32);
    EXPECT_EQ(b.g_loss.scalar_type(), torch::kFloat32);
    EXPECT_NEAR(b.d_loss.item<double>(), a.d_loss.item<double>(), 2e-2 * std::abs(a.d_loss.item<double>()));
    EXPECT_NEAR(b.g_loss.item<double>(), a.g_loss.item<double>(), 2e-2 * std::abs(a.g_loss.item<double>()));
    // Not vacuous: bf16 arithmetic does change the losses.
    if (step == 0) EXPECT_NE(b.d_loss.item<double>(), a.d_loss.item<double>());
  }
  for (auto* net : {&bf16.generator(), &bf16.discriminator()}) {
    for (const auto& p : net->parameters()) {
      EXPECT_EQ(p.scalar_type(), torch::kFloat32);
      if (p.grad().defined()) EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32);
    }
  }
  for (const auto& [key, state] : bf16.generator_optimizer().state()) {
    const auto& adam = static_cast<const torch::optim::AdamParamState&>(*state);
    EXPECT_EQ(adam.exp_avg().scalar_type(), torch::kFloat32);
    EXPECT_EQ(adam.exp_avg_sq().scalar_type(), torch::kFloat32);
  }
}
