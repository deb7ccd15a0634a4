// bench_reader: how fast ShardDataset serves random batches from the page cache, on one core.
//
//   bench_reader [--dir DATASET] [--split train] [--batch 64] [--seconds 3] [--samples 50000]
//
// Without --dir it writes a synthetic dataset of --samples random 48x48 images (shards of 10,000) to a
// temporary directory first. The figure printed is samples/s over random batches (uniform indices), after
// one warm-up pass that brings the shards into memory, as the trainer sees it from the second batch on.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "fergan/core/check.h"
#include "fergan/core/config.h"
#include "fergan/core/logging.h"
#include "fergan/data/dataset.h"
#include "fergan/data/embeddings.h"
#include "fergan/data/rng.h"
#include "fergan/data/shard_writer.h"

using namespace fergan;
using namespace fergan::data;

namespace {

std::string make_synthetic(const std::string& dir, int64_t samples) {
  ShardCommon common;
  common.source = "bench";
  for (int l = 0; l < kNumEmotions; ++l) {
    common.emotion_names.push_back(kEmotionNames[l]);
    common.captions.push_back(std::string("caption ") + kEmotionNames[l]);
    common.caption_labels.push_back(l);
  }
  common.clip_model = "random";
  common.random_embeddings = true;
  common.caption_embeddings = random_caption_embeddings(kNumEmotions, 512, 1);
  common.height = common.width = 48;
  common.channels = 1;
  SplitShardWriter writer(dir, "train", 10000, common);
  Rng rng(1);
  std::vector<uint8_t> pixels(48 * 48);
  for (int64_t i = 0; i < samples; ++i) {
    for (auto& p : pixels) p = static_cast<uint8_t>(rng.next());
    writer.append(pixels.data(), static_cast<int>(i % 7), i % 7);
  }
  Manifest m;
  m.source = common.source;
  m.emotion_names = common.emotion_names;
  m.clip_model = common.clip_model;
  m.embed_dim = 512;
  m.random_embeddings = true;
  m.height = m.width = 48;
  m.channels = 1;
  m.tool_version = kToolVersion;
  m.captions = common.captions;
  m.caption_labels = common.caption_labels;
  m.splits["train"] = writer.finish();
  write_manifest(dir, m);
  return dir;
}

}  // namespace

int main(int argc, char** argv) {
  logging::init();
  return logging::run_main([&] {
    std::string dir, split = "train";
    int64_t batch = 64, samples = 50000;
    double seconds = 3;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      FG_CHECK(i + 1 < argc, "option ", a, " needs a value");
      const std::string v = argv[++i];
      if (a == "--dir")
        dir = v;
      else if (a == "--split")
        split = v;
      else if (a == "--batch")
        batch = std::stoll(v);
      else if (a == "--seconds")
        seconds = std::stod(v);
      else if (a == "--samples")
        samples = std::stoll(v);
      else
        fail(str("bench_reader: unknown option ", a));
    }
    torch::set_num_threads(1);
    std::string tmp;
    if (dir.empty()) {
      tmp = (std::filesystem::temp_directory_path() / ("fergan_bench_reader_" + std::to_string(::getpid())))
                .string();
      std::filesystem::create_directories(tmp);
      dir = make_synthetic(tmp, samples);
    }
    {
      ShardDataset ds(dir, split);
      std::vector<int64_t> all(ds.size());
      for (int64_t i = 0; i < ds.size(); ++i) all[i] = i;
      ds.get_batch(all);  // warm-up: every shard into memory
      Rng rng(7);
      std::vector<int64_t> idx(batch);
      int64_t served = 0;
      const auto start = std::chrono::steady_clock::now();
      double elapsed = 0;
      while (elapsed < seconds) {
        for (int rep = 0; rep < 100; ++rep) {
          for (auto& k : idx) k = static_cast<int64_t>(rng.below(static_cast<uint64_t>(ds.size())));
          auto b = ds.get_batch(idx);
          served += b.images.size(0);
        }
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      std::printf(
          "bench_reader: %s split '%s', %lld samples %dx%dx%d: %.0f samples/s (random batches of %lld, "
          "1 thread, %.1f s)\n",
          dir.c_str(), split.c_str(), static_cast<long long>(ds.size()), ds.height(), ds.width(),
          ds.channels(), served / elapsed, static_cast<long long>(batch), elapsed);
    }
    if (!tmp.empty()) std::filesystem::remove_all(tmp);
    return 0;
  });
}
