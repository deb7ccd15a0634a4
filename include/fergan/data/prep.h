// data_prep: raw FER2013 (Kaggle CSV or image folders) -> HDF5 shards + manifest.json.
//
// The pipeline streams: input items are read in blocks, decoded on all cores, and appended in input order
// to one SplitShardWriter per split; manifest.json is written last, so a directory without it is
// incomplete. With --overwrite the new dataset is built in <out>.tmp-dir and swapped in only when complete,
// so an earlier complete output is never damaged.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fergan/core/config.h"
#include "fergan/data/embeddings.h"

namespace fergan::data {

struct PrepOptions {
  std::string input;  // a folder <root>/<split>/<emotion>/*.{jpg,jpeg,png} or a fer2013.csv
  std::string out;
  int64_t shards = 0;  // per split; 0 = use samples_per_shard
  int64_t samples_per_shard = 10000;
  std::string embeddings_file;     // --embeddings
  bool random_embeddings = false;  // --random-embeddings
  int64_t embed_dim = 0;           // 0 = config img2text.latent_dim
  bool image_embeddings = false;   // needs an image encoder hook
  bool skip_bad = false;
  bool overwrite = false;
  int threads = 0;                  // 0 = all cores
  std::vector<std::string> splits;  // empty = every split found
  bool quiet = false;               // no progress output (tests)
};

// Hooks for encoders that live outside fg_data (the C++ CLIP, wired in by data_prep's main).
struct PrepHooks {
  CaptionEncoder caption_encoder;  // set when --clip-weights is given
  std::string clip_model_id;       // recorded in the manifest with caption_encoder
  // Encodes uint8 grayscale images [B, H, W, 1] into float32 [B, E]; needed for --image-embeddings.
  std::function<torch::Tensor(const torch::Tensor&)> image_encoder;
};

struct PrepSummary {
  std::map<std::string, std::vector<int64_t>> class_counts;  // split -> per label counts
  std::map<std::string, int64_t> shard_counts;               // split -> shards
  int64_t samples = 0;
  int64_t bad_skipped = 0;
  std::vector<std::string> bad_messages;  // the first few skipped items, with the reason
  uint64_t bytes_written = 0;
  double seconds = 0;
  double images_per_second() const { return seconds > 0 ? samples / seconds : 0; }
};

// Runs the whole preparation. Errors (fergan::Error) name the file, CSV line or option at fault.
PrepSummary run_prep(const PrepOptions& options, const Config& config, const PrepHooks& hooks = {});

// The caption table: all captions of label 0, then label 1, ... (templates in config order).
void caption_table(const CaptionConfig& captions, std::vector<std::string>* table,
                   std::vector<int64_t>* labels);

// The stored caption choice of sample `index` of `split`: deterministic from the config seed.
int64_t caption_choice(uint64_t seed, const std::string& split, int64_t index, int64_t captions_per_label);

// Builds the hooks for --clip-weights/--clip-vocab (data_prep's main plugs the C++ CLIP in); nullptr makes
// data_prep report that CLIP is not available in this build.
using ClipHookFactory = std::function<PrepHooks(const std::string& weights, const std::string& vocab)>;
// The data_prep command line (both `data_prep ...` and `data_prep synth ...`). Returns the exit code.
int data_prep_main(int argc, char** argv, const ClipHookFactory& clip_factory = nullptr);

}  // namespace fergan::data
