// Per-sample draws and step inputs (see step_inputs.h).
#include "fergan/train/step_inputs.h"

#include <algorithm>

#include "fergan/core/check.h"
#include "fergan/data/loader.h"
#include "fergan/data/rng.h"

namespace fergan::train {

CaptionIndex::CaptionIndex(const std::vector<int64_t>& caption_labels) : labels(caption_labels) {
  int64_t max_label = 0;
  for (auto l : caption_labels) max_label = std::max(max_label, l);
  by_label.resize(static_cast<size_t>(max_label + 1));
  for (size_t i = 0; i < caption_labels.size(); ++i)
    by_label[static_cast<size_t>(caption_labels[i])].push_back(static_cast<int64_t>(i));
}

DrawSettings DrawSettings::from(const Config& config, const std::string& phase) {
  DrawSettings s;
  s.seed = config.seed;
  s.phase = phase;
  s.resample = config.captions.resample;
  if (phase == "img2text") {
    s.matching_aware = config.img2text.matching_aware;
    s.flip = config.img2text.flip;
  } else {
    s.matching_aware = config.text2img.matching_aware;
    s.noise_dim = config.text2img.noise_dim;
    s.second_noise = config.text2img.mode_seeking > 0;
    s.augment = !config.text2img.augment.empty();
  }
  return s;
}

SampleDraw draw_sample(const DrawSettings& settings, const CaptionIndex& captions, int64_t epoch,
                       int64_t index, int64_t label, int64_t stored_caption) {
  data::Rng rng(data::splitmix64(settings.seed ^ data::hash_string(settings.phase)) ^
                data::splitmix64(static_cast<uint64_t>(epoch) * 1000003ull + static_cast<uint64_t>(index)));
  FG_CHECK(label >= 0 && label < static_cast<int64_t>(captions.by_label.size()) &&
               !captions.by_label[static_cast<size_t>(label)].empty(),
           "sample ", index, " has label ", label, ", which has no caption in the caption table");
  SampleDraw draw;
  const auto& own = captions.by_label[static_cast<size_t>(label)];
  draw.caption = settings.resample ? own[rng.below(own.size())] : stored_caption;
  if (settings.matching_aware) {
    const auto num_labels = static_cast<uint64_t>(captions.by_label.size());
    FG_CHECK(num_labels > 1, "matching-aware training needs captions of at least two emotions");
    auto other = static_cast<int64_t>(rng.below(num_labels - 1));
    if (other >= label) ++other;  // any label but the sample's own
    const auto& theirs = captions.by_label.at(static_cast<size_t>(other));
    draw.wrong_caption = theirs[rng.below(theirs.size())];
  }
  draw.noise.resize(static_cast<size_t>(settings.noise_dim));
  for (auto& v : draw.noise) v = static_cast<float>(rng.normal());
  // Later draws come after the earlier ones, so switching them on leaves the draws above unchanged.
  if (settings.second_noise) {
    draw.noise2.resize(static_cast<size_t>(settings.noise_dim));
    for (auto& v : draw.noise2) v = static_cast<float>(rng.normal());
  }
  if (settings.augment) {
    draw.augment.resize(static_cast<size_t>(gan::kAugmentUses * gan::kAugmentParams));
    for (auto& v : draw.augment) v = static_cast<float>(rng.uniform());
  }
  if (settings.flip) draw.flipped = rng.uniform() < 0.5;
  return draw;
}

StepInputBuilder::StepInputBuilder(const Config& config, const std::string& phase,
                                   const std::vector<int64_t>& caption_labels,
                                   torch::Tensor caption_embeddings, torch::Device device)
    : settings_(DrawSettings::from(config, phase)),
      captions_(caption_labels),
      embeddings_(caption_embeddings.to(device)),
      device_(device),
      image_size_(phase == "img2text" ? kImg2TextImageSize : config.text2img.image_size),
      channels_(phase == "img2text" ? 3 : config.text2img.channels),
      image_to_text_(phase == "img2text") {}

gan::StepInputs StepInputBuilder::build(const data::Batch& batch, int64_t epoch) const {
  const int64_t n = batch.labels.size(0);
  auto labels = batch.labels.accessor<int64_t, 1>();
  auto stored = batch.captions.accessor<int64_t, 1>();
  auto index = batch.indices.accessor<int64_t, 1>();
  std::vector<int64_t> real_ids, wrong_ids;
  std::vector<int64_t> flipped;
  torch::Tensor noise, noise2, augment;
  if (settings_.noise_dim > 0) noise = torch::empty({n, settings_.noise_dim});
  if (settings_.second_noise) noise2 = torch::empty({n, settings_.noise_dim});
  if (settings_.augment) augment = torch::empty({n, gan::kAugmentUses, gan::kAugmentParams});
  for (int64_t i = 0; i < n; ++i) {
    const SampleDraw draw = draw_sample(settings_, captions_, epoch, index[i], labels[i], stored[i]);
    real_ids.push_back(draw.caption);
    if (settings_.matching_aware) wrong_ids.push_back(draw.wrong_caption);
    flipped.push_back(draw.flipped ? 1 : 0);
    auto copy_row = [i](const std::vector<float>& values, torch::Tensor& to) {
      if (to.defined()) std::copy(values.begin(), values.end(), to.data_ptr<float>() + i * to[0].numel());
    };
    copy_row(draw.noise, noise);
    copy_row(draw.noise2, noise2);
    copy_row(draw.augment, augment);
  }
  // The model input replicates a grey image over 3 channels; a 1-channel network takes the first.
  torch::Tensor images = data::to_model_input(batch.images, image_size_).narrow(1, 0, channels_).contiguous();
  if (settings_.flip) {
    // A mirrored face shows the same emotion: twice the faces for free.
    const auto mask = torch::tensor(flipped).ne(0).view({n, 1, 1, 1});
    images = torch::where(mask, images.flip({3}), images);
  }
  images = images.to(device_, /*non_blocking=*/true);
  const torch::Tensor caption_emb = embeddings_.index_select(0, torch::tensor(real_ids).to(device_));
  torch::Tensor wrong_emb;
  if (settings_.matching_aware) wrong_emb = embeddings_.index_select(0, torch::tensor(wrong_ids).to(device_));

  gan::StepInputs in;
  if (noise.defined()) in.noise = noise.to(device_, /*non_blocking=*/true);
  if (noise2.defined()) in.noise2 = noise2.to(device_, /*non_blocking=*/true);
  if (augment.defined()) in.augment = augment.to(device_, /*non_blocking=*/true);
  in.labels = batch.labels.to(device_, /*non_blocking=*/true);
  if (image_to_text_) {  // G: image -> caption embedding; D judges an embedding given the image
    in.condition = images;
    in.real = caption_emb;
    if (wrong_emb.defined()) in.wrong_sample = wrong_emb, in.wrong_condition = images;
  } else {  // G: caption embedding (+ noise) -> image; D judges an image given the caption embedding
    in.condition = caption_emb;
    in.real = images;
    if (wrong_emb.defined()) in.wrong_sample = images, in.wrong_condition = wrong_emb;
  }
  return in;
}

}  // namespace fergan::train
