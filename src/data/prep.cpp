// data_prep's pipeline: input items -> parallel decode -> per-split shard writers -> manifest (see prep.h).
#include "fergan/data/prep.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "fergan/core/check.h"
#include "fergan/core/runtime.h"
#include "fergan/data/dataset.h"
#include "fergan/data/rng.h"
#include "fergan/data/shard_writer.h"
#include "prep_sources.h"
#include "progress.h"

namespace fergan::data {
namespace stdfs = std::filesystem;

namespace {

constexpr size_t kBlockItems = 8192;  // items decoded per block: bounds memory (~19 MB of 48x48 images)
constexpr size_t kMaxReportedBad = 20;

bool holds_shards(const stdfs::path& dir) {
  if (!stdfs::is_directory(dir)) return false;
  for (const auto& e : stdfs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const bool tmp_shard = name.size() > 7 && name.compare(name.size() - 7, 7, ".h5.tmp") == 0;
    if (name == "manifest.json" || e.path().extension() == ".h5" || tmp_shard) {
      return true;
    }
  }
  return false;
}

// Decodes `items` on `threads` threads; results keep the input order.
std::vector<DecodedItem> decode_block(const std::vector<PrepItem>& items, const std::string& csv_path,
                                      int threads) {
  std::vector<DecodedItem> out(items.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < items.size();) out[i] = decode_item(items[i], csv_path);
  };
  const int n = std::max(1, std::min<int>(threads, static_cast<int>(items.size() / 64 + 1)));
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return out;
}

torch::Tensor resolve_caption_embeddings(const PrepOptions& o, const Config& config, const PrepHooks& hooks,
                                         const std::vector<std::string>& captions, std::string* clip_model) {
  const int64_t dim = o.embed_dim > 0 ? o.embed_dim : config.img2text.latent_dim;
  const int chosen =
      (!o.embeddings_file.empty()) + o.random_embeddings + static_cast<bool>(hooks.caption_encoder);
  FG_CHECK(chosen <= 1,
           "choose one source of caption embeddings: --embeddings FILE, --random-embeddings or "
           "--clip-weights/--clip-vocab");
  if (!o.embeddings_file.empty()) {
    *clip_model = "imported:" + stdfs::path(o.embeddings_file).filename().string();
    return import_caption_embeddings(o.embeddings_file, captions, dim);
  }
  if (hooks.caption_encoder) {
    *clip_model = hooks.clip_model_id.empty() ? "clip" : hooks.clip_model_id;
    return encode_caption_embeddings(hooks.caption_encoder, captions, dim);
  }
  if (o.random_embeddings) {
    *clip_model = "random";
    spdlog::warn(
        "*** --random-embeddings: the caption embeddings are SEEDED RANDOM vectors (dim {}), not CLIP. "
        "Use them for demos and tests only; every program reading these shards will warn. ***",
        dim);
    return random_caption_embeddings(static_cast<int64_t>(captions.size()), dim, config.seed);
  }
  fail(
      str("no caption embeddings: give one of\n"
          "  --embeddings FILE          a float32 table [",
          captions.size(), ", ", dim,
          "] (.npy, .safetensors or .h5) for the caption table\n"
          "  --clip-weights W --clip-vocab V   compute them with the C++ CLIP text encoder\n"
          "  --random-embeddings        seeded random vectors (demos and tests only)"));
}

// Moves the finished staging directory to `out` (see the overwrite rules in prep.h).
void publish(const stdfs::path& staging, const stdfs::path& out) {
  std::error_code ec;
  if (!stdfs::exists(out) || (stdfs::is_directory(out) && stdfs::is_empty(out))) {
    stdfs::remove(out, ec);
    stdfs::rename(staging, out);
    return;
  }
  if (holds_shards(out)) {
    // Old complete output stays intact under a side name until the new one is in place.
    const stdfs::path old = out.string() + ".old-dir";
    stdfs::remove_all(old, ec);
    stdfs::rename(out, old);
    stdfs::rename(staging, out);
    stdfs::remove_all(old, ec);
    return;
  }
  // `out` holds unrelated files: move our files in, manifest last.
  for (const auto& e : stdfs::directory_iterator(staging)) {
    if (e.path().filename() != "manifest.json") stdfs::rename(e.path(), out / e.path().filename());
  }
  stdfs::rename(staging / "manifest.json", out / "manifest.json");
  stdfs::remove_all(staging, ec);
}

}  // namespace

void caption_table(const CaptionConfig& captions, std::vector<std::string>* table,
                   std::vector<int64_t>* labels) {
  table->clear();
  labels->clear();
  for (int l = 0; l < kNumEmotions; ++l) {
    for (auto& c : captions_for_label(captions, l)) {
      table->push_back(c);
      labels->push_back(l);
    }
  }
}

int64_t caption_choice(uint64_t seed, const std::string& split, int64_t index, int64_t per_label) {
  if (per_label <= 1) return 0;
  Rng rng(splitmix64(seed ^ hash_string(split)) ^ static_cast<uint64_t>(index));
  return static_cast<int64_t>(rng.below(static_cast<uint64_t>(per_label)));
}

PrepSummary run_prep(const PrepOptions& o, const Config& config, const PrepHooks& hooks) {
  FG_CHECK(!o.input.empty(), "data_prep: --input is required");
  FG_CHECK(!o.out.empty(), "data_prep: --out is required");
  FG_CHECK(o.shards >= 0 && o.samples_per_shard > 0,
           "data_prep: --shards must be >= 1 and --samples-per-shard >= 1");
  FG_CHECK(stdfs::exists(o.input), "input '", o.input, "' does not exist");
  FG_CHECK(
      !o.image_embeddings || hooks.image_encoder,
      "--image-embeddings needs the CLIP image encoder (--clip-weights/--clip-vocab), which this data_prep "
      "does not provide yet");
  const stdfs::path out = stdfs::absolute(o.out).lexically_normal();
  FG_CHECK(!holds_shards(out) || o.overwrite, "output directory '", out.string(),
           "' already holds shards (manifest.json or *.h5); pass --overwrite to replace it");
  const int threads = o.threads > 0 ? o.threads : runtime::available_cores();

  // Caption table and embeddings first: a missing embeddings file should fail before minutes of decoding.
  ShardCommon common;
  caption_table(config.captions, &common.captions, &common.caption_labels);
  const int64_t per_label = static_cast<int64_t>(config.captions.templates.size());
  common.caption_embeddings =
      resolve_caption_embeddings(o, config, hooks, common.captions, &common.clip_model);
  common.random_embeddings = common.clip_model == "random";
  for (int l = 0; l < kNumEmotions; ++l) common.emotion_names.push_back(kEmotionNames[l]);

  // Inputs.
  PrepSummary summary;
  const bool csv = !stdfs::is_directory(o.input);
  std::unique_ptr<CsvSource> csv_source;
  std::vector<PrepItem> folder_items;
  std::map<std::string, int64_t> expected;  // split -> input items (before skipping bad ones)
  if (csv) {
    csv_source = std::make_unique<CsvSource>(o.input, o.splits);
    expected = csv_source->rows_per_split();
    common.source = "csv:" + stdfs::absolute(o.input).lexically_normal().string();
  } else {
    folder_items = scan_folders(o.input, o.splits, o.skip_bad, &summary.bad_messages);
    summary.bad_skipped = static_cast<int64_t>(summary.bad_messages.size());
    for (const auto& it : folder_items) ++expected[it.split];
    common.source = "folders:" + stdfs::absolute(o.input).lexically_normal().string();
  }
  for (const auto& s : o.splits) {
    FG_CHECK(expected.count(s), "input '", o.input, "' has no samples for split '", s, "' (empty split)");
  }
  FG_CHECK(!expected.empty(), "input '", o.input, "' holds no samples (empty input)");
  int64_t total = 0;
  for (const auto& [_, n] : expected) total += n;

  // Build in a staging directory; `out` only ever sees a complete dataset.
  const stdfs::path staging = out.string() + ".tmp-dir";
  std::error_code ec;
  stdfs::remove_all(staging, ec);
  stdfs::create_directories(staging, ec);
  FG_CHECK(!ec, "cannot create '", staging.string(), "': ", ec.message());
  std::map<std::string, std::unique_ptr<SplitShardWriter>> writers;
  std::map<std::string, int64_t> written;  // split -> samples so far
  try {
    Progress progress("data_prep", total, o.quiet);
    int64_t done = 0;
    size_t folder_pos = 0;
    std::vector<PrepItem> block;
    auto next_block = [&]() -> bool {
      if (csv) return csv_source->next_block(&block, kBlockItems);
      block.clear();
      const size_t end = std::min(folder_items.size(), folder_pos + kBlockItems);
      for (; folder_pos < end; ++folder_pos) block.push_back(std::move(folder_items[folder_pos]));
      return !block.empty();
    };
    const std::string csv_path = csv ? o.input : "";
    while (next_block()) {
      auto decoded = decode_block(block, csv_path, threads);
      // Optional image embeddings for this block's good images, computed in one call.
      torch::Tensor image_emb;
      std::vector<int64_t> emb_row(decoded.size(), -1);
      for (size_t i = 0; i < decoded.size(); ++i) {
        auto& d = decoded[i];
        if (!d.error.empty()) continue;
        if (!o.splits.empty() && std::find(o.splits.begin(), o.splits.end(), d.split) == o.splits.end()) {
          d.error = "-";  // a split the user did not ask for: ignored, not bad
          continue;
        }
        if (common.height == 0) {
          common.height = d.image.height;
          common.width = d.image.width;
        }
        if (d.image.height != common.height || d.image.width != common.width) {
          const std::string name = csv ? str(o.input, ":", block[i].line) : block[i].path;
          d.error = str("image '", name, "' is ", d.image.height, "x", d.image.width,
                        " but the dataset's images are ", common.height, "x", common.width, " (wrong size)");
        }
      }
      if (o.image_embeddings) {
        std::vector<torch::Tensor> good;
        for (size_t i = 0; i < decoded.size(); ++i) {
          if (!decoded[i].error.empty()) continue;
          emb_row[i] = static_cast<int64_t>(good.size());
          good.push_back(torch::from_blob(decoded[i].image.pixels.data(), {common.height, common.width, 1},
                                          torch::kUInt8));
        }
        if (!good.empty()) {
          image_emb =
              hooks.image_encoder(torch::stack(good)).to(torch::kCPU).to(torch::kFloat32).contiguous();
          FG_CHECK(image_emb.dim() == 2 && image_emb.size(0) == static_cast<int64_t>(good.size()),
                   "image encoder returned ", image_emb.sizes(), " for ", good.size(), " images");
          if (common.image_embed_dim == 0) common.image_embed_dim = image_emb.size(1);
        }
      }
      for (size_t i = 0; i < decoded.size(); ++i) {
        auto& d = decoded[i];
        if (d.error == "-") continue;
        ++done;
        if (!d.error.empty()) {
          if (!o.skip_bad) fail(d.error + " (use --skip-bad to skip bad rows and images)");
          ++summary.bad_skipped;
          if (summary.bad_messages.size() < kMaxReportedBad) summary.bad_messages.push_back(d.error);
          continue;
        }
        auto& writer = writers[d.split];
        if (!writer) {
          const int64_t n = expected[d.split];
          const int64_t per_shard =
              o.shards > 0 ? std::max<int64_t>(1, (n + o.shards - 1) / o.shards) : o.samples_per_shard;
          writer = std::make_unique<SplitShardWriter>(staging.string(), d.split, per_shard, common);
          summary.class_counts[d.split].assign(kNumEmotions, 0);
        }
        const int64_t index = written[d.split]++;
        const int64_t caption = d.label * per_label + caption_choice(config.seed, d.split, index, per_label);
        writer->append(d.image.pixels.data(), d.label, caption,
                       emb_row[i] >= 0 ? image_emb[emb_row[i]].data_ptr<float>() : nullptr);
        ++summary.class_counts[d.split][d.label];
        ++summary.samples;
      }
      progress.update(done);
    }
    progress.finish();
    summary.seconds = progress.seconds();

    for (const auto& [split, n] : expected) {
      FG_CHECK(writers.count(split), "split '", split, "' has no usable samples (all ", n,
               " were bad): empty split");
    }
    Manifest manifest;
    manifest.source = common.source;
    manifest.emotion_names = common.emotion_names;
    manifest.clip_model = common.clip_model;
    manifest.embed_dim = static_cast<int>(common.caption_embeddings.size(1));
    manifest.random_embeddings = common.random_embeddings;
    manifest.has_image_embeddings = common.image_embed_dim > 0;
    manifest.height = common.height;
    manifest.width = common.width;
    manifest.channels = common.channels;
    manifest.tool_version = kToolVersion;
    manifest.captions = common.captions;
    manifest.caption_labels = common.caption_labels;
    for (auto& [split, writer] : writers) {
      manifest.splits[split] = writer->finish();
      summary.shard_counts[split] = static_cast<int64_t>(manifest.splits[split].size());
      summary.bytes_written += writer->bytes_written();
    }
    writers.clear();
    write_manifest(staging.string(), manifest, summary.class_counts, summary.bad_skipped);
    publish(staging, out);
  } catch (...) {
    writers.clear();  // removes unfinished .tmp shards
    stdfs::remove_all(staging, ec);
    throw;
  }

  // Summary.
  spdlog::info(
      "data_prep: wrote {} samples to {} ({:.1f} MB in {} shards) in {:.1f} s, {:.0f} images/s",
      summary.samples, out.string(), summary.bytes_written / 1e6,
      [&] {
        int64_t n = 0;
        for (auto& [_, c] : summary.shard_counts) n += c;
        return n;
      }(),
      summary.seconds, summary.images_per_second());
  for (const auto& [split, counts] : summary.class_counts) {
    std::string line;
    int64_t n = 0;
    for (int l = 0; l < kNumEmotions; ++l) {
      line += str(" ", kEmotionNames[l], "=", counts[l]);
      n += counts[l];
      if (counts[l] == 0) spdlog::warn("split '{}' has no samples of class '{}'", split, kEmotionNames[l]);
    }
    spdlog::info("  {:<10} {:>7} samples:{}", split, n, line);
  }
  if (summary.bad_skipped > 0) {
    spdlog::warn("skipped {} bad rows/images (--skip-bad); the first ones:", summary.bad_skipped);
    for (const auto& m : summary.bad_messages) spdlog::warn("  {}", m);
  }
  return summary;
}

}  // namespace fergan::data
