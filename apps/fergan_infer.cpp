// fergan_infer: samples from trained checkpoints (text -> image grids, image -> emotion predictions, round
// trips).
//
//   fergan_infer text2img  [--emotion NAME]... [--caption TEXT]... [--samples N]
//   fergan_infer img2text  (--images DIR | --split NAME) [--max-samples N]
//   fergan_infer roundtrip (--images DIR | --split NAME) [--samples N]
// common: --checkpoint PATH|DIR|latest --run-dir DIR --shards DIR --split NAME --out DIR --device
// cpu|cuda|auto
//         --batch-size N --seed N --threads N --truncation T --clip-weights FILE --clip-vocab FILE
#include <string>

#include "fergan/core/cli.h"
#include "fergan/core/logging.h"
#include "fergan/core/runtime.h"
#include "fergan/eval/infer.h"

namespace {

namespace cli = fergan::cli;

// The options every mode takes.
void add_common_options(CLI::App& mode, fergan::eval::InferOptions& o, int& threads) {
  cli::configure(mode, cli::common_exit_codes());
  mode.add_option("--checkpoint", o.checkpoint,
                  "generator checkpoint, checkpoint directory, or latest (the newest in --run-dir)")
      ->type_name("PATH|DIR|latest")
      ->capture_default_str();
  mode.add_option("--run-dir", o.run_dir, "run directory (for --checkpoint latest)")->type_name("DIR");
  mode.add_option("--shards", o.shards, "data_prep output (default: data.shards of the checkpoint's config)")
      ->type_name("DIR");
  mode.add_option("--split", o.split, "split read for images (img2text, roundtrip) and the caption table")
      ->type_name("NAME")
      ->capture_default_str();
  mode.add_option("--out", o.out, "output directory (default: infer_<mode>)")->type_name("DIR");
  mode.add_option("--weights", o.weights,
                  "average: the generator's weight average when the checkpoint has one; trained: its weights")
      ->check(CLI::IsMember({"average", "trained"}))
      ->capture_default_str();
  mode.add_option(
          "--truncation", o.truncation,
          "Text->Image noise from a normal truncated to [-T, T] (the truncation trick: less diversity, more "
          "fidelity); 0 = none")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  mode.add_option("--device", o.device, "where to run")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  mode.add_option("--batch-size", o.batch_size, "images per forward pass")
      ->check(cli::integer<int64_t>(1))
      ->capture_default_str();
  mode.add_option("--seed", o.seed, "noise seed")->check(cli::integer<uint64_t>(0))->capture_default_str();
  mode.add_option("--threads", threads, "CPU threads (0 = all cores)")
      ->check(cli::integer<int>(0))
      ->capture_default_str();
  mode.add_option("--clip-weights", o.clip_weights, "embed captions with CLIP (with --clip-vocab)")
      ->type_name("FILE");
  mode.add_option("--clip-vocab", o.clip_vocab, "the CLIP BPE vocabulary")->type_name("FILE");
}

}  // namespace

int main(int argc, char** argv) {
  fergan::logging::init();
  return fergan::logging::run_main([&] {
    fergan::eval::InferOptions o;
    o.out.clear();  // default: infer_<mode>
    int threads = 0;
    CLI::App app(
        "Samples from trained checkpoints: text -> image grids, image -> emotion predictions, round trips.",
        "fergan_infer");
    cli::configure(app, cli::common_exit_codes());
    app.require_subcommand(1);

    CLI::App* text2img =
        app.add_subcommand("text2img", "one labelled sample grid per caption, plus an overview");
    add_common_options(*text2img, o, threads);
    text2img->add_option("--emotion", o.emotions, "an emotion, by name (repeatable; default: every emotion)")
        ->type_name("NAME")
        ->allow_extra_args(false);
    text2img->add_option("--caption", o.captions, "a caption (repeatable)")->allow_extra_args(false);
    text2img->add_option("--samples", o.samples, "samples per caption")
        ->check(cli::integer<int64_t>(1))
        ->capture_default_str();
    text2img->add_flag(
        "--per-image", o.per_image,
        "also write every sample as OUT/<emotion>/NNNNN.png at native size (FER2013's layout)");

    CLI::App* img2text =
        app.add_subcommand("img2text", "emotion predictions for images: predictions.csv, predictions.json");
    add_common_options(*img2text, o, threads);
    img2text
        ->add_option("--images", o.images_dir,
                     "a folder of images, emotion-named subfolders give labels (default: --split)")
        ->type_name("DIR");
    img2text->add_option("--max-samples", o.max_samples, "at most N images (0 = all)")
        ->check(cli::integer<int64_t>(0))
        ->capture_default_str();

    CLI::App* roundtrip = app.add_subcommand("roundtrip", "image -> text embedding -> image, side by side");
    add_common_options(*roundtrip, o, threads);
    roundtrip->add_option("--images", o.images_dir, "a folder of images (default: --split)")
        ->type_name("DIR");
    roundtrip->add_option("--samples", o.samples, "images")
        ->check(cli::integer<int64_t>(1))
        ->capture_default_str();

    if (const auto code = cli::parse(app, argc, argv)) return *code;
    const std::string mode = app.get_subcommands().front()->get_name();
    if (o.out.empty()) o.out = "infer_" + mode;
    fergan::runtime::configure_threads(threads);
    if (text2img->parsed()) fergan::eval::run_text2img(o);
    if (img2text->parsed()) fergan::eval::run_img2text(o);
    if (roundtrip->parsed()) fergan::eval::run_roundtrip(o);
    return cli::kExitDone;
  });
}
