// fergan_eval: scores a checkpoint on a shard split; writes metrics.json, metrics.txt and report.html.
//
//   fergan_eval --checkpoint PATH|DIR|latest [--run-dir DIR] [--shards DIR] [--split test] [--out DIR] ...
#include <cstdio>
#include <iostream>
#include <string>

#include "fergan/core/logging.h"
#include "fergan/core/runtime.h"
#include "fergan/eval/cli_args.h"
#include "fergan/eval/evaluate.h"

namespace {
constexpr const char* kUsage =
    "usage: fergan_eval [options]\n"
    "  --checkpoint PATH|DIR|latest   generator checkpoint, checkpoint dir, or newest in --run-dir "
    "(default)\n"
    "  --run-dir DIR                  run directory (checkpoints, metrics.jsonl for the loss curves)\n"
    "  --shards DIR                   data_prep output (default: data.shards of the checkpoint's config)\n"
    "  --split NAME                   evaluated split (default test)\n"
    "  --train-split NAME             real images for the CAS classifier (default train)\n"
    "  --out DIR                      output directory (default eval)\n"
    "  --samples-per-emotion N        generated images per emotion (default 100)\n"
    "  --max-samples N                N images evenly spaced over the split (default all)\n"
    "  --classifier-train-samples N   (default 6000)   --classifier-epochs N (default 6)\n"
    "  --collapse-threshold X         diversity ratio below which an emotion counts as collapsed (0.25)\n"
    "  --max-report-checkpoints N     sample grids for at most N checkpoints (default 6)\n"
    "  --clip-weights FILE --clip-vocab FILE   CLIP score and Frechet distance on CLIP features\n"
    "  --device auto|cpu|cuda --batch-size N --seed N --threads N\n";
}  // namespace

int main(int argc, char** argv) {
  fergan::logging::init();
  return fergan::logging::run_main([&] {
    if (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    fergan::eval::CliArgs args(
        argc, argv, 1,
        {"--checkpoint", "--run-dir", "--shards", "--split", "--train-split", "--out", "--device",
         "--batch-size", "--samples-per-emotion", "--max-samples", "--classifier-train-samples",
         "--classifier-epochs", "--collapse-threshold", "--max-report-checkpoints", "--seed", "--threads",
         "--clip-weights", "--clip-vocab"},
        {});
    fergan::eval::EvalOptions o;
    o.checkpoint = args.get("--checkpoint", o.checkpoint);
    o.run_dir = args.get("--run-dir");
    o.shards = args.get("--shards");
    o.split = args.get("--split", o.split);
    o.train_split = args.get("--train-split", o.train_split);
    o.out = args.get("--out", o.out);
    o.device = args.get("--device", o.device);
    o.batch_size = args.get_int("--batch-size", o.batch_size);
    o.samples_per_emotion = args.get_int("--samples-per-emotion", o.samples_per_emotion);
    o.max_samples = args.get_int("--max-samples", o.max_samples);
    o.classifier_train_samples = args.get_int("--classifier-train-samples", o.classifier_train_samples);
    o.classifier_epochs = static_cast<int>(args.get_int("--classifier-epochs", o.classifier_epochs));
    o.collapse_threshold = args.get_double("--collapse-threshold", o.collapse_threshold);
    o.max_report_checkpoints =
        static_cast<int>(args.get_int("--max-report-checkpoints", o.max_report_checkpoints));
    o.seed = static_cast<uint64_t>(args.get_int("--seed", 0));
    o.clip_weights = args.get("--clip-weights");
    o.clip_vocab = args.get("--clip-vocab");
    FG_CHECK(o.batch_size > 0 && o.samples_per_emotion >= 2 && o.classifier_epochs > 0,
             "--batch-size and --classifier-epochs must be positive and --samples-per-emotion at least 2");
    FG_CHECK(o.collapse_threshold > 0, "--collapse-threshold must be positive");
    fergan::runtime::configure_threads(static_cast<int>(args.get_int("--threads", 0)));
    const auto metrics = fergan::eval::run_evaluation(o);
    std::cout << fergan::eval::metrics_table(metrics);
    std::cout << "wrote " << o.out << "/metrics.json, metrics.txt, report.html\n";
    return 0;
  });
}
