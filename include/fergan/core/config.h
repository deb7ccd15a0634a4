// The run configuration: one struct, one table of keys.
//
// Every key that a YAML file or `--set a.b=value` may name is listed once in the key table (config.cpp),
// with its type, its default, its range or choices and a one-line help. The table is the only place a
// default lives: the struct fields below carry no initializers, and Config() sets each of them from the
// table. config/default.yaml and docs/config.md are generated from the same table (config_docs.h), and a
// test keeps them current. Loading walks the YAML tree against the table, so an unknown key, a wrong type
// or an out-of-range value is an error naming the key (and listing the valid keys for an unknown one).
// `to_yaml()` writes the resolved configuration beside each run's outputs.
//
// Adding a key: a field here and one line in the key table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fergan {

constexpr int kNumEmotions = 7;
// FER2013 label order 0..6.
extern const char* const kEmotionNames[kNumEmotions];  // angry, disgust, fear, happy, sad, surprise, neutral
extern const char* const
    kEmotionAdjectives[kNumEmotions];  // angry, disgusted, fearful, happy, sad, surprised, neutral

// The sections of Config. Their fields are set by Config(); on their own they are not initialized.
struct DataConfig {
  std::string shards;
  std::string split;
  int64_t max_samples;
  int prefetch_batches;
  bool shuffle;
  bool drop_last;
  bool class_balanced;
};

struct CaptionConfig {
  std::vector<std::string> templates;  // "{}" stands for the emotion's adjective
  bool resample;
};

struct TrainConfig {
  int batch_size;
  double lr;
  double beta1;
  double beta2;
  double adam_eps;
  int log_interval;
  int save_interval;
  int keep_last;
  std::string phase;
  bool step_timing;
  std::string amp;
  bool channels_last;
  bool cudnn_benchmark;
};

struct Img2TextConfig {
  int epochs;
  int latent_dim;
  bool conditional;
  bool matching_aware;
  std::string encoder;
  std::string loss;
  double supervised_weight;
  bool flip;
  double ema_decay;
  double balance_strength;
};

struct Text2ImgConfig {
  int epochs;
  int latent_dim;
  int ngf;
  int ndf;
  int image_size;
  int noise_dim;
  bool conditional;
  bool matching_aware;
  int sample_grid_per_emotion;
  int channels;
  std::string loss;
  bool spectral_norm;
  bool minibatch_std;
  bool film;
  std::string upsample;
  double mode_seeking;
  double class_weight;
  std::vector<std::string> augment;
  double ema_decay;
  double balance_strength;
};

struct DistConfig {
  std::string backend;
  double bucket_mb;
  bool sync_batchnorm;
  double timeout_s;
  std::string grad_dtype;
};

struct Config {
  std::string run_dir;
  std::string checkpoint_dir;
  std::string device;
  int threads;
  uint64_t seed;
  bool deterministic;

  DataConfig data;
  CaptionConfig captions;
  TrainConfig train;
  Img2TextConfig img2text;
  Text2ImgConfig text2img;
  DistConfig dist;

  // Every key at its default from the key table (the configuration of config/default.yaml).
  Config();

  // The resolved configuration as YAML, every key present.
  std::string to_yaml() const;
};

// Loads `path` (empty = the defaults: config/default.yaml's configuration), then applies each "a.b=value"
// override in order, then validates.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Parses one YAML document string (tests, embedded defaults) with the same rules as load_config.
Config parse_config(const std::string& yaml_text, const std::string& origin,
                    const std::vector<std::string>& overrides = {});

// A configuration that a run wrote (the config embedded in a checkpoint): parse_config's rules, except that
// keys earlier versions wrote and that have since been removed are dropped instead of being errors.
Config parse_saved_config(const std::string& yaml_text, const std::string& origin);

// All valid keys, dotted, in table order.
std::vector<std::string> config_keys();

// One key of the table, described for people (config/default.yaml, docs/config.md).
struct ConfigKeyInfo {
  std::string name;           // dotted: "train.lr"; no dot for top-level keys
  std::string type;           // integer | number | bool | string | list of strings
  std::string default_value;  // as the table writes it (YAML text; a flow list for list keys)
  std::string range;  // "1 to 1024", ">= 0", "auto, cpu or cuda"; empty when any value of the type goes
  std::string help;   // one line: what the key does, in which unit
};

// Every key, in table order.
std::vector<ConfigKeyInfo> config_key_info();

// The caption strings for one emotion label under the configured templates.
std::vector<std::string> captions_for_label(const CaptionConfig& captions, int label);

}  // namespace fergan
