// A dataset directory's manifest.json: what data_prep wrote (splits, shards with sample counts and sha256,
// the caption table, embedding source and size). data_prep writes it last, so a directory without it is
// incomplete; every reader starts here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fergan::data {

struct ShardEntry {
  std::string file;  // relative to the dataset directory
  int64_t samples = 0;
  std::string sha256;
};

struct Manifest {
  std::string dir;
  std::string source;                      // e.g. "folders:/path" or "csv:/path/fer2013.csv" or "synth"
  std::vector<std::string> emotion_names;  // label order
  std::string clip_model;                  // CLIP model id, or "random" for seeded random embeddings
  int embed_dim = 0;
  bool random_embeddings = false;
  bool has_image_embeddings = false;
  int height = 0, width = 0, channels = 0;
  std::string tool_version;
  std::vector<std::string> captions;  // the caption table [C]
  std::vector<int64_t> caption_labels;
  std::map<std::string, std::vector<ShardEntry>> splits;  // split name -> shards
};

// Reads and checks <dir>/manifest.json; a missing manifest is an error saying the directory is incomplete.
Manifest read_manifest(const std::string& dir);

// Writes <dir>/manifest.json atomically (data_prep's last step). class_counts: split -> samples per label.
void write_manifest(const std::string& dir, const Manifest& manifest,
                    const std::map<std::string, std::vector<int64_t>>& class_counts = {},
                    int64_t bad_skipped = 0);

}  // namespace fergan::data
