// Step inputs against their defining properties: the per-sample draws are a function of (seed, phase, epoch,
// sample index) alone, so splitting a global batch over ranks (the sampler interleaves: rank r takes every
// world-th sample) gives every sample exactly the inputs it gets in one process; and each GAN sees the batch
// in its own roles (condition / real / wrong pair).
#include <gtest/gtest.h>

#include "fergan/core/check.h"
#include "fergan/data/loader.h"
#include "fergan/train/step_inputs.h"

using namespace fergan;
using namespace fergan::train;

namespace {

constexpr int64_t kLabels = 7, kTemplates = 3, kDim = 16;

std::vector<int64_t> caption_labels() {
  std::vector<int64_t> labels;
  for (int64_t l = 0; l < kLabels; ++l)
    for (int64_t t = 0; t < kTemplates; ++t) labels.push_back(l);
  return labels;
}

Config config_for(bool resample, bool matching_aware, int noise_dim) {
  Config c;
  c.seed = 5;
  c.captions.resample = resample;
  c.img2text.matching_aware = c.text2img.matching_aware = matching_aware;
  c.img2text.latent_dim = c.text2img.latent_dim = kDim;
  c.text2img.noise_dim = noise_dim;
  c.text2img.image_size = 64;
  c.img2text.flip = true;
  return c;
}

// A batch of the given sample indices; images, labels and stored captions are functions of the index.
data::Batch batch_of(const std::vector<int64_t>& indices) {
  const auto n = static_cast<int64_t>(indices.size());
  data::Batch b;
  b.indices = torch::tensor(indices, torch::kLong);
  b.labels = b.indices % kLabels;
  b.captions = b.labels * kTemplates + torch::div(b.indices, kLabels, "floor") % kTemplates;
  b.images = torch::empty({n, 48, 48, 1}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) b.images[i].fill_((indices[static_cast<size_t>(i)] * 37) % 256);
  return b;
}

// The same batch with faces that are not mirror-symmetric: a left-to-right ramp plus the index.
data::Batch asymmetric_batch_of(const std::vector<int64_t>& indices) {
  data::Batch b = batch_of(indices);
  const auto ramp = torch::arange(48, torch::kLong).view({1, 1, 48, 1}) * 4;
  b.images = ((ramp + b.indices.view({-1, 1, 1, 1})) % 256)
                 .expand({b.indices.size(0), 48, 48, 1})
                 .to(torch::kUInt8)
                 .contiguous();
  return b;
}

std::vector<int64_t> range(int64_t from, int64_t to, int64_t stride = 1) {
  std::vector<int64_t> v;
  for (int64_t i = from; i < to; i += stride) v.push_back(i);
  return v;
}

}  // namespace

TEST(StepInputs, RanksDrawWhatOneProcessDraws) {
  const auto table = torch::randn({kLabels * kTemplates, kDim});
  for (const std::string phase : {"img2text", "text2img"}) {
    SCOPED_TRACE(phase);
    const Config c = config_for(/*resample=*/true, /*matching_aware=*/true, /*noise_dim=*/8);
    StepInputBuilder builder(c, phase, caption_labels(), table, torch::kCPU);
    const int64_t world = 3, per_rank = 4, global = world * per_rank;
    const auto whole = builder.build(asymmetric_batch_of(range(0, global)), /*epoch=*/2);
    for (int64_t rank = 0; rank < world; ++rank) {
      const auto part = builder.build(asymmetric_batch_of(range(rank, global, world)), 2);
      const auto rows = torch::tensor(range(rank, global, world), torch::kLong);
      for (const auto& [ours, theirs] : std::vector<std::pair<torch::Tensor, torch::Tensor>>{
               {part.condition, whole.condition},
               {part.real, whole.real},
               {part.wrong_sample, whole.wrong_sample},
               {part.wrong_condition, whole.wrong_condition}}) {
        EXPECT_TRUE(torch::equal(ours, theirs.index_select(0, rows))) << "rank " << rank;
      }
      if (phase == "text2img") EXPECT_TRUE(torch::equal(part.noise, whole.noise.index_select(0, rows)));
    }
  }
}

TEST(StepInputs, DrawsDependOnEpochAndPhaseNotOnBatchPosition) {
  CaptionIndex captions(caption_labels());
  DrawSettings s = DrawSettings::from(config_for(true, true, 4), "text2img");
  const SampleDraw a = draw_sample(s, captions, 0, 17, 3, 9);
  const SampleDraw again = draw_sample(s, captions, 0, 17, 3, 9);
  EXPECT_EQ(a.caption, again.caption);
  EXPECT_EQ(a.noise, again.noise);
  EXPECT_NE(a.noise, draw_sample(s, captions, 1, 17, 3, 9).noise);  // another epoch
  EXPECT_NE(a.noise, draw_sample(s, captions, 0, 18, 3, 9).noise);  // another sample
  DrawSettings other_phase = s;
  other_phase.phase = "img2text";
  EXPECT_NE(a.noise, draw_sample(other_phase, captions, 0, 17, 3, 9).noise);
}

TEST(StepInputs, CaptionsComeFromTheRightEmotions) {
  CaptionIndex captions(caption_labels());
  const DrawSettings resample = DrawSettings::from(config_for(true, true, 0), "img2text");
  const DrawSettings stored = DrawSettings::from(config_for(false, true, 0), "img2text");
  std::vector<int64_t> used(kLabels * kTemplates, 0);
  for (int64_t i = 0; i < 2000; ++i) {
    const int64_t label = i % kLabels, stored_caption = label * kTemplates + 1;
    const SampleDraw d = draw_sample(resample, captions, 0, i, label, stored_caption);
    EXPECT_EQ(captions.labels[static_cast<size_t>(d.caption)], label);
    EXPECT_NE(captions.labels[static_cast<size_t>(d.wrong_caption)], label);
    ++used[static_cast<size_t>(d.caption)];
    EXPECT_EQ(draw_sample(stored, captions, 0, i, label, stored_caption).caption, stored_caption);
  }
  for (auto count : used) EXPECT_GT(count, 50);  // resampling reaches every caption of the emotion
  EXPECT_THROW(draw_sample(resample, captions, 0, 0, kLabels, 0), Error);
}

TEST(StepInputs, NoiseIsStandardNormal) {
  CaptionIndex captions(caption_labels());
  const DrawSettings s = DrawSettings::from(config_for(false, false, 64), "text2img");
  std::vector<float> all;
  for (int64_t i = 0; i < 500; ++i) {
    const auto d = draw_sample(s, captions, 0, i, 0, 0);
    ASSERT_EQ(d.noise.size(), 64u);
    all.insert(all.end(), d.noise.begin(), d.noise.end());
  }
  const auto t = torch::tensor(all);
  EXPECT_NEAR(t.mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(t.std().item<double>(), 1.0, 0.02);
}

TEST(StepInputs, EachGanSeesItsRoles) {
  const auto table = torch::randn({kLabels * kTemplates, kDim});
  const auto batch = batch_of(range(0, 6));
  const auto images = data::to_model_input(batch.images, 64);
  Config c = config_for(/*resample=*/false, /*matching_aware=*/true, 8);
  c.img2text.flip = false;
  const auto i2t = StepInputBuilder(c, "img2text", caption_labels(), table, torch::kCPU).build(batch, 0);
  const auto t2i = StepInputBuilder(c, "text2img", caption_labels(), table, torch::kCPU).build(batch, 0);
  const auto stored = table.index_select(0, batch.captions);
  EXPECT_TRUE(torch::equal(i2t.condition, images));
  EXPECT_TRUE(torch::equal(i2t.real, stored));
  EXPECT_TRUE(torch::equal(i2t.wrong_condition, images));
  EXPECT_FALSE(i2t.noise.defined());
  EXPECT_TRUE(torch::equal(t2i.condition, stored));
  // Text->Image trains on the first text2img.channels channels (FER2013's grey is replicated in all three).
  const auto t2i_images = images.narrow(1, 0, c.text2img.channels);
  EXPECT_TRUE(torch::equal(t2i.real, t2i_images));
  EXPECT_TRUE(torch::equal(t2i.wrong_sample, t2i_images));
  EXPECT_EQ(t2i.noise.sizes(), (std::vector<int64_t>{6, 8}));
  // The wrong embedding is a caption of another emotion: never the sample's own row of the table.
  for (int64_t i = 0; i < 6; ++i) EXPECT_FALSE(torch::equal(i2t.wrong_sample[i], stored[i]));
  const auto plain =
      StepInputBuilder(config_for(false, false, 0), "text2img", caption_labels(), table, torch::kCPU)
          .build(batch, 0);
  EXPECT_FALSE(plain.wrong_sample.defined());
  EXPECT_FALSE(plain.noise.defined());
}

TEST(StepInputs, FlipMirrorsTheFacesItDraws) {
  const auto table = torch::randn({kLabels * kTemplates, kDim});
  const Config c = config_for(/*resample=*/true, /*matching_aware=*/true, 0);
  StepInputBuilder builder(c, "img2text", caption_labels(), table, torch::kCPU);
  const auto batch = asymmetric_batch_of(range(0, 64));
  const auto images = data::to_model_input(batch.images, 64);
  const auto in = builder.build(batch, /*epoch=*/1);
  const auto settings = DrawSettings::from(c, "img2text");
  ASSERT_TRUE(settings.flip);
  CaptionIndex captions(caption_labels());
  int64_t mirrored = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const bool flipped = draw_sample(settings, captions, 1, i, i % kLabels, 0).flipped;
    mirrored += flipped;
    EXPECT_TRUE(torch::equal(in.condition[i], flipped ? images[i].flip({2}) : images[i])) << i;
    EXPECT_FALSE(torch::equal(images[i].flip({2}), images[i]));  // the test can see a flip
  }
  EXPECT_TRUE(torch::equal(in.wrong_condition, in.condition));  // the wrong pair shows the same face
  EXPECT_GT(mirrored, 16);
  EXPECT_LT(mirrored, 48);
  EXPECT_TRUE(torch::equal(in.labels, batch.labels));
  // Text->Image never mirrors (img2text.flip is Image->Text's switch).
  const auto t2i = StepInputBuilder(c, "text2img", caption_labels(), table, torch::kCPU).build(batch, 1);
  EXPECT_TRUE(torch::equal(t2i.real, images.narrow(1, 0, c.text2img.channels)));
}
