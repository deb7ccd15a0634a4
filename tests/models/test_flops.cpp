// FLOP counts (models/flops.h) against a hand count for the original networks at 64x64, written out below,
// and the effect of each switch that changes what a step computes.
#include <gtest/gtest.h>

#include <cstdlib>

#include "fergan/core/config.h"
#include "fergan/models/flops.h"
#include "fergan/models/img2text.h"
#include "fergan/models/text2img.h"

using namespace fergan;
using namespace fergan::models;

namespace {
Config original() {
  const char* d = std::getenv("FERGAN_SOURCE_DIR");
  return load_config(std::string(d ? d : ".") + "/config/original.yaml");
}

// Text->Image generator, ngf 64, 64x64 (2 FLOPs per multiply-add):
//   fc 512 -> 512*8*8:                         2 * 512 * 32768             =  33,554,432
//   ConvT 512->256 k4, 8x8 in:                 2 * 512 * 64 * 256 * 16     = 268,435,456
//   ConvT 256->128 k4, 16x16 in:               2 * 256 * 256 * 128 * 16    = 268,435,456
//   ConvT 128->64 k4, 32x32 in:                2 * 128 * 1024 * 64 * 16    = 268,435,456
//   ConvT 64->3 k3 s1, 64x64 in:               2 * 64 * 4096 * 3 * 9       =  14,155,776
constexpr double kT2iFc = 2.0 * 512 * 32768, kT2iUp = 2.0 * 512 * 64 * 256 * 16,
                 kT2iOut = 2.0 * 64 * 4096 * 3 * 9;
constexpr double kT2iG = kT2iFc + 3 * kT2iUp + kT2iOut;  // 853,016,576
// Text->Image discriminator, ndf 64:
//   Conv 3->64 k4, 32x32 out:                  2 * 64 * 1024 * 3 * 16      =   6,291,456
//   Conv 64->128 k4, 16x16 out:                2 * 128 * 256 * 64 * 16     =  67,108,864
//   Conv 128->256 k4, 8x8 out:                 2 * 256 * 64 * 128 * 16     =  67,108,864
//   Conv 256->1 k4 s1 p0, 5x5 out:             2 * 1 * 25 * 256 * 16       =     204,800
constexpr double kT2iD1 = 2.0 * 64 * 1024 * 3 * 16, kT2iD23 = 2 * (2.0 * 128 * 256 * 64 * 16),
                 kT2iDHead = 2.0 * 25 * 256 * 16;
constexpr double kT2iD = kT2iD1 + kT2iD23 + kT2iDHead;  // 140,713,984
// D step: G forward; D on real and on fake, each forward + weight gradients + input gradients of every layer
// but the first (its input is data). G step: G weight gradients + input gradients but the fc's (its forward
// is the D step's, reused); D forward + input gradients only (D is frozen).
constexpr double kT2iDStep = kT2iG + 2 * (kT2iD + kT2iD + (kT2iD - kT2iD1));  // 1,684,717,568
constexpr double kT2iGStep = (kT2iG + (kT2iG - kT2iFc)) + (kT2iD + kT2iD);    // 1,953,906,688

// Image->Text generator at 64x64: Conv 3->64 (32x32 out) 6,291,456; Conv 64->128 (16x16) 67,108,864;
// Conv 128->256 (8x8) 67,108,864; Linear 256->512: 2 * 256 * 512 = 262,144.
constexpr double kI2tC1 = 2.0 * 64 * 1024 * 3 * 16,
                 kI2tG = kI2tC1 + 2 * (2.0 * 128 * 256 * 64 * 16) + 2.0 * 256 * 512;
// Image->Text discriminator: Linear 512->256 (262,144) + Linear 256->1 (512).
constexpr double kI2tTrunk = 2.0 * 512 * 256, kI2tD = kI2tTrunk + 2.0 * 256;
constexpr double kI2tDStep = kI2tG + 2 * (kI2tD + kI2tD + (kI2tD - kI2tTrunk));  //   141,822,976
constexpr double kI2tGStep = (kI2tG + (kI2tG - kI2tC1)) + (kI2tD + kI2tD);       //   275,776,512
}  // namespace

TEST(Flops, OriginalText2ImgMatchesHandCount) {
  const StepFlops f = training_step_flops(original(), "text2img");
  EXPECT_EQ(f.generator_forward, kT2iG);
  EXPECT_EQ(f.discriminator_forward, kT2iD);
  EXPECT_EQ(f.d_step, kT2iDStep);
  EXPECT_EQ(f.g_step, kT2iGStep);
  EXPECT_EQ(f.total(), 3638624256.0);
}

TEST(Flops, OriginalImg2TextMatchesHandCount) {
  const StepFlops f = training_step_flops(original(), "img2text");
  EXPECT_EQ(f.generator_forward, kI2tG);
  EXPECT_EQ(f.discriminator_forward, kI2tD);
  EXPECT_EQ(f.d_step, kI2tDStep);
  EXPECT_EQ(f.g_step, kI2tGStep);
  EXPECT_EQ(f.total(), 417599488.0);
}

TEST(Flops, LargerImagesAddOneBlockPerDoubling) {
  Config c = original();
  c.text2img.image_size = 128;
  const StepFlops f = training_step_flops(c, "text2img");
  // One more ConvT 64->32 on a 64x64 input, and the output conv now 32->3 on 128x128.
  const double g128 = kT2iFc + 3 * kT2iUp + 2.0 * 64 * 4096 * 32 * 16 + 2.0 * 32 * 16384 * 3 * 9;
  EXPECT_EQ(f.generator_forward, g128);
  // D: 3->64 (64x64 out), 64->128 (32x32), 128->256 (16x16), 256->512 (8x8), head 512->1 (5x5).
  const double d128 = 2.0 * 64 * 4096 * 3 * 16 + 2.0 * 128 * 1024 * 64 * 16 + 2.0 * 256 * 256 * 128 * 16 +
                      2.0 * 512 * 64 * 256 * 16 + 2.0 * 25 * 512 * 16;
  EXPECT_EQ(f.discriminator_forward, d128);
}

TEST(Flops, SwitchesChangeTheCount) {
  const Config base = original();
  const StepFlops plain = training_step_flops(base, "text2img");
  {
    Config c = base;
    c.text2img.noise_dim = 128;  // the fc reads 640 inputs
    EXPECT_EQ(training_step_flops(c, "text2img").generator_forward - plain.generator_forward,
              2.0 * 128 * 32768);
  }
  {
    Config c = base;
    c.text2img.conditional =
        true;  // a projection 512 -> 256 of the caption: forward, and its weight gradient
    const StepFlops f = training_step_flops(c, "text2img");
    const double projection = 2.0 * 512 * 256;
    EXPECT_EQ(f.discriminator_forward - plain.discriminator_forward, projection);
    EXPECT_EQ(f.d_step - plain.d_step, 2 * 2 * projection);  // real and fake, forward + weight gradient
    EXPECT_EQ(f.g_step - plain.g_step, projection);          // forward only: frozen, fed by the caption
  }
  {
    Config c = base;
    c.text2img.matching_aware = true;  // a third D pass in the D step
    const StepFlops f = training_step_flops(c, "text2img");
    EXPECT_EQ(f.d_step - plain.d_step, (plain.d_step - plain.generator_forward) / 2);
    EXPECT_EQ(f.g_step, plain.g_step);
  }
  {
    Config c = base;
    c.text2img.noise_dim = 16;
    const StepFlops without = training_step_flops(c, "text2img");
    c.text2img.mode_seeking = 1;  // two noise draws per sample in the G step
    // ... each with its own G forward: the D step's output is reused only without the term.
    EXPECT_EQ(training_step_flops(c, "text2img").g_step, 2 * (without.g_step + without.generator_forward));
  }
  {
    Config c = base;
    c.text2img.film = true;  // one Linear(512 -> 2*out) per up-block
    EXPECT_EQ(training_step_flops(c, "text2img").generator_forward - plain.generator_forward,
              2.0 * 512 * 2 * (256 + 128 + 64));
  }
  {
    Config c = base;
    c.img2text.encoder = "deep";  // a fourth conv 256->256 (4x4 out) and fc 4096 -> 512
    const double deep = kI2tG - 2.0 * 256 * 512 + 2.0 * 256 * 16 * 256 * 16 + 2.0 * 4096 * 512;
    EXPECT_EQ(training_step_flops(c, "img2text").generator_forward, deep);
  }
}

namespace {
// The weights of every conv, transposed conv and linear layer of a built network: a second path to the
// layer lists, so a layer added to a network but not to the count (or with other widths) fails here.
int64_t counted_layer_weights(const torch::nn::Module& module) {
  int64_t sum = 0;
  for (const auto& m : module.modules(/*include_self=*/true)) {
    if (auto* c = m->as<torch::nn::Conv2dImpl>()) sum += c->weight.numel();
    if (auto* t = m->as<torch::nn::ConvTranspose2dImpl>()) sum += t->weight.numel();
    if (auto* l = m->as<torch::nn::LinearImpl>()) sum += l->weight.numel();
  }
  return sum;
}

int64_t listed_weights(const std::vector<LayerFlops>& layers) {
  int64_t sum = 0;
  for (const auto& l : layers) sum += l.weights;
  return sum;
}
}  // namespace

TEST(Flops, LayerListsCoverEveryWeightOfTheBuiltNetworks) {
  const Config base = original();
  std::vector<std::pair<std::string, Config>> variants{{"original", base}};
  auto variant = [&](const std::string& name, auto&& change) {
    Config c = base;
    change(c);
    variants.emplace_back(name, c);
  };
  variant("128", [](Config& c) { c.text2img.image_size = 128; });
  variant("256", [](Config& c) { c.text2img.image_size = 256; });
  variant("noise", [](Config& c) { c.text2img.noise_dim = 100; });
  variant("conditional", [](Config& c) { c.text2img.conditional = true, c.img2text.conditional = true; });
  variant("film", [](Config& c) { c.text2img.film = true, c.text2img.noise_dim = 16; });
  variant("minibatch_std", [](Config& c) { c.text2img.minibatch_std = true; });
  variant("grey", [](Config& c) { c.text2img.channels = 1; });
  variant("widths", [](Config& c) { c.text2img.ngf = 32, c.text2img.ndf = 48; });
  variant("deep", [](Config& c) { c.img2text.encoder = "deep"; });
  for (const auto& [name, c] : variants) {
    const auto t = Text2ImgOptions::from(c);
    const auto i = Img2TextOptions::from(c);
    EXPECT_EQ(listed_weights(text2img_generator_flops(t)), counted_layer_weights(*Text2ImageGenerator(t)))
        << name;
    EXPECT_EQ(listed_weights(text2img_discriminator_flops(t)),
              counted_layer_weights(*Text2ImageDiscriminator(t)))
        << name;
    EXPECT_EQ(listed_weights(img2text_generator_flops(i)), counted_layer_weights(*Img2TextGenerator(i)))
        << name;
    EXPECT_EQ(listed_weights(img2text_discriminator_flops(i)),
              counted_layer_weights(*Img2TextDiscriminator(i)))
        << name;
  }
}
