// Loading a shard split into memory for evaluation (see split_data.h).
#include "fergan/eval/split_data.h"

#include <algorithm>

#include "fergan/core/check.h"
#include "fergan/data/dataset.h"
#include "fergan/data/image_tensor.h"

namespace fergan::eval {

torch::Tensor SplitData::model_input(int64_t size) const {
  return data::to_model_input(images_u8, size);
}

std::vector<int64_t> SplitData::first_caption_of_label() const {
  std::vector<int64_t> first(static_cast<size_t>(num_classes()), -1);
  auto labels_acc = caption_labels.accessor<int64_t, 1>();
  for (int64_t c = caption_labels.numel() - 1; c >= 0; --c) {
    const int64_t k = labels_acc[c];
    if (k >= 0 && k < num_classes()) first[static_cast<size_t>(k)] = c;
  }
  return first;
}

SplitData load_split(const std::string& shards, const std::string& split, int64_t max_samples,
                     int64_t subsample, uint64_t seed) {
  data::ShardDataset dataset(shards, split, /*verify_sha256=*/false, max_samples);
  FG_CHECK(dataset.size() > 0, "split '", split, "' of '", shards, "' is empty");
  SplitData d;
  d.shards = shards;
  d.split = split;
  d.caption_strings = dataset.captions();
  d.caption_labels = torch::tensor(dataset.caption_labels(), torch::kLong);
  d.caption_embeddings = dataset.caption_embeddings().to(torch::kFloat);
  d.emotion_names = dataset.manifest().emotion_names;
  d.random_embeddings = dataset.random_embeddings();
  FG_CHECK(!d.emotion_names.empty(), "manifest of '", shards, "' lists no emotion names");

  std::vector<int64_t> indices(static_cast<size_t>(dataset.size()));
  for (int64_t i = 0; i < dataset.size(); ++i) indices[static_cast<size_t>(i)] = i;
  if (subsample > 0 && subsample < dataset.size()) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    auto perm = torch::randperm(dataset.size(), gen, torch::kLong).slice(0, 0, subsample);
    auto sorted = std::get<0>(perm.sort());
    indices.assign(sorted.data_ptr<int64_t>(), sorted.data_ptr<int64_t>() + subsample);
  }
  std::vector<torch::Tensor> images, labels, captions;
  const size_t chunk = 1024;
  for (size_t start = 0; start < indices.size(); start += chunk) {
    std::vector<int64_t> part(
        indices.begin() + static_cast<std::ptrdiff_t>(start),
        indices.begin() + static_cast<std::ptrdiff_t>(std::min(indices.size(), start + chunk)));
    auto batch = dataset.get_batch(part);
    images.push_back(batch.images);
    labels.push_back(batch.labels);
    captions.push_back(batch.captions);
  }
  d.images_u8 = torch::cat(images);
  d.labels = torch::cat(labels).to(torch::kLong);
  d.captions = torch::cat(captions).to(torch::kLong);
  auto image_embeddings = dataset.image_embeddings();
  if (image_embeddings.defined() && image_embeddings.numel() > 0) {
    d.image_embeddings =
        image_embeddings.index_select(0, torch::tensor(indices, torch::kLong)).to(torch::kFloat);
  }
  return d;
}

}  // namespace fergan::eval
