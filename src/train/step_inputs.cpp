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
  } else {
    s.matching_aware = config.text2img.matching_aware;
    s.noise_dim = config.text2img.noise_dim;
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
      image_to_text_(phase == "img2text") {}

gan::StepInputs StepInputBuilder::build(const data::Batch& batch, int64_t epoch) const {
  const int64_t n = batch.labels.size(0);
  auto labels = batch.labels.accessor<int64_t, 1>();
  auto stored = batch.captions.accessor<int64_t, 1>();
  auto index = batch.indices.accessor<int64_t, 1>();
  std::vector<int64_t> real_ids, wrong_ids;
  torch::Tensor noise;
  if (settings_.noise_dim > 0) noise = torch::empty({n, settings_.noise_dim});
  for (int64_t i = 0; i < n; ++i) {
    const SampleDraw draw = draw_sample(settings_, captions_, epoch, index[i], labels[i], stored[i]);
    real_ids.push_back(draw.caption);
    if (settings_.matching_aware) wrong_ids.push_back(draw.wrong_caption);
    if (noise.defined())
      std::copy(draw.noise.begin(), draw.noise.end(), noise.data_ptr<float>() + i * settings_.noise_dim);
  }
  const torch::Tensor images =
      data::to_model_input(batch.images, image_size_).to(device_, /*non_blocking=*/true);
  const torch::Tensor caption_emb = embeddings_.index_select(0, torch::tensor(real_ids).to(device_));
  torch::Tensor wrong_emb;
  if (settings_.matching_aware) wrong_emb = embeddings_.index_select(0, torch::tensor(wrong_ids).to(device_));

  gan::StepInputs in;
  if (noise.defined()) in.noise = noise.to(device_, /*non_blocking=*/true);
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
