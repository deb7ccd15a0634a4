// fergan_infer: samples from trained checkpoints (text -> image grids, image -> emotion predictions, round
// trips).
//
//   fergan_infer text2img  [--emotion NAME]... [--caption TEXT]... [--samples N]
//   fergan_infer img2text  (--images DIR | --split NAME) [--max-samples N]
//   fergan_infer roundtrip (--images DIR | --split NAME) [--samples N]
// common: --checkpoint PATH|DIR|latest --run-dir DIR --shards DIR --out DIR --device cpu|cuda|auto
//         --batch-size N --seed N --threads N --clip-weights FILE --clip-vocab FILE
#include <cstdio>
#include <string>

#include "fergan/core/logging.h"
#include "fergan/core/runtime.h"
#include "fergan/eval/cli_args.h"
#include "fergan/eval/infer.h"

namespace {
constexpr const char* kUsage =
    "usage: fergan_infer text2img|img2text|roundtrip [options]\n"
    "  text2img   --emotion NAME (repeatable) | --caption TEXT (repeatable); default: every emotion\n"
    "             --samples N (per caption, default 8)\n"
    "  img2text   --images DIR (emotion-named subfolders give labels) | --split NAME (default test)\n"
    "             --max-samples N\n"
    "  roundtrip  --images DIR | --split NAME, --samples N (default 8)\n"
    "  common     --checkpoint PATH|DIR|latest (default latest) --run-dir DIR --shards DIR --out DIR\n"
    "             --device auto|cpu|cuda --batch-size N --seed N --threads N\n"
    "             --clip-weights FILE --clip-vocab FILE (embed captions with CLIP)\n";
}  // namespace

int main(int argc, char** argv) {
  fergan::logging::init();
  return fergan::logging::run_main([&] {
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
      std::fputs(kUsage, argc < 2 ? stderr : stdout);
      return argc < 2 ? 2 : 0;
    }
    const std::string mode = argv[1];
    FG_CHECK(mode == "text2img" || mode == "img2text" || mode == "roundtrip", "unknown mode '", mode,
             "' (expected text2img, img2text or roundtrip)\n", kUsage);
    fergan::eval::CliArgs args(argc, argv, 2,
                               {"--checkpoint", "--run-dir", "--shards", "--split", "--images", "--out",
                                "--device", "--batch-size", "--samples", "--max-samples", "--seed",
                                "--threads", "--caption", "--emotion", "--clip-weights", "--clip-vocab"},
                               {});
    fergan::eval::InferOptions o;
    o.checkpoint = args.get("--checkpoint", o.checkpoint);
    o.run_dir = args.get("--run-dir");
    o.shards = args.get("--shards");
    o.split = args.get("--split", o.split);
    o.images_dir = args.get("--images");
    o.out = args.get("--out", "infer_" + mode);
    o.device = args.get("--device", o.device);
    o.batch_size = args.get_int("--batch-size", o.batch_size);
    o.samples = args.get_int("--samples", o.samples);
    o.max_samples = args.get_int("--max-samples", o.max_samples);
    o.seed = static_cast<uint64_t>(args.get_int("--seed", 0));
    o.captions = args.all("--caption");
    o.emotions = args.all("--emotion");
    o.clip_weights = args.get("--clip-weights");
    o.clip_vocab = args.get("--clip-vocab");
    FG_CHECK(o.batch_size > 0, "--batch-size must be positive");
    fergan::runtime::configure_threads(static_cast<int>(args.get_int("--threads", 0)));
    if (mode == "text2img") fergan::eval::run_text2img(o);
    if (mode == "img2text") fergan::eval::run_img2text(o);
    if (mode == "roundtrip") fergan::eval::run_roundtrip(o);
    return 0;
  });
}
