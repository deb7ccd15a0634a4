// Streaming HDF5 shard writer (see shard_writer.h).
//
// Samples are buffered one chunk (256 samples) at a time and appended by extending the datasets, so a shard
// never has to fit in memory. Each shard is created as <name>.tmp, closed, fsync'ed, renamed, then hashed.
#include "fergan/data/shard_writer.h"

#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"
#include "fergan/data/sha256.h"
#include "h5util.h"

namespace fergan::data {

const char* const kToolVersion = "fergan-data_prep 1.0";

namespace {
constexpr hsize_t kImageChunk = 256;  // samples per images chunk: ~590 KB at 48x48, one read per 256 samples
constexpr hsize_t kVectorChunk = 4096;
}  // namespace

struct SplitShardWriter::Impl {
  std::string dir, split;
  int64_t samples_per_shard;
  ShardCommon common;
  int64_t sample_bytes;

  std::vector<ShardEntry> done;
  int64_t total = 0;
  uint64_t bytes = 0;

  // The open shard.
  h5::Handle file, images, labels, caption_ids, image_embeddings;
  std::string final_path, tmp_path;
  int64_t in_shard = 0;  // samples written to the open shard
  std::vector<uint8_t> pending_images, pending_labels;
  std::vector<int64_t> pending_captions;
  std::vector<float> pending_embeddings;

  std::string where() const { return tmp_path; }

  h5::Handle create_extendable(const char* name, hid_t type, std::vector<hsize_t> row_shape,
                               hsize_t chunk_rows) {
    std::vector<hsize_t> dims{0}, maxdims{H5S_UNLIMITED}, chunk{chunk_rows};
    for (auto d : row_shape) {
      dims.push_back(d);
      maxdims.push_back(d);
      chunk.push_back(d);
    }
    h5::Handle space(
        H5_CHECK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxdims.data()), where()),
        H5Sclose);
    h5::Handle props(H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), where()), H5Pclose);
    H5_CHECK(H5Pset_chunk(props, static_cast<int>(chunk.size()), chunk.data()), where(), ": chunk '", name,
             "'");
    return h5::Handle(H5_CHECK(H5Dcreate2(file, name, type, space, H5P_DEFAULT, props, H5P_DEFAULT), where(),
                               ": create dataset '", name, "'"),
                      H5Dclose);
  }

  void open_shard() {
    const int index = static_cast<int>(done.size());
    char name[64];
    std::snprintf(name, sizeof(name), "%s-%05d.h5", split.c_str(), index);
    final_path = (std::filesystem::path(dir) / name).string();
    tmp_path = final_path + ".tmp";
    h5::quiet();
    file = h5::Handle(H5_CHECK(H5Fcreate(tmp_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                               "cannot create shard '", tmp_path, "'"),
                      H5Fclose);
    images = create_extendable("images", H5T_STD_U8LE,
                               {hsize_t(common.height), hsize_t(common.width), hsize_t(common.channels)},
                               kImageChunk);
    labels = create_extendable("labels", H5T_STD_U8LE, {}, kVectorChunk);
    caption_ids = create_extendable("caption_ids", H5T_STD_I64LE, {}, kVectorChunk);
    if (common.image_embed_dim > 0) {
      image_embeddings = create_extendable("image_embeddings", H5T_IEEE_F32LE,
                                           {hsize_t(common.image_embed_dim)}, kImageChunk);
    }
    // The caption table and its embeddings: small, identical in every shard so each shard stands alone.
    h5::write_strings(file, "captions", common.captions, where());
    {
      hsize_t dims[1] = {common.caption_labels.size()};
      h5::Handle space(H5_CHECK(H5Screate_simple(1, dims, nullptr), where()), H5Sclose);
      h5::Handle ds(H5_CHECK(H5Dcreate2(file, "caption_labels", H5T_STD_I64LE, space, H5P_DEFAULT,
                                        H5P_DEFAULT, H5P_DEFAULT),
                             where()),
                    H5Dclose);
      H5_CHECK(H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, common.caption_labels.data()),
               where());
    }
    {
      auto table = common.caption_embeddings.to(torch::kFloat32).contiguous();
      hsize_t dims[2] = {hsize_t(table.size(0)), hsize_t(table.size(1))};
      h5::Handle space(H5_CHECK(H5Screate_simple(2, dims, nullptr), where()), H5Sclose);
      h5::Handle ds(H5_CHECK(H5Dcreate2(file, "caption_embeddings", H5T_IEEE_F32LE, space, H5P_DEFAULT,
                                        H5P_DEFAULT, H5P_DEFAULT),
                             where()),
                    H5Dclose);
      H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, table.data_ptr<float>()),
               where());
    }
    nlohmann::json names = common.emotion_names;
    h5::write_string_attr(file, "source", common.source, where());
    h5::write_string_attr(file, "split", split, where());
    h5::write_string_attr(file, "emotion_names", names.dump(), where());
    h5::write_string_attr(file, "clip_model", common.clip_model, where());
    h5::write_int_attr(file, "embed_dim", common.caption_embeddings.size(1), where());
    h5::write_int_attr(file, "random_embeddings", common.random_embeddings ? 1 : 0, where());
    h5::write_string_attr(file, "tool_version", kToolVersion, where());
    in_shard = 0;
  }

  void append_rows(hid_t ds, hid_t mem_type, hsize_t rows, const void* data) {
    h5::Handle space(H5_CHECK(H5Dget_space(ds), where()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(rank);
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    const hsize_t start_row = dims[0];
    dims[0] += rows;
    H5_CHECK(H5Dset_extent(ds, dims.data()), where(), ": extend dataset");
    h5::Handle file_space(H5_CHECK(H5Dget_space(ds), where()), H5Sclose);
    std::vector<hsize_t> start(rank, 0), count(dims);
    start[0] = start_row;
    count[0] = rows;
    H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
             where());
    h5::Handle mem_space(H5_CHECK(H5Screate_simple(rank, count.data(), nullptr), where()), H5Sclose);
    H5_CHECK(H5Dwrite(ds, mem_type, mem_space, file_space, H5P_DEFAULT, data), where(), ": write samples");
  }

  void flush_pending() {
    const hsize_t rows = pending_labels.size();
    if (rows == 0) return;
    append_rows(images, H5T_NATIVE_UINT8, rows, pending_images.data());
    append_rows(labels, H5T_NATIVE_UINT8, rows, pending_labels.data());
    append_rows(caption_ids, H5T_NATIVE_INT64, rows, pending_captions.data());
    if (common.image_embed_dim > 0)
      append_rows(image_embeddings, H5T_NATIVE_FLOAT, rows, pending_embeddings.data());
    pending_images.clear();
    pending_labels.clear();
    pending_captions.clear();
    pending_embeddings.clear();
  }

  void close_shard() {
    flush_pending();
    images.reset();
    labels.reset();
    caption_ids.reset();
    image_embeddings.reset();
    H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), where(), ": flush");
    file.reset();
    fs::fsync_path(tmp_path);
    if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
      fail(str("cannot rename '", tmp_path, "' to '", final_path, "': ", std::strerror(errno)));
    }
    fs::fsync_path(dir);
    ShardEntry entry;
    entry.file = std::filesystem::path(final_path).filename().string();
    entry.samples = in_shard;
    entry.sha256 = sha256_file(final_path);
    bytes += std::filesystem::file_size(final_path);
    done.push_back(entry);
    tmp_path.clear();
  }
};

SplitShardWriter::SplitShardWriter(const std::string& dir, const std::string& split,
                                   int64_t samples_per_shard, const ShardCommon& common)
    : impl_(std::make_unique<Impl>()) {
  FG_CHECK(samples_per_shard > 0, "samples per shard must be > 0, got ", samples_per_shard);
  FG_CHECK(common.height > 0 && common.width > 0 && common.channels > 0, "shard writer: image size not set");
  FG_CHECK(common.caption_embeddings.defined() && common.caption_embeddings.dim() == 2 &&
               common.caption_embeddings.size(0) == static_cast<int64_t>(common.captions.size()),
           "shard writer: caption embeddings must be [", common.captions.size(), ", D]");
  impl_->dir = dir;
  impl_->split = split;
  impl_->samples_per_shard = samples_per_shard;
  impl_->common = common;
  impl_->sample_bytes = int64_t(common.height) * common.width * common.channels;
}

SplitShardWriter::~SplitShardWriter() {
  if (impl_ && !impl_->tmp_path.empty()) {
    impl_->images.reset();
    impl_->labels.reset();
    impl_->caption_ids.reset();
    impl_->image_embeddings.reset();
    impl_->file.reset();
    ::unlink(impl_->tmp_path.c_str());
  }
}

void SplitShardWriter::append(const uint8_t* pixels, int label, int64_t caption_id, const float* embedding) {
  auto& s = *impl_;
  if (s.tmp_path.empty()) s.open_shard();
  s.pending_images.insert(s.pending_images.end(), pixels, pixels + s.sample_bytes);
  s.pending_labels.push_back(static_cast<uint8_t>(label));
  s.pending_captions.push_back(caption_id);
  if (s.common.image_embed_dim > 0) {
    FG_CHECK(embedding != nullptr, "shard writer: image embedding missing for a sample");
    s.pending_embeddings.insert(s.pending_embeddings.end(), embedding, embedding + s.common.image_embed_dim);
  }
  ++s.in_shard;
  ++s.total;
  if (s.pending_labels.size() >= kImageChunk) s.flush_pending();
  if (s.in_shard >= s.samples_per_shard) s.close_shard();
}

std::vector<ShardEntry> SplitShardWriter::finish() {
  if (!impl_->tmp_path.empty()) impl_->close_shard();
  return impl_->done;
}

int64_t SplitShardWriter::samples() const {
  return impl_->total;
}
uint64_t SplitShardWriter::bytes_written() const {
  return impl_->bytes;
}

}  // namespace fergan::data
