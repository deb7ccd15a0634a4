// The data_prep command line (CLI11): `data_prep --input ... --out ...` and the `synth` subcommand. The
// pipeline itself is run_prep in prep.cpp, the synthetic faces synthesize_faces in synth.cpp.
#include <spdlog/spdlog.h>

#include <map>
#include <string>
#include <vector>

#include "fergan/core/check.h"
#include "fergan/core/cli.h"
#include "fergan/data/prep.h"
#include "fergan/data/synth.h"

namespace fergan::data {
namespace {

constexpr const char* kDescription =
    "Packs FER2013 (Kaggle fer2013.csv, or folders <root>/<split>/<emotion>/*.{jpg,jpeg,png}) into HDF5 "
    "shards\nplus manifest.json. Caption embeddings come from exactly one of --embeddings, "
    "--clip-weights/--clip-vocab\nor --random-embeddings.\n  data_prep synth ...   draws a synthetic "
    "FER-format dataset instead (data_prep synth --help)";

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

// "train:N,test:M" -> {train: N, test: M}; returns the problem, or "" when `text` is well formed.
std::string parse_split_counts(const std::string& text, std::map<std::string, int64_t>* counts) {
  for (const auto& item : split_list(text, ',')) {
    const auto colon = item.find(':');
    int64_t n = 0;
    if (colon == std::string::npos || colon == 0 || !cli::parse_integer(item.substr(colon + 1), &n) ||
        n < 1) {
      return "expected name:count with a count >= 1, got '" + item + "'";
    }
    (*counts)[item.substr(0, colon)] = n;
  }
  return "";
}

CLI::Validator split_counts() {
  return CLI::Validator(
      [](std::string& value) {
        std::map<std::string, int64_t> counts;
        return parse_split_counts(value, &counts);
      },
      "");
}

void add_synth(CLI::App& app, SynthOptions& o, std::string& splits) {
  CLI::App* synth = app.add_subcommand(
      "synth", "Draws a synthetic FER-format dataset of 48x48 faces: <out>/<split>/<emotion>/*.png");
  cli::configure(*synth, cli::common_exit_codes());
  synth->add_option("--out", o.out, "raw image folder to write")->type_name("DIR")->required();
  synth->add_option("--per-class", o.per_class, "images per emotion (train; validation/test get N/5)")
      ->check(cli::integer<int64_t>(1))
      ->capture_default_str();
  synth->add_option("--seed", o.seed, "drawing seed")
      ->check(cli::integer<uint64_t>(0))
      ->capture_default_str();
  synth->add_option("--splits", splits, "images per emotion per split, e.g. train:100,test:20")
      ->type_name("NAME:N,...")
      ->check(split_counts());
  synth->add_option("--format", o.format, "image format")
      ->check(CLI::IsMember({"png", "jpg"}))
      ->capture_default_str();
  synth->add_option("--threads", o.threads, "drawing threads (0 = all cores)")
      ->check(cli::integer<int>(0))
      ->capture_default_str();
}

}  // namespace

int data_prep_main(int argc, char** argv, const ClipHookFactory& clip_factory) {
  PrepOptions o;
  std::string config_path, clip_weights, clip_vocab;
  std::vector<std::string> overrides;
  std::string splits;
  SynthOptions synth_options;
  std::string synth_splits;

  CLI::App app(kDescription, "data_prep");
  cli::configure(app, cli::common_exit_codes());
  app.add_option("--input", o.input, "a folder <root>/<split>/<emotion>/*.{jpg,jpeg,png} or a fer2013.csv")
      ->type_name("PATH");
  app.add_option("--out", o.out, "output directory of the shards and manifest.json")->type_name("DIR");
  app.add_option("--config", config_path,
                 "YAML config (captions.templates, seed, img2text.latent_dim); default: built-ins")
      ->type_name("FILE");
  app.add_option("--set", overrides, "config override, e.g. --set seed=3 (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false)
      ->check(cli::key_value());
  app.add_option("--shards", o.shards, "shards per split (default: by --samples-per-shard)")
      ->check(cli::integer<int64_t>(1));
  app.add_option("--samples-per-shard", o.samples_per_shard, "samples per shard")
      ->check(cli::integer<int64_t>(1))
      ->capture_default_str();
  app.add_option("--embeddings", o.embeddings_file,
                 "caption embeddings [C, D]: .npy (+ <stem>.captions.json), .safetensors, .h5")
      ->type_name("FILE");
  app.add_flag("--random-embeddings", o.random_embeddings,
               "seeded random embeddings (demos/tests only; recorded in the manifest)");
  app.add_option("--embed-dim", o.embed_dim, "embedding dimension (default: config img2text.latent_dim)")
      ->check(cli::integer<int64_t>(1));
  CLI::Option* weights =
      app.add_option("--clip-weights", clip_weights, "compute embeddings with the C++ CLIP text encoder")
          ->type_name("FILE");
  CLI::Option* vocab =
      app.add_option("--clip-vocab", clip_vocab, "the CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)")
          ->type_name("FILE");
  weights->needs(vocab);
  vocab->needs(weights);
  app.add_flag("--image-embeddings", o.image_embeddings, "also store CLIP image embeddings")->needs(weights);
  app.add_option("--splits", splits, "only these splits (train, validation, test, or folder names)")
      ->type_name("A,B,...");
  app.add_flag("--skip-bad", o.skip_bad, "skip bad rows/images and report them instead of failing");
  app.add_flag("--overwrite", o.overwrite,
               "replace an existing dataset in --out (the old one stays intact until done)");
  app.add_option("--threads", o.threads, "decoding threads (0 = all cores)")
      ->check(cli::integer<int>(0))
      ->capture_default_str();
  app.add_flag("--quiet", o.quiet, "no progress output");
  add_synth(app, synth_options, synth_splits);
  const CLI::App* synth = app.get_subcommand("synth");
  app.require_subcommand(0, 1);
  app.callback([&] {
    if (synth->parsed()) {
      for (const CLI::Option* option : app.get_options()) {
        if (option->count() > 0) {
          throw CLI::ValidationError(option->get_name(), "not an option of 'data_prep synth'");
        }
      }
    } else if (o.input.empty() || o.out.empty()) {
      throw CLI::RequiredError(o.input.empty() ? "--input" : "--out");
    }
  });
  if (const auto code = cli::parse(app, argc, argv)) return *code;

  if (synth->parsed()) {
    parse_split_counts(synth_splits, &synth_options.splits);  // already validated while parsing
    const int64_t n = synthesize_faces(synth_options);
    spdlog::info("data_prep synth: wrote {} synthetic 48x48 faces to {}", n, synth_options.out);
    return cli::kExitDone;
  }
  o.splits = split_list(splits, ',');
  const Config config = load_config(config_path, overrides);
  PrepHooks hooks;
  if (!clip_weights.empty()) {
    FG_CHECK(static_cast<bool>(clip_factory),
             "--clip-weights: this data_prep build has no CLIP encoder yet; use "
             "--embeddings FILE or --random-embeddings");
    hooks = clip_factory(clip_weights, clip_vocab);
  }
  run_prep(o, config, hooks);
  return cli::kExitDone;
}

}  // namespace fergan::data
