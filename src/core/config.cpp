// The configuration key table, YAML loading, overrides and validation (see config.h).
//
// The table below is the single source of every key's type, default, range and help; Config(), the loaders,
// to_yaml() and the generated reference (config_docs.cpp) all walk it.
#include "fergan/core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>
#include <variant>

#include "fergan/core/check.h"

namespace fergan {

const char* const kEmotionNames[kNumEmotions] = {"angry", "disgust",  "fear",   "happy",
                                                 "sad",   "surprise", "neutral"};
const char* const kEmotionAdjectives[kNumEmotions] = {"angry", "disgusted", "fearful", "happy",
                                                      "sad",   "surprised", "neutral"};

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Where a key's value lives; the pointer's type is the key's type.
using Field =
    std::variant<int*, int64_t*, uint64_t*, double*, bool*, std::string*, std::vector<std::string>*>;

struct Range {
  double min = -kInf;
  double max = kInf;
};

struct Key {
  std::string name;  // dotted: section.leaf, or leaf for the top level
  Field field;
  std::string default_value;         // YAML text as `--set` takes it; a flow list ["a", "b"] for list keys
  Range range;                       // inclusive, for numbers; {} = any
  std::vector<std::string> choices;  // the only values allowed; {} = any of the type (and range)
  std::string help;                  // one line: what the key does, in which unit
};

// The one list of keys, two lines each: name, field, default, range, choices; help. Sections appear in this
// order in config/default.yaml, docs/config.md and to_yaml().
// clang-format off
std::vector<Key> key_table(Config& c) {
  return {
      {"run_dir", &c.run_dir, "experiments/exp1", {}, {},
       "directory of this run's metrics.jsonl and resolved config.yaml"},
      {"checkpoint_dir", &c.checkpoint_dir, "experiments/exp1/checkpoints", {}, {},
       "directory of the checkpoint sets (.pth, generator .safetensors, Text->Image sample grid .png)"},
      {"device", &c.device, "auto", {}, {"auto", "cpu", "cuda"},
       "where to train; auto = cuda when available, else cpu"},
      {"threads", &c.threads, "0", {0, 4096}, {},
       "LibTorch intra-op threads per rank; 0 = this rank's share of the cores"},
      {"seed", &c.seed, "42", {0, kInf}, {},
       "seed of weight init, sample order, caption and noise draws (and data_prep's caption choices)"},
      {"deterministic", &c.deterministic, "false", {}, {},
       "deterministic kernels where available (CUDA); slower"},
      {"data.shards", &c.data.shards, "data/fer2013_shards", {}, {},
       "directory of data_prep's HDF5 shards (its --out)"},
      {"data.split", &c.data.split, "train", {}, {},
       "split the trainer reads (train, validation or test)"},
      {"data.max_samples", &c.data.max_samples, "0", {0, kInf}, {},
       "0 = the whole split; else N samples evenly spaced over it (every emotion stays in)"},
      {"data.prefetch_batches", &c.data.prefetch_batches, "4", {1, 1024}, {},
       "batches the loader thread prepares ahead"},
      {"data.shuffle", &c.data.shuffle, "true", {}, {},
       "a new seeded sample order every epoch (else file order)"},
      {"data.drop_last", &c.data.drop_last, "false", {}, {},
       "drop each epoch's last incomplete global batch"},
      {"data.class_balanced", &c.data.class_balanced, "true", {}, {},
       "each epoch draws emotions with replacement, weighted by img2text/text2img.balance_strength, instead of a "
       "permutation"},
      {"captions.templates", &c.captions.templates,
       R"(["a person with a {} expression", "a photo of a {} face", "a face that looks {}", )"
       R"("a close-up photo of a {} person", "someone who looks {}"])", {}, {},
       "caption templates per emotion; {} is the emotion's adjective (angry, disgusted, fearful, ...)"},
      {"captions.resample", &c.captions.resample, "true", {}, {},
       "each step draws a random caption of the sample's emotion instead of the one stored in the shard"},
      {"train.batch_size", &c.train.batch_size, "8", {1, 1 << 20}, {},
       "images per rank per step (global batch = this x ranks)"},
      {"train.lr", &c.train.lr, "0.0002", {0, 10}, {},
       "Adam learning rate of all four networks"},
      {"train.beta1", &c.train.beta1, "0.5", {0, 1}, {},
       "Adam beta1 (below 1)"},
      {"train.beta2", &c.train.beta2, "0.999", {0, 1}, {},
       "Adam beta2 (below 1)"},
      {"train.adam_eps", &c.train.adam_eps, "1.0e-8", {1e-12, 1}, {},
       "Adam epsilon, added to sqrt(v) in the step's denominator"},
      {"train.log_interval", &c.train.log_interval, "100", {1, kInf}, {},
       "batches between progress lines (and metrics.jsonl records)"},
      {"train.save_interval", &c.train.save_interval, "10", {1, kInf}, {},
       "epochs between checkpoints (the last epoch is always saved)"},
      {"train.keep_last", &c.train.keep_last, "0", {0, kInf}, {},
       "checkpoint sets kept per phase, newest first; 0 = all"},
      {"train.phase", &c.train.phase, "both", {}, {"img2text", "text2img", "both"},
       "GAN(s) to train; both = Image->Text, then Text->Image"},
      {"train.step_timing", &c.train.step_timing, "false", {}, {},
       "log a per-phase step-time breakdown (data, forward, backward, optimizer, comm); syncs the GPU"},
      {"train.amp", &c.train.amp, "none", {}, {"none", "bf16"},
       "mixed precision of the forward passes: bf16 autocast with float32 weights, optimizer and losses"},
      {"train.channels_last", &c.train.channels_last, "false", {}, {},
       "Text->Image networks and images in channels_last (NHWC) memory format"},
      {"train.cudnn_benchmark", &c.train.cudnn_benchmark, "true", {}, {},
       "CUDA: let cuDNN time its algorithms for each new shape and keep the fastest (off with deterministic)"},
      {"img2text.epochs", &c.img2text.epochs, "50", {0, kInf}, {},
       "training epochs of the Image->Text GAN"},
      {"img2text.latent_dim", &c.img2text.latent_dim, "512", {1, 65536}, {},
       "size of the generated text embedding; must match the shards' caption embeddings"},
      {"img2text.conditional", &c.img2text.conditional, "true", {}, {},
       "projection discriminator that also sees the image (false = unconditional, the original)"},
      {"img2text.matching_aware", &c.img2text.matching_aware, "true", {}, {},
       "(image, embedding of another emotion's caption) counts as fake; needs conditional"},
      {"img2text.encoder", &c.img2text.encoder, "deep", {}, {"original", "deep"},
       "generator image encoder: original (3 convs, global average pool) or deep (4 convs with GroupNorm, "
       "flattened 4x4 map: keeps where a feature is)"},
      {"img2text.loss", &c.img2text.loss, "bce", {}, {"bce", "hinge"},
       "adversarial loss: bce (the original's, on logits) or hinge"},
      {"img2text.supervised_weight", &c.img2text.supervised_weight, "100", {0, 1e6}, {},
       "weight of the generator's supervised term 1 - cos(G(image), true caption embedding); 0 = none"},
      {"img2text.flip", &c.img2text.flip, "false", {}, {},
       "each training face is mirrored left-right with probability 1/2 (a seeded draw per sample and epoch)"},
      {"img2text.ema_decay", &c.img2text.ema_decay, "0.999", {0, 0.999999}, {},
       "decay of the generator's weight average (what infer/eval use); 0 = none"},
      {"img2text.balance_strength", &c.img2text.balance_strength, "0.5", {0, 1}, {},
       "with data.class_balanced: an emotion of n faces is drawn in proportion to n^(1 - this): 1 = all alike, "
       "0.5 = as the square root of n, 0 = as often as in the data"},
      {"text2img.epochs", &c.text2img.epochs, "50", {0, kInf}, {},
       "training epochs of the Text->Image GAN"},
      {"text2img.latent_dim", &c.text2img.latent_dim, "512", {1, 65536}, {},
       "size of the caption embedding the generator reads; must match the shards' caption embeddings"},
      {"text2img.ngf", &c.text2img.ngf, "64", {1, 4096}, {},
       "generator width: 8 x ngf channels on its 8x8 base map, halving per upsampling block (down to 16)"},
      {"text2img.ndf", &c.text2img.ndf, "64", {1, 4096}, {},
       "discriminator width: ndf channels in its first block, doubling per block (up to 512)"},
      {"text2img.image_size", &c.text2img.image_size, "256", {}, {"64", "128", "256"},
       "side of the generated (and resized real) images, in pixels"},
      {"text2img.noise_dim", &c.text2img.noise_dim, "100", {0, 65536}, {},
       "size of the noise vector beside the caption embedding; 0 = no noise (the original)"},
      {"text2img.conditional", &c.text2img.conditional, "true", {}, {},
       "projection discriminator that also sees the caption embedding (false = the original)"},
      {"text2img.matching_aware", &c.text2img.matching_aware, "true", {}, {},
       "(image, embedding of another emotion's caption) counts as fake; needs conditional"},
      {"text2img.sample_grid_per_emotion", &c.text2img.sample_grid_per_emotion, "8", {1, 64}, {},
       "columns of the PNG sample grid written with each checkpoint (one row per emotion)"},
      {"text2img.channels", &c.text2img.channels, "1", {}, {"1", "3"},
       "image channels: 1 (FER2013 is grayscale) or 3 (the original's grey replicated)"},
      {"text2img.loss", &c.text2img.loss, "hinge", {}, {"bce", "hinge"},
       "adversarial loss: bce (the original's, on logits) or hinge"},
      {"text2img.spectral_norm", &c.text2img.spectral_norm, "true", {}, {},
       "spectral normalisation of every discriminator layer, in place of its BatchNorm"},
      {"text2img.minibatch_std", &c.text2img.minibatch_std, "true", {}, {},
       "the discriminator's head also sees the standard deviation of its features across the batch"},
      {"text2img.film", &c.text2img.film, "true", {}, {},
       "FiLM: caption embedding and noise scale and shift every generator block (not only its input)"},
      {"text2img.upsample", &c.text2img.upsample, "subpixel", {}, {"convtranspose", "subpixel"},
       "generator up-blocks: ConvTranspose2d(k4, s2) as is, or as one sub-pixel conv2d (same weights and result)"},
      {"text2img.mode_seeking", &c.text2img.mode_seeking, "1", {0, 1e6}, {},
       "weight of the mode-seeking term (two noise draws per caption must differ); 0 = none"},
      {"text2img.class_weight", &c.text2img.class_weight, "2", {0, 1e6}, {},
       "weight of the auxiliary emotion classifier: D learns the emotion of real faces, G must make D read "
       "the caption's emotion in its faces (AC-GAN); 0 = none"},
      {"text2img.augment", &c.text2img.augment, "[translation, cutout]", {}, {"translation", "cutout", "color"},
       "DiffAugment of every image the discriminator sees: any of translation, cutout, color"},
      {"text2img.ema_decay", &c.text2img.ema_decay, "0.999", {0, 0.999999}, {},
       "decay of the generator's weight average (what infer/eval and the sample grids use); 0 = none"},
      {"text2img.balance_strength", &c.text2img.balance_strength, "1", {0, 1}, {},
       "with data.class_balanced: an emotion of n faces is drawn in proportion to n^(1 - this): 1 = all alike, "
       "0.5 = as the square root of n, 0 = as often as in the data"},
      {"dist.backend", &c.dist.backend, "auto", {}, {"auto", "mpi", "nccl"},
       "gradient all-reduce; auto = nccl for CUDA tensors, mpi for CPU tensors"},
      {"dist.bucket_mb", &c.dist.bucket_mb, "25", {0.001, 4096}, {},
       "gradient bucket size of the all-reduce, in MiB"},
      {"dist.sync_batchnorm", &c.dist.sync_batchnorm, "false", {}, {},
       "BatchNorm statistics over the global batch of all ranks (else each rank's own batch)"},
      {"dist.timeout_s", &c.dist.timeout_s, "600", {1, kInf}, {},
       "seconds a collective may wait before the job aborts"},
      {"dist.grad_dtype", &c.dist.grad_dtype, "fp32", {}, {"fp32", "bf16", "fp16"},
       "dtype of the gradient buckets on the wire; bf16/fp16 halve the bytes, .grad stays float32"},
  };
}
// clang-format on

// A number as people write it: 1048576, 0.001, 1e-12.
std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  std::ostringstream os;
  os << v;
  return os.str();
}

// "a, b or c"
std::string join_choices(const std::vector<std::string>& choices) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  }
  return out;
}

template <typename T>
constexpr bool is_number_v = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

// For error messages: "expected an integer".
std::string kind_name(const Field& field) {
  return std::visit(
      [](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, bool>) {
          return "true or false";
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          return "a non-negative integer";
        } else if constexpr (std::is_integral_v<T>) {
          return "an integer";
        } else if constexpr (std::is_floating_point_v<T>) {
          return "a number";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return "a string";
        } else {
          return "a list of strings";
        }
      },
      field);
}

// For the reference docs: "integer".
std::string type_name(const Field& field) {
  return std::visit(
      [](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, bool>) {
          return "bool";
        } else if constexpr (std::is_integral_v<T>) {
          return "integer";
        } else if constexpr (std::is_floating_point_v<T>) {
          return "number";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return "string";
        } else {
          return "list of strings";
        }
      },
      field);
}

std::string range_text(const Key& key) {
  if (!key.choices.empty()) return join_choices(key.choices);
  const bool low = std::isfinite(key.range.min), high = std::isfinite(key.range.max);
  if (low && high) return format_number(key.range.min) + " to " + format_number(key.range.max);
  if (low) return ">= " + format_number(key.range.min);
  if (high) return "<= " + format_number(key.range.max);
  return "";
}

std::string join_keys(const std::vector<Key>& keys) {
  std::string out;
  for (const auto& k : keys) out += "\n  " + k.name;
  return out;
}

// Sets the key's field from a YAML node (a file's value, a --set value or the table's default), checking
// type, range and choices.
void set_value(const Key& key, const YAML::Node& node, const std::string& origin) {
  auto bad = [&](const std::string& why) { fail(str(origin, ": key '", key.name, "': ", why)); };
  const std::string expected = "expected " + kind_name(key.field);
  std::visit(
      [&](auto* field) {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          if (!node.IsSequence()) bad(expected);
          std::vector<std::string> values;
          for (const auto& item : node) {
            if (!item.IsScalar()) bad(expected);
            values.push_back(item.as<std::string>());
            if (!key.choices.empty() &&
                std::find(key.choices.begin(), key.choices.end(), values.back()) == key.choices.end()) {
              bad("item '" + values.back() + "' is not one of " + join_choices(key.choices));
            }
          }
          *field = values;
        } else {
          if (!node.IsScalar())
            bad(expected + ", got " + (node.IsMap() ? "a map" : node.IsSequence() ? "a list" : "no value"));
          const std::string text = node.Scalar();
          if (std::is_same_v<T, uint64_t> && !text.empty() && text[0] == '-') {
            bad(expected + ", got '" + text + "'");  // yaml-cpp would wrap a negative number around
          }
          T value{};
          try {
            value = node.as<T>();
          } catch (const YAML::BadConversion&) {
            bad(expected + ", got '" + text + "'");
          }
          if constexpr (is_number_v<T>) {
            const auto v = static_cast<double>(value);
            if (v < key.range.min || v > key.range.max) {
              bad(str("value ", text, " is out of range [", format_number(key.range.min), ", ",
                      format_number(key.range.max), "]"));
            }
          }
          if (!key.choices.empty() &&
              std::find(key.choices.begin(), key.choices.end(), text) == key.choices.end()) {
            bad("value '" + text + "' is not one of " + join_choices(key.choices));
          }
          *field = value;
        }
      },
      key.field);
}

// A value as `--set` gives it: the text verbatim, converted by the key's type; a YAML list for list keys.
YAML::Node value_node(const Key& key, const std::string& text, const std::string& origin) {
  if (!std::holds_alternative<std::vector<std::string>*>(key.field)) return YAML::Node(text);
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail(str(origin, ": key '", key.name, "': cannot parse '", text, "' as a list: ", e.what()));
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
  set_value(*key, value_node(*key, value, "--set"), "--set");
}

void validate(const Config& c, const std::string& origin) {
  auto bad = [&](const std::string& key, const std::string& why) {
    fail(str(origin, ": key '", key, "': ", why));
  };
  if (c.captions.templates.empty()) bad("captions.templates", "needs at least one template");
  for (const auto& t : c.captions.templates) {
    if (t.find("{}") == std::string::npos)
      bad("captions.templates", "template '" + t + "' has no {} placeholder");
  }
  if (c.train.beta1 >= 1.0 || c.train.beta2 >= 1.0) bad("train.beta1/beta2", "must be < 1");
  if (c.data.split.empty()) bad("data.split", "must not be empty");
  if (c.text2img.mode_seeking > 0 && c.text2img.noise_dim == 0)
    bad("text2img.mode_seeking", "needs noise: set text2img.noise_dim > 0");
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

Config parse_saved_config(const std::string& yaml_text, const std::string& origin) {
  // Written into every run's config.yaml and checkpoint by earlier versions; read by no program now
  // (data.balance_strength became one key per GAN, and only the trainer's sampler reads those).
  const std::pair<const char*, const char*> retired[] = {
      {"data", "root"}, {"clip", "weights"}, {"clip", "vocab"}, {"data", "balance_strength"}};
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail(str(origin, ": invalid YAML: ", e.what()));
  }
  if (root.IsMap()) {
    for (const auto& [section, leaf] : retired) {
      const YAML::Node found = static_cast<const YAML::Node&>(root)[section];  // const: adds no section
      if (!found.IsDefined() || !found.IsMap()) continue;
      YAML::Node map = root[section];
      map.remove(leaf);
      if (map.size() == 0) root.remove(section);
    }
  }
  return resolve(root, origin, {});
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  if (path.empty()) return resolve(YAML::Node(), "defaults", overrides);
  std::ifstream in(path);
  if (!in) fail(str("config file '", path, "' cannot be opened (missing or unreadable)"));
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path, overrides);
}

Config::Config() {
  for (const auto& key : key_table(*this)) {
    const std::string origin = "the default in the key table (src/core/config.cpp)";
    set_value(key, value_node(key, key.default_value, origin), origin);
  }
}

std::vector<ConfigKeyInfo> config_key_info() {
  Config c;
  std::vector<ConfigKeyInfo> info;
  for (const auto& k : key_table(c)) {
    info.push_back({k.name, type_name(k.field), k.default_value, range_text(k), k.help});
  }
  return info;
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
    std::visit(
        [&](auto* field) {
          using T = std::remove_pointer_t<decltype(field)>;
          if constexpr (std::is_same_v<T, std::string>) {
            out << YAML::DoubleQuoted << *field;
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            out << YAML::Flow << YAML::BeginSeq;
            for (const auto& item : *field) out << YAML::DoubleQuoted << item;
            out << YAML::EndSeq;
          } else {
            out << *field;
          }
        },
        k.field);
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
