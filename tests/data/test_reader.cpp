// The shard reader and loader: structure checks and corrupt shards, the prefetching loader against direct
// reads, worker errors surfacing in next().
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data_test_util.h"
#include "fergan/data/dataset.h"
#include "fergan/data/loader.h"

using namespace fergan;
using namespace fergan::data;
using namespace fergan::data::testing;
namespace stdfs = std::filesystem;

namespace {

// A small dataset: `n` Training rows with distinct pixels, `per_shard` samples per shard.
void make_dataset(const TempDir& tmp, int n, int per_shard, const std::string& name = "out") {
  std::vector<std::string> rows;
  for (int i = 0; i < n; ++i) rows.push_back(csv_row(i % 7, test_pixels(1000 + i), "Training"));
  write_csv(tmp / (name + ".csv"), rows);
  auto o = quick_options(tmp / (name + ".csv"), tmp / name);
  o.samples_per_shard = per_shard;
  run_prep(o, prep_config());
}

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5A);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

}  // namespace

TEST(Reader, MissingManifestIsIncomplete) {
  TempDir tmp;
  make_dataset(tmp, 10, 4);
  stdfs::remove(tmp / "out/manifest.json");
  EXPECT_ERROR_HAS(ShardDataset(tmp / "out", "train"), "incomplete", "manifest.json");
  EXPECT_ERROR_HAS(ShardDataset(tmp / "nowhere", "train"), "nowhere", "does not exist");
}

TEST(Reader, UnknownSplitListsTheSplits) {
  TempDir tmp;
  make_dataset(tmp, 10, 4);
  EXPECT_ERROR_HAS(ShardDataset(tmp / "out", "validation"), "no split 'validation'", "train");
}

TEST(Reader, Sha256MismatchNamesTheShard) {
  TempDir tmp;
  make_dataset(tmp, 10, 4);
  // Flip one pixel of sample 4 (the first of shard 1) inside the file: HDF5 structure stays valid.
  const std::string shard = tmp / "out/train-00001.h5";
  const std::string bytes = fs::read_file(shard);
  const auto pixels = test_pixels(1000 + 4);
  const auto at = bytes.find(std::string(pixels.begin(), pixels.end()));
  ASSERT_NE(at, std::string::npos);
  flip_byte(shard, at + 100);
  EXPECT_ERROR_HAS(ShardDataset(tmp / "out", "train", /*verify_sha256=*/true), "train-00001.h5", "sha256");
  ShardDataset unchecked(tmp / "out", "train", false);  // without the hash check the change goes unnoticed
  auto img = unchecked.get_batch({4}).images.contiguous();
  EXPECT_EQ(img.data_ptr<uint8_t>()[100], pixels[100] ^ 0x5A);
}

TEST(Reader, TruncatedOrCorruptShardNamesTheShard) {
  TempDir tmp;
  make_dataset(tmp, 10, 4);
  const std::string shard = tmp / "out/train-00002.h5";
  stdfs::resize_file(shard, stdfs::file_size(shard) / 2);
  EXPECT_ERROR_HAS(ShardDataset(tmp / "out", "train"), "train-00002.h5");
  write_text(tmp / "out/train-00002.h5", "garbage, not HDF5");
  EXPECT_ERROR_HAS(ShardDataset(tmp / "out", "train"), "train-00002.h5", "corrupt");
  stdfs::remove(tmp / "out/train-00002.h5");
  EXPECT_ERROR_HAS(ShardDataset(tmp / "out", "train"), "train-00002.h5", "missing");
}

TEST(Reader, RandomAccessAcrossShardsAndIndexChecks) {
  TempDir tmp;
  make_dataset(tmp, 23, 5);
  ShardDataset ds(tmp / "out", "train");
  ASSERT_EQ(ds.size(), 23);
  auto b = ds.get_batch({22, 0, 7, 7, 15});
  const std::vector<int64_t> want{22, 0, 7, 7, 15};
  for (int i = 0; i < 5; ++i) {
    auto img = b.images[i].contiguous();
    EXPECT_EQ(std::vector<uint8_t>(img.data_ptr<uint8_t>(), img.data_ptr<uint8_t>() + 2304),
              test_pixels(1000 + want[i]));
    EXPECT_EQ(b.labels[i].item<int64_t>(), want[i] % 7);
    EXPECT_EQ(b.indices[i].item<int64_t>(), want[i]);
  }
  EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{5, 48, 48, 1}));
  EXPECT_ERROR_HAS(ds.get_batch({23}), "23", "outside");
  EXPECT_ERROR_HAS(ds.get_batch({-1}), "outside");
}

TEST(Reader, TinyCacheStillServesEverySample) {
  TempDir tmp;
  make_dataset(tmp, 30, 4);
  setenv("FERGAN_READER_CACHE_MB", "0.01", 1);  // ~10 KB: one 4-sample shard (9 KB) fits, so the LRU evicts
  ShardDataset ds(tmp / "out", "train");
  unsetenv("FERGAN_READER_CACHE_MB");
  for (int64_t i : {29, 0, 13, 29, 4, 17}) {
    auto img = ds.get_batch({i}).images.contiguous();
    EXPECT_EQ(std::vector<uint8_t>(img.data_ptr<uint8_t>(), img.data_ptr<uint8_t>() + 2304),
              test_pixels(1000 + i));
  }
}

// From the global position after 2 batches of every rank (2 x 6 x 2 samples) the loader yields this rank's
// batches 2.. of the whole epoch; from position 0, all of them.
TEST(Loader, YieldsTheSamplersBatchesInOrderFromAGlobalStartPosition) {
  TempDir tmp;
  make_dataset(tmp, 50, 16);
  ShardDataset ds(tmp / "out", "train");
  SamplerOptions so;
  so.seed = 3;
  so.rank = 1;
  so.world = 2;
  so.batch_size = 6;
  DistributedSampler sampler(ds.size(), so);
  ASSERT_EQ(sampler.batches_per_epoch(), 5);  // 25 per rank
  for (const int64_t first : {int64_t{2}, int64_t{0}}) {
    Loader loader(ds, sampler, /*epoch=*/4, /*start_sample=*/sampler.samples_in(first), /*prefetch=*/2);
    int64_t b = first;
    while (auto batch = loader.next()) {
      const auto expect = ds.get_batch(sampler.batch(4, b));
      EXPECT_TRUE(torch::equal(batch->images, expect.images)) << "batch " << b;
      EXPECT_TRUE(torch::equal(batch->indices, expect.indices));
      EXPECT_TRUE(torch::equal(batch->captions, expect.captions));
      ++b;
    }
    EXPECT_EQ(b, 5);
    EXPECT_FALSE(loader.next().has_value());
  }
  EXPECT_THROW(Loader(ds, sampler, 4, ds.size() + 1), Error);
}

TEST(Loader, RethrowsWorkerErrorsInNext) {
  TempDir tmp;
  make_dataset(tmp, 40, 10);
  ShardDataset ds(tmp / "out", "train");  // labels read; images load lazily per shard
  write_text(tmp / "out/train-00003.h5", "destroyed after opening");
  SamplerOptions so;
  so.batch_size = 10;
  so.shuffle = false;
  DistributedSampler sampler(ds.size(), so);
  Loader loader(ds, sampler, 0);
  int good = 0;
  std::string error;
  try {
    while (loader.next()) ++good;
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_EQ(good, 3);  // shards 0..2 are fine
  EXPECT_NE(error.find("train-00003.h5"), std::string::npos) << error;
}

TEST(Loader, DestroyingEarlyDoesNotHang) {
  TempDir tmp;
  make_dataset(tmp, 40, 10);
  ShardDataset ds(tmp / "out", "train");
  SamplerOptions so;
  so.batch_size = 1;
  DistributedSampler sampler(ds.size(), so);
  for (int i = 0; i < 5; ++i) {
    Loader loader(ds, sampler, i, 0, 1);
    ASSERT_TRUE(loader.next().has_value());
  }
}
