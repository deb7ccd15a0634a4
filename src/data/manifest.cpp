// manifest.json: the table of contents of a shard directory, written last by data_prep (see dataset.h).
#include <nlohmann/json.hpp>

#include <filesystem>

#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"
#include "fergan/data/manifest.h"

namespace fergan::data {

namespace {
constexpr const char* kFormat = "fergan-shards";
constexpr int kFormatVersion = 1;
}  // namespace

void write_manifest(const std::string& dir, const Manifest& m,
                    const std::map<std::string, std::vector<int64_t>>& class_counts, int64_t bad_skipped) {
  nlohmann::json j;
  j["format"] = kFormat;
  j["format_version"] = kFormatVersion;
  j["source"] = m.source;
  j["tool_version"] = m.tool_version;
  j["emotion_names"] = m.emotion_names;
  j["clip_model"] = m.clip_model;
  j["embed_dim"] = m.embed_dim;
  j["random_embeddings"] = m.random_embeddings;
  j["image_embeddings"] = m.has_image_embeddings;
  j["height"] = m.height;
  j["width"] = m.width;
  j["channels"] = m.channels;
  j["captions"] = m.captions;
  j["caption_labels"] = m.caption_labels;
  j["bad_skipped"] = bad_skipped;
  nlohmann::json splits = nlohmann::json::object();
  for (const auto& [name, shards] : m.splits) {
    nlohmann::json s;
    int64_t total = 0;
    s["shards"] = nlohmann::json::array();
    for (const auto& e : shards) {
      s["shards"].push_back({{"file", e.file}, {"samples", e.samples}, {"sha256", e.sha256}});
      total += e.samples;
    }
    s["samples"] = total;
    auto it = class_counts.find(name);
    if (it != class_counts.end()) s["class_counts"] = it->second;
    splits[name] = s;
  }
  j["splits"] = splits;
  fs::write_file_atomically((std::filesystem::path(dir) / "manifest.json").string(), j.dump(2) + "\n");
}

Manifest read_manifest(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "manifest.json").string();
  FG_CHECK(std::filesystem::is_directory(dir), "dataset directory '", dir,
           "' does not exist (run data_prep first)");
  FG_CHECK(std::filesystem::exists(path), "dataset directory '", dir,
           "' is incomplete: manifest.json is missing (data_prep writes it last; rerun data_prep)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(fs::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(str(path, ": not valid JSON: ", e.what()));
  }
  Manifest m;
  m.dir = dir;
  try {
    FG_CHECK(j.value("format", "") == kFormat, path, ": not a fergan shard manifest (format '",
             j.value("format", ""), "')");
    FG_CHECK(j.at("format_version").get<int>() == kFormatVersion, path, ": unsupported format_version ",
             j.at("format_version").dump());
    m.source = j.at("source").get<std::string>();
    m.tool_version = j.at("tool_version").get<std::string>();
    m.emotion_names = j.at("emotion_names").get<std::vector<std::string>>();
    m.clip_model = j.at("clip_model").get<std::string>();
    m.embed_dim = j.at("embed_dim").get<int>();
    m.random_embeddings = j.at("random_embeddings").get<bool>();
    m.has_image_embeddings = j.at("image_embeddings").get<bool>();
    m.height = j.at("height").get<int>();
    m.width = j.at("width").get<int>();
    m.channels = j.at("channels").get<int>();
    m.captions = j.at("captions").get<std::vector<std::string>>();
    m.caption_labels = j.at("caption_labels").get<std::vector<int64_t>>();
    for (const auto& [name, s] : j.at("splits").items()) {
      auto& shards = m.splits[name];
      for (const auto& e : s.at("shards")) {
        ShardEntry entry;
        entry.file = e.at("file").get<std::string>();
        entry.samples = e.at("samples").get<int64_t>();
        entry.sha256 = e.at("sha256").get<std::string>();
        FG_CHECK(entry.samples > 0, path, ": split '", name, "' shard '", entry.file, "' has no samples");
        FG_CHECK(entry.file.find('/') == std::string::npos, path, ": shard name '", entry.file,
                 "' must be a plain file name");
        shards.push_back(entry);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    fail(str(path, ": missing or mistyped field: ", e.what()));
  }
  FG_CHECK(m.height > 0 && m.width > 0 && m.channels > 0, path, ": bad image size ", m.height, "x", m.width,
           "x", m.channels);
  FG_CHECK(!m.captions.empty() && m.captions.size() == m.caption_labels.size(), path,
           ": caption table and caption_labels differ in length");
  FG_CHECK(m.embed_dim > 0, path, ": embed_dim must be > 0");
  for (auto l : m.caption_labels) {
    FG_CHECK(l >= 0 && l < static_cast<int64_t>(m.emotion_names.size()), path, ": caption label ", l,
             " is out of range");
  }
  return m;
}

}  // namespace fergan::data
