// The data_prep command line: option parsing and usage text (the pipeline itself is run_prep in prep.cpp).
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fergan/core/check.h"
#include "fergan/core/logging.h"
#include "fergan/data/prep.h"
#include "fergan/data/synth.h"

namespace fergan::data {
namespace {

const char* kUsage = R"(usage:
  data_prep --input <folder-or-fer2013.csv> --out <dir> [options]
  data_prep synth --out <raw-folder> --per-class N [--seed S] [--splits train:N,test:M] [--format png|jpg]

Packs FER2013 (Kaggle fer2013.csv, or folders <root>/<split>/<emotion>/*.{jpg,jpeg,png}) into HDF5 shards
plus manifest.json. Caption embeddings come from exactly one of --embeddings, --clip-weights/--clip-vocab
or --random-embeddings.

options:
  --config FILE             YAML config (captions.templates, seed, img2text.latent_dim); default: built-ins
  --set key=value           config override (repeatable)
  --shards N                shards per split
  --samples-per-shard K     samples per shard (default 10000)
  --embeddings FILE         caption embeddings [C, D]: .npy (+ <stem>.captions.json), .safetensors, .h5
  --random-embeddings       seeded random embeddings (demos/tests only; recorded in the manifest)
  --embed-dim D             embedding dimension (default: config img2text.latent_dim)
  --clip-weights W          compute embeddings with the C++ CLIP text encoder (with --clip-vocab V)
  --clip-vocab V
  --image-embeddings        also store CLIP image embeddings (needs --clip-weights)
  --splits a,b              only these splits (train, validation, test, or folder names)
  --skip-bad                skip bad rows/images and report them instead of failing
  --overwrite               replace an existing dataset in --out (the old one stays intact until done)
  --threads N               decoding threads (default: all cores)
  --quiet                   no progress output
)";

std::vector<std::string> split_list(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = s.find(sep, start);
    const std::string item = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!item.empty()) out.push_back(item);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

int64_t parse_int(const std::string& option, const std::string& value) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  FG_CHECK(!value.empty() && *end == '\0' && errno == 0, "option ", option, ": expected an integer, got '",
           value, "'");
  return v;
}

// Walks argv; `value()` fetches the argument of the current option.
struct Args {
  std::vector<std::string> items;
  size_t pos = 0;
  std::string current;
  bool next() {
    if (pos >= items.size()) return false;
    current = items[pos++];
    return true;
  }
  std::string value() {
    FG_CHECK(pos < items.size(), "option ", current, " needs a value");
    return items[pos++];
  }
};

int synth_main(Args& args) {
  SynthOptions o;
  while (args.next()) {
    const std::string& a = args.current;
    if (a == "--out") {
      o.out = args.value();
    } else if (a == "--per-class") {
      o.per_class = parse_int(a, args.value());
    } else if (a == "--seed") {
      o.seed = static_cast<uint64_t>(parse_int(a, args.value()));
    } else if (a == "--format") {
      o.format = args.value();
    } else if (a == "--threads") {
      o.threads = static_cast<int>(parse_int(a, args.value()));
    } else if (a == "--splits") {
      for (const auto& item : split_list(args.value(), ',')) {
        const auto colon = item.find(':');
        FG_CHECK(colon != std::string::npos && colon > 0, "--splits: expected name:count, got '", item, "'");
        o.splits[item.substr(0, colon)] = parse_int("--splits " + item, item.substr(colon + 1));
      }
    } else if (a == "-h" || a == "--help") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      fail(str("data_prep synth: unknown option '", a, "'\n", kUsage));
    }
  }
  const int64_t n = synthesize_faces(o);
  spdlog::info("data_prep synth: wrote {} synthetic 48x48 faces to {}", n, o.out);
  return 0;
}

}  // namespace

int data_prep_main(int argc, char** argv, const ClipHookFactory& clip_factory) {
  Args args;
  for (int i = 1; i < argc; ++i) args.items.emplace_back(argv[i]);
  if (!args.items.empty() && args.items[0] == "synth") {
    args.pos = 1;
    return synth_main(args);
  }
  PrepOptions o;
  std::string config_path, clip_weights, clip_vocab;
  std::vector<std::string> overrides;
  bool embed_dim_set = false;
  if (args.items.empty()) {
    std::printf("%s", kUsage);
    return 2;
  }
  while (args.next()) {
    const std::string& a = args.current;
    if (a == "--input") {
      o.input = args.value();
    } else if (a == "--out") {
      o.out = args.value();
    } else if (a == "--config") {
      config_path = args.value();
    } else if (a == "--set") {
      overrides.push_back(args.value());
    } else if (a == "--shards") {
      o.shards = parse_int(a, args.value());
      FG_CHECK(o.shards >= 1, "--shards must be >= 1");
    } else if (a == "--samples-per-shard") {
      o.samples_per_shard = parse_int(a, args.value());
      FG_CHECK(o.samples_per_shard >= 1, "--samples-per-shard must be >= 1");
    } else if (a == "--embeddings") {
      o.embeddings_file = args.value();
    } else if (a == "--random-embeddings") {
      o.random_embeddings = true;
    } else if (a == "--embed-dim") {
      o.embed_dim = parse_int(a, args.value());
      FG_CHECK(o.embed_dim >= 1, "--embed-dim must be >= 1");
      embed_dim_set = true;
    } else if (a == "--clip-weights") {
      clip_weights = args.value();
    } else if (a == "--clip-vocab") {
      clip_vocab = args.value();
    } else if (a == "--image-embeddings") {
      o.image_embeddings = true;
    } else if (a == "--skip-bad") {
      o.skip_bad = true;
    } else if (a == "--overwrite") {
      o.overwrite = true;
    } else if (a == "--threads") {
      o.threads = static_cast<int>(parse_int(a, args.value()));
    } else if (a == "--splits") {
      o.splits = split_list(args.value(), ',');
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "-h" || a == "--help") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      fail(str("data_prep: unknown option '", a, "'\n", kUsage));
    }
  }
  (void)embed_dim_set;
  FG_CHECK(!o.input.empty() && !o.out.empty(), "data_prep: --input and --out are required\n", kUsage);
  const Config config = load_config(config_path, overrides);
  PrepHooks hooks;
  if (!clip_weights.empty() || !clip_vocab.empty()) {
    FG_CHECK(!clip_weights.empty() && !clip_vocab.empty(), "--clip-weights and --clip-vocab go together");
    FG_CHECK(static_cast<bool>(clip_factory),
             "--clip-weights: this data_prep build has no CLIP encoder yet; use "
             "--embeddings FILE or --random-embeddings");
    hooks = clip_factory(clip_weights, clip_vocab);
  }
  run_prep(o, config, hooks);
  return 0;
}

}  // namespace fergan::data
