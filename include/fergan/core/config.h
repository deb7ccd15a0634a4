// The run configuration: one struct, one table of keys.
//
// Every key that a YAML file or `--set a.b=value` may name is listed once in the key table (config.cpp),
// with its type, its range and a one-line help. Loading walks the YAML tree against that table, so an
// unknown key, a wrong type or an out-of-range value is an error naming the key (and listing the valid
// keys for an unknown one). `to_yaml()` writes the resolved configuration beside each run's outputs.
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

struct DataConfig {
  std::string shards = "data/fer2013_shards";  // data_prep output, trainer input
  std::string split = "train";                 // split the trainer reads
  int64_t max_samples = 0;                     // 0 = whole split; else N samples evenly spaced over it
  int prefetch_batches = 4;                    // batches prepared ahead by the loader thread
  bool shuffle = true;
  bool drop_last = false;
};

struct CaptionConfig {
  // "{}" is replaced by the emotion's adjective. One template = the original's one caption per emotion.
  std::vector<std::string> templates = {"a person with a {} expression"};
  bool resample =
      false;  // each step draws a random caption of the sample's emotion instead of the stored one
};

struct TrainConfig {
  int batch_size = 8;  // per rank
  double lr = 2e-4;
  double beta1 = 0.5;
  double beta2 = 0.999;
  double adam_eps = 1e-8;      // Adam's epsilon
  int log_interval = 100;      // batches between progress lines
  int save_interval = 10;      // epochs between checkpoints (and always at the last epoch)
  int keep_last = 0;           // checkpoint sets to keep per phase; 0 = all
  std::string phase = "both";  // img2text | text2img | both
};

struct Img2TextConfig {
  int epochs = 50;
  int latent_dim = 512;
  bool conditional = true;     // projection discriminator that also sees the image
  bool matching_aware = true;  // (image, wrong caption embedding) counts as fake
};

struct Text2ImgConfig {
  int epochs = 50;
  int latent_dim = 512;
  int ngf = 64;
  int ndf = 64;
  int image_size = 256;  // 64, 128 or 256
  int noise_dim = 100;   // 0 = no noise input (the original)
  bool conditional = true;
  bool matching_aware = true;
  int sample_grid_per_emotion = 8;  // columns of the PNG grid written at each checkpoint
};

struct DistConfig {
  std::string backend = "auto";  // auto | mpi | nccl
  double bucket_mb = 25.0;       // gradient bucket size
  bool sync_batchnorm = false;   // BatchNorm over the global batch of all ranks (else each rank's own)
  double timeout_s = 600.0;      // a collective waiting longer than this aborts the job
};

struct Config {
  std::string run_dir = "experiments/exp1";
  std::string checkpoint_dir = "experiments/exp1/checkpoints";
  std::string device = "auto";  // auto | cpu | cuda
  int threads = 0;              // LibTorch intra-op threads; 0 = this rank's share of the cores
  uint64_t seed = 42;
  bool deterministic = false;  // deterministic kernels where available (CUDA)

  DataConfig data;
  CaptionConfig captions;
  TrainConfig train;
  Img2TextConfig img2text;
  Text2ImgConfig text2img;
  DistConfig dist;

  // The resolved configuration as YAML, every key present.
  std::string to_yaml() const;
};

// Loads `path` (empty = built-in defaults), then applies each "a.b=value" override in order, then validates.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Parses one YAML document string (tests, embedded defaults) with the same rules as load_config.
Config parse_config(const std::string& yaml_text, const std::string& origin,
                    const std::vector<std::string>& overrides = {});

// All valid keys, dotted, in table order.
std::vector<std::string> config_keys();

// The caption strings for one emotion label under the configured templates.
std::vector<std::string> captions_for_label(const CaptionConfig& captions, int label);

}  // namespace fergan
