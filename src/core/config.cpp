// The configuration key table, YAML loading, overrides and validation (see config.h).
#include "fergan/core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "fergan/core/check.h"

namespace fergan {

const char* const kEmotionNames[kNumEmotions] = {"angry", "disgust",  "fear",   "happy",
                                                 "sad",   "surprise", "neutral"};
const char* const kEmotionAdjectives[kNumEmotions] = {"angry", "disgusted", "fearful", "happy",
                                                      "sad",   "surprised", "neutral"};

namespace {

enum class Kind { Int, UInt, Float, Bool, String, StringList };

struct Key {
  std::string name;
  Kind kind;
  void* field;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;  // for String keys with a fixed set of values
};

std::vector<Key> key_table(Config& c) {
  const double inf = std::numeric_limits<double>::infinity();
  return {
      {"run_dir", Kind::String, &c.run_dir},
      {"checkpoint_dir", Kind::String, &c.checkpoint_dir},
      {"device", Kind::String, &c.device, 0, 0, {"auto", "cpu", "cuda"}},
      {"threads", Kind::Int, &c.threads, 0, 4096},
      {"seed", Kind::UInt, &c.seed, 0, inf},
      {"deterministic", Kind::Bool, &c.deterministic},
      {"data.shards", Kind::String, &c.data.shards},
      {"data.split", Kind::String, &c.data.split},
      {"data.max_samples", Kind::Int, &c.data.max_samples, 0, inf},
      {"data.prefetch_batches", Kind::Int, &c.data.prefetch_batches, 1, 1024},
      {"data.shuffle", Kind::Bool, &c.data.shuffle},
      {"data.drop_last", Kind::Bool, &c.data.drop_last},
      {"captions.templates", Kind::StringList, &c.captions.templates},
      {"captions.resample", Kind::Bool, &c.captions.resample},
      {"train.batch_size", Kind::Int, &c.train.batch_size, 1, 1 << 20},
      {"train.lr", Kind::Float, &c.train.lr, 0, 10},
      {"train.beta1", Kind::Float, &c.train.beta1, 0, 1},
      {"train.beta2", Kind::Float, &c.train.beta2, 0, 1},
      {"train.adam_eps", Kind::Float, &c.train.adam_eps, 1e-12, 1},
      {"train.log_interval", Kind::Int, &c.train.log_interval, 1, inf},
      {"train.save_interval", Kind::Int, &c.train.save_interval, 1, inf},
      {"train.keep_last", Kind::Int, &c.train.keep_last, 0, inf},
      {"train.phase", Kind::String, &c.train.phase, 0, 0, {"img2text", "text2img", "both"}},
      {"img2text.epochs", Kind::Int, &c.img2text.epochs, 0, inf},
      {"img2text.latent_dim", Kind::Int, &c.img2text.latent_dim, 1, 65536},
      {"img2text.conditional", Kind::Bool, &c.img2text.conditional},
      {"img2text.matching_aware", Kind::Bool, &c.img2text.matching_aware},
      {"text2img.epochs", Kind::Int, &c.text2img.epochs, 0, inf},
      {"text2img.latent_dim", Kind::Int, &c.text2img.latent_dim, 1, 65536},
      {"text2img.ngf", Kind::Int, &c.text2img.ngf, 1, 4096},
      {"text2img.ndf", Kind::Int, &c.text2img.ndf, 1, 4096},
      {"text2img.image_size", Kind::Int, &c.text2img.image_size, 64, 256},
      {"text2img.noise_dim", Kind::Int, &c.text2img.noise_dim, 0, 65536},
      {"text2img.conditional", Kind::Bool, &c.text2img.conditional},
      {"text2img.matching_aware", Kind::Bool, &c.text2img.matching_aware},
      {"text2img.sample_grid_per_emotion", Kind::Int, &c.text2img.sample_grid_per_emotion, 1, 64},
      {"dist.backend", Kind::String, &c.dist.backend, 0, 0, {"auto", "mpi", "nccl"}},
      {"dist.bucket_mb", Kind::Float, &c.dist.bucket_mb, 0.001, 4096},
      {"dist.sync_batchnorm", Kind::Bool, &c.dist.sync_batchnorm},
      {"dist.timeout_s", Kind::Float, &c.dist.timeout_s, 1, inf},
  };
}

std::string join_keys(const std::vector<Key>& keys) {
  std::string out;
  for (const auto& k : keys) out += "\n  " + k.name;
  return out;
}

std::string kind_name(Kind kind) {
  switch (kind) {
    case Kind::Int:
      return "an integer";
    case Kind::UInt:
      return "a non-negative integer";
    case Kind::Float:
      return "a number";
    case Kind::Bool:
      return "true or false";
    case Kind::String:
      return "a string";
    case Kind::StringList:
      return "a list of strings";
  }
  return "?";
}

void set_value(const Key& key, const YAML::Node& node, const std::string& origin) {
  auto bad = [&](const std::string& why) { fail(str(origin, ": key '", key.name, "': ", why)); };
  if (key.kind == Kind::StringList) {
    if (!node.IsSequence()) bad("expected " + kind_name(key.kind));
    std::vector<std::string> values;
    for (const auto& item : node) {
      if (!item.IsScalar()) bad("expected " + kind_name(key.kind));
      values.push_back(item.as<std::string>());
    }
    *static_cast<std::vector<std::string>*>(key.field) = values;
    return;
  }
  if (!node.IsScalar()) bad("expected " + kind_name(key.kind) + ", got a " + (node.IsMap() ? "map" : "list"));
  const std::string text = node.Scalar();
  auto check_range = [&](double v) {
    if (v < key.min || v > key.max) {
      bad(str("value ", text, " is out of range [", key.min, ", ", key.max, "]"));
    }
  };
  try {
    switch (key.kind) {
      case Kind::Int: {
        auto v = node.as<int64_t>();
        check_range(static_cast<double>(v));
        // Keys are stored as int or int64_t; the table only points int64_t at max_samples.
        if (key.name == "data.max_samples") {
          *static_cast<int64_t*>(key.field) = v;
        } else {
          *static_cast<int*>(key.field) = static_cast<int>(v);
        }
        break;
      }
      case Kind::UInt: {
        if (!text.empty() && text[0] == '-') bad("expected " + kind_name(key.kind) + ", got '" + text + "'");
        *static_cast<uint64_t*>(key.field) = node.as<uint64_t>();
        break;
      }
      case Kind::Float: {
        auto v = node.as<double>();
        check_range(v);
        *static_cast<double*>(key.field) = v;
        break;
      }
      case Kind::Bool:
        *static_cast<bool*>(key.field) = node.as<bool>();
        break;
      case Kind::String: {
        if (!key.choices.empty() &&
            std::find(key.choices.begin(), key.choices.end(), text) == key.choices.end()) {
          std::string list;
          for (const auto& c : key.choices) list += (list.empty() ? "" : ", ") + c;
          bad("value '" + text + "' is not one of: " + list);
        }
        *static_cast<std::string*>(key.field) = text;
        break;
      }
      case Kind::StringList:
        break;
    }
  } catch (const YAML::BadConversion&) {
    bad("expected " + kind_name(key.kind) + ", got '" + text + "'");
  }
}

const Key* find_key(const std::vector<Key>& keys, const std::string& name) {
  for (const auto& k : keys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

bool is_section(const std::vector<Key>& keys, const std::string& prefix) {
  for (const auto& k : keys) {
    if (k.name.rfind(prefix + ".", 0) == 0) return true;
  }
  return false;
}

void apply_node(std::vector<Key>& keys, const YAML::Node& node, const std::string& prefix,
                const std::string& origin) {
  for (const auto& item : node) {
    const std::string name =
        prefix.empty() ? item.first.as<std::string>() : prefix + "." + item.first.as<std::string>();
    const YAML::Node& value = item.second;
    if (const Key* key = find_key(keys, name)) {
      set_value(*key, value, origin);
    } else if (is_section(keys, name)) {
      if (!value.IsMap()) fail(str(origin, ": key '", name, "' is a section and must be a map"));
      apply_node(keys, value, name, origin);
    } else {
      fail(str(origin, ": unknown config key '", name, "'. Valid keys:", join_keys(keys)));
    }
  }
}

void apply_override(std::vector<Key>& keys, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    fail(str("--set '", assignment, "': expected key=value, e.g. --set text2img.image_size=64"));
  }
  const std::string name = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  const Key* key = find_key(keys, name);
  if (!key) fail(str("--set: unknown config key '", name, "'. Valid keys:", join_keys(keys)));
  YAML::Node node;
  if (key->kind == Kind::StringList) {
    try {
      node = YAML::Load(value);
    } catch (const YAML::Exception& e) {
      fail(str("--set ", name, ": cannot parse '", value, "' as a list: ", e.what()));
    }
  } else {
    node = YAML::Node(value);  // keep the text verbatim, converted by the key's type
  }
  set_value(*key, node, "--set");
}

void validate(const Config& c, const std::string& origin) {
  auto bad = [&](const std::string& key, const std::string& why) {
    fail(str(origin, ": key '", key, "': ", why));
  };
  const int s = c.text2img.image_size;
  if (s != 64 && s != 128 && s != 256) bad("text2img.image_size", str("must be 64, 128 or 256, got ", s));
  if (c.captions.templates.empty()) bad("captions.templates", "needs at least one template");
  for (const auto& t : c.captions.templates) {
    if (t.find("{}") == std::string::npos)
      bad("captions.templates", "template '" + t + "' has no {} placeholder");
  }
  if (c.train.beta1 >= 1.0 || c.train.beta2 >= 1.0) bad("train.beta1/beta2", "must be < 1");
  if (c.data.split.empty()) bad("data.split", "must not be empty");
}

Config resolve(const YAML::Node& root, const std::string& origin, const std::vector<std::string>& overrides) {
  Config config;
  auto keys = key_table(config);
  if (root && !root.IsNull()) {
    if (!root.IsMap()) fail(str(origin, ": the top level must be a map of keys"));
    apply_node(keys, root, "", origin);
  }
  for (const auto& o : overrides) apply_override(keys, o);
  validate(config, origin);
  return config;
}

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& origin,
                    const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail(str(origin, ": invalid YAML: ", e.what()));
  }
  return resolve(root, origin, overrides);
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  if (path.empty()) return resolve(YAML::Node(), "defaults", overrides);
  std::ifstream in(path);
  if (!in) fail(str("config file '", path, "' cannot be opened (missing or unreadable)"));
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path, overrides);
}

std::vector<std::string> config_keys() {
  Config c;
  std::vector<std::string> names;
  for (const auto& k : key_table(c)) names.push_back(k.name);
  return names;
}

std::string Config::to_yaml() const {
  Config copy = *this;
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string section;
  for (const auto& k : key_table(copy)) {
    const auto dot = k.name.find('.');
    const std::string head = dot == std::string::npos ? "" : k.name.substr(0, dot);
    const std::string leaf = dot == std::string::npos ? k.name : k.name.substr(dot + 1);
    if (head != section) {
      if (!section.empty()) out << YAML::EndMap;
      if (!head.empty()) out << YAML::Key << head << YAML::Value << YAML::BeginMap;
      section = head;
    }
    out << YAML::Key << leaf << YAML::Value;
    switch (k.kind) {
      case Kind::Int:
        if (k.name == "data.max_samples") {
          out << *static_cast<int64_t*>(k.field);
        } else {
          out << *static_cast<int*>(k.field);
        }
        break;
      case Kind::UInt:
        out << *static_cast<uint64_t*>(k.field);
        break;
      case Kind::Float:
        out << *static_cast<double*>(k.field);
        break;
      case Kind::Bool:
        out << *static_cast<bool*>(k.field);
        break;
      case Kind::String:
        out << YAML::DoubleQuoted << *static_cast<std::string*>(k.field);
        break;
      case Kind::StringList: {
        out << YAML::Flow << YAML::BeginSeq;
        for (const auto& s : *static_cast<std::vector<std::string>*>(k.field)) out << YAML::DoubleQuoted << s;
        out << YAML::EndSeq;
        break;
      }
    }
  }
  if (!section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> captions_for_label(const CaptionConfig& captions, int label) {
  FG_CHECK(label >= 0 && label < kNumEmotions, "emotion label ", label, " is outside 0..6");
  std::vector<std::string> out;
  for (const auto& t : captions.templates) {
    const auto pos = t.find("{}");
    out.push_back(t.substr(0, pos) + kEmotionAdjectives[label] + t.substr(pos + 2));
  }
  return out;
}

}  // namespace fergan
