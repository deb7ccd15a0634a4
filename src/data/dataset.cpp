// ShardDataset: random access to one split of data_prep's shards (see dataset.h).
//
// Opening reads every shard's small per-sample arrays (labels, caption ids) and checks the structure
// against the manifest, so a truncated or foreign file fails at once with the shard's name. Images are
// loaded lazily, one whole shard at a time (one contiguous HDF5 read), into a byte-bounded LRU cache;
// get_batch() is then a memcpy per sample, which is what makes >= 200k samples/s on one core possible.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <list>
#include <mutex>

#include "fergan/core/check.h"
#include "fergan/data/dataset.h"
#include "fergan/data/sha256.h"
#include "h5util.h"

namespace fergan::data {

namespace {

// Bytes of decoded images kept in memory per dataset; FERGAN_READER_CACHE_MB overrides (default 4 GiB).
int64_t cache_limit_bytes() {
  if (const char* env = std::getenv("FERGAN_READER_CACHE_MB")) {
    const double mb = std::atof(env);  // fractions allowed (tests use a few KB to exercise eviction)
    if (mb > 0) return static_cast<int64_t>(mb * (1 << 20));
  }
  return 4ll << 30;
}

}  // namespace

struct ShardDataset::Impl {
  Manifest manifest;
  std::string split;
  std::vector<std::string> paths;    // per shard
  std::vector<int64_t> shard_start;  // first sample index of each shard (+ total at the end)
  std::vector<int64_t> shard_kept;   // samples of each shard
  std::vector<uint8_t> labels;       // per visible sample
  std::vector<int64_t> caption_ids;  // per visible sample
  std::vector<int64_t>
      stored_index;  // visible sample -> index among the split's stored samples (max_samples)
  torch::Tensor caption_embeddings;
  mutable torch::Tensor image_embeddings;
  int64_t size = 0;
  int64_t sample_bytes = 0;

  // LRU cache of whole-shard image buffers.
  mutable std::mutex mutex;
  mutable std::vector<std::shared_ptr<const std::vector<uint8_t>>> cached;
  mutable std::list<size_t> lru;  // most recent first
  mutable int64_t cached_bytes = 0;
  int64_t cache_limit = cache_limit_bytes();

  h5::Handle open_shard(size_t s) const {
    h5::quiet();
    FG_CHECK(std::filesystem::exists(paths[s]), "shard '", paths[s], "' listed in the manifest is missing");
    return h5::Handle(H5_CHECK(H5Fopen(paths[s].c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "shard '", paths[s],
                               "' is corrupt or truncated (cannot open as HDF5)"),
                      H5Fclose);
  }

  template <typename T>
  void read_prefix(hid_t file, const char* name, hid_t mem_type, int64_t rows, int64_t row_elems, T* out,
                   const std::string& where) const {
    h5::Handle ds(H5_CHECK(H5Dopen2(file, name, H5P_DEFAULT), where, ": open '", name, "'"), H5Dclose);
    h5::Handle file_space(H5_CHECK(H5Dget_space(ds), where), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(file_space);
    std::vector<hsize_t> dims(rank);
    H5Sget_simple_extent_dims(file_space, dims.data(), nullptr);
    std::vector<hsize_t> start(rank, 0), count(dims);
    count[0] = static_cast<hsize_t>(rows);
    H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
             where);
    h5::Handle mem_space(H5_CHECK(H5Screate_simple(rank, count.data(), nullptr), where), H5Sclose);
    (void)row_elems;
    H5_CHECK(H5Dread(ds, mem_type, mem_space, file_space, H5P_DEFAULT, out), "shard '", where,
             "' is corrupt or truncated: reading '", name, "' failed");
  }

  std::shared_ptr<const std::vector<uint8_t>> shard_images(size_t s) const {
    std::lock_guard<std::mutex> lock(mutex);
    if (cached[s]) {
      if (lru.front() != s) {
        lru.remove(s);
        lru.push_front(s);
      }
      return cached[s];
    }
    auto buffer = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(shard_kept[s] * sample_bytes));
    {
      auto file = open_shard(s);
      read_prefix(file, "images", H5T_NATIVE_UINT8, shard_kept[s], sample_bytes, buffer->data(), paths[s]);
    }
    // Evict least recently used shards until this one fits (always keep at least this one).
    while (!lru.empty() && cached_bytes + static_cast<int64_t>(buffer->size()) > cache_limit) {
      const size_t victim = lru.back();
      lru.pop_back();
      cached_bytes -= static_cast<int64_t>(cached[victim]->size());
      cached[victim].reset();
    }
    cached[s] = buffer;
    lru.push_front(s);
    cached_bytes += static_cast<int64_t>(buffer->size());
    return buffer;
  }
};

ShardDataset::ShardDataset(const std::string& dir, const std::string& split, bool verify_sha256,
                           int64_t max_samples)
    : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  d.manifest = read_manifest(dir);
  d.split = split;
  const auto& m = d.manifest;
  auto it = m.splits.find(split);
  if (it == m.splits.end()) {
    std::string names;
    for (const auto& [n, _] : m.splits) names += (names.empty() ? "" : ", ") + n;
    fail(str("dataset '", dir, "' has no split '", split, "' (splits: ", names, ")"));
  }
  const auto& shards = it->second;
  FG_CHECK(!shards.empty(), "dataset '", dir, "': split '", split, "' has no shards");
  d.sample_bytes = int64_t(m.height) * m.width * m.channels;
  const int64_t num_captions = static_cast<int64_t>(m.captions.size());
  int64_t total = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    const auto& entry = shards[s];
    d.paths.push_back((std::filesystem::path(dir) / entry.file).string());
    const std::string& path = d.paths.back();
    if (verify_sha256) {
      FG_CHECK(std::filesystem::exists(path), "shard '", path, "' listed in the manifest is missing");
      const std::string actual = sha256_file(path);
      FG_CHECK(actual == entry.sha256, "shard '", path, "' failed its sha256 check (manifest ", entry.sha256,
               ", file ", actual, "): the file is corrupt or was modified");
    }
    const int64_t keep = entry.samples;
    auto file = d.open_shard(s);
    auto dims = h5::dataset_shape(file, "images", path);
    FG_CHECK(dims.size() == 4 && int64_t(dims[0]) == entry.samples && int(dims[1]) == m.height &&
                 int(dims[2]) == m.width && int(dims[3]) == m.channels,
             "shard '", path, "': images has shape [", dims.size() > 0 ? dims[0] : 0, ", ...], expected [",
             entry.samples, ", ", m.height, ", ", m.width, ", ", m.channels, "] from the manifest");
    for (const char* name : {"labels", "caption_ids"}) {
      auto v = h5::dataset_shape(file, name, path);
      FG_CHECK(v.size() == 1 && int64_t(v[0]) == entry.samples, "shard '", path, "': '", name,
               "' does not hold ", entry.samples, " samples");
    }
    const size_t base = d.labels.size();
    d.labels.resize(base + keep);
    d.caption_ids.resize(base + keep);
    d.read_prefix(file, "labels", H5T_NATIVE_UINT8, keep, 1, d.labels.data() + base, path);
    d.read_prefix(file, "caption_ids", H5T_NATIVE_INT64, keep, 1, d.caption_ids.data() + base, path);
    for (int64_t i = 0; i < keep; ++i) {
      FG_CHECK(d.labels[base + i] < m.emotion_names.size(), "shard '", path, "': sample ", i, " has label ",
               int(d.labels[base + i]), " outside the ", m.emotion_names.size(), " emotions");
      FG_CHECK(d.caption_ids[base + i] >= 0 && d.caption_ids[base + i] < num_captions, "shard '", path,
               "': sample ", i, " has caption id ", d.caption_ids[base + i], " outside the caption table");
    }
    if (s == 0) {
      FG_CHECK(h5::read_strings(file, "captions", path) == m.captions, "shard '", path,
               "': its caption table differs from the manifest's");
      auto e = h5::dataset_shape(file, "caption_embeddings", path);
      FG_CHECK(e.size() == 2 && int64_t(e[0]) == num_captions && int(e[1]) == m.embed_dim, "shard '", path,
               "': caption_embeddings is not [", num_captions, ", ", m.embed_dim, "]");
      d.caption_embeddings = torch::empty({num_captions, m.embed_dim}, torch::kFloat32);
      d.read_prefix(file, "caption_embeddings", H5T_NATIVE_FLOAT, num_captions, m.embed_dim,
                    d.caption_embeddings.data_ptr<float>(), path);
    }
    d.shard_start.push_back(total);
    d.shard_kept.push_back(keep);
    total += keep;
  }
  d.shard_start.push_back(total);
  d.size = total;
  // max_samples: evenly spaced over the split rather than its first N, since data_prep stores folder input
  // sorted by emotion and a prefix would hold one or two emotions.
  if (max_samples > 0 && max_samples < total) {
    std::vector<uint8_t> labels(max_samples);
    std::vector<int64_t> caption_ids(max_samples);
    d.stored_index.resize(max_samples);
    for (int64_t k = 0; k < max_samples; ++k) {
      const int64_t stored = k * total / max_samples;
      d.stored_index[k] = stored;
      labels[k] = d.labels[stored];
      caption_ids[k] = d.caption_ids[stored];
    }
    d.labels = std::move(labels);
    d.caption_ids = std::move(caption_ids);
    d.size = max_samples;
  }
  FG_CHECK(d.size > 0, "dataset '", dir, "': split '", split, "' is empty");
  d.cached.resize(d.paths.size());
  if (m.random_embeddings) {
    spdlog::warn(
        "dataset '{}' uses seeded RANDOM caption embeddings (data_prep --random-embeddings), not CLIP: "
        "fine for demos and tests, meaningless for real training",
        dir);
  }
}

ShardDataset::~ShardDataset() = default;
ShardDataset::ShardDataset(ShardDataset&&) noexcept = default;

int64_t ShardDataset::size() const {
  return impl_->size;
}
std::vector<int64_t> ShardDataset::labels() const {
  return std::vector<int64_t>(impl_->labels.begin(), impl_->labels.end());
}
int ShardDataset::height() const {
  return impl_->manifest.height;
}
int ShardDataset::width() const {
  return impl_->manifest.width;
}
int ShardDataset::channels() const {
  return impl_->manifest.channels;
}
const Manifest& ShardDataset::manifest() const {
  return impl_->manifest;
}
const std::vector<std::string>& ShardDataset::captions() const {
  return impl_->manifest.captions;
}
const std::vector<int64_t>& ShardDataset::caption_labels() const {
  return impl_->manifest.caption_labels;
}
torch::Tensor ShardDataset::caption_embeddings() const {
  return impl_->caption_embeddings;
}
bool ShardDataset::random_embeddings() const {
  return impl_->manifest.random_embeddings;
}

torch::Tensor ShardDataset::image_embeddings() const {
  auto& d = *impl_;
  if (!d.manifest.has_image_embeddings) return {};
  std::lock_guard<std::mutex> lock(d.mutex);
  if (!d.image_embeddings.defined()) {
    int64_t dim = 0;
    std::vector<torch::Tensor> parts;
    for (size_t s = 0; s < d.paths.size(); ++s) {
      auto file = d.open_shard(s);
      auto dims = h5::dataset_shape(file, "image_embeddings", d.paths[s]);
      FG_CHECK(dims.size() == 2 && int64_t(dims[0]) >= d.shard_kept[s], "shard '", d.paths[s],
               "': image_embeddings has the wrong shape");
      dim = static_cast<int64_t>(dims[1]);
      auto part = torch::empty({d.shard_kept[s], dim}, torch::kFloat32);
      d.read_prefix(file, "image_embeddings", H5T_NATIVE_FLOAT, d.shard_kept[s], dim, part.data_ptr<float>(),
                    d.paths[s]);
      parts.push_back(part);
    }
    d.image_embeddings = torch::cat(parts, 0);
    if (!d.stored_index.empty())
      d.image_embeddings = d.image_embeddings.index_select(0, torch::tensor(d.stored_index, torch::kInt64));
  }
  return d.image_embeddings;
}

Batch ShardDataset::get_batch(const std::vector<int64_t>& indices) const {
  const auto& d = *impl_;
  const int64_t n = static_cast<int64_t>(indices.size());
  Batch batch;
  batch.images = torch::empty({n, height(), width(), channels()}, torch::kUInt8);
  batch.labels = torch::empty({n}, torch::kInt64);
  batch.captions = torch::empty({n}, torch::kInt64);
  batch.indices = torch::empty({n}, torch::kInt64);
  uint8_t* images = batch.images.data_ptr<uint8_t>();
  int64_t* labels = batch.labels.data_ptr<int64_t>();
  int64_t* captions = batch.captions.data_ptr<int64_t>();
  int64_t* out_indices = batch.indices.data_ptr<int64_t>();
  size_t current = SIZE_MAX;
  std::shared_ptr<const std::vector<uint8_t>> buffer;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t index = indices[i];
    FG_CHECK(index >= 0 && index < d.size, "sample index ", index, " is outside split '", d.split,
             "' of size ", d.size);
    const int64_t stored = d.stored_index.empty() ? index : d.stored_index[index];
    size_t s = current;
    if (s == SIZE_MAX || stored < d.shard_start[s] || stored >= d.shard_start[s + 1]) {
      s = static_cast<size_t>(std::upper_bound(d.shard_start.begin(), d.shard_start.end(), stored) -
                              d.shard_start.begin() - 1);
      buffer = d.shard_images(s);
      current = s;
    }
    std::memcpy(images + i * d.sample_bytes, buffer->data() + (stored - d.shard_start[s]) * d.sample_bytes,
                static_cast<size_t>(d.sample_bytes));
    labels[i] = d.labels[index];
    captions[i] = d.caption_ids[index];
    out_indices[i] = index;
  }
  return batch;
}

}  // namespace fergan::data
