// fergan_eval: scores a checkpoint on a shard split; writes metrics.json, metrics.txt and report.html.
//
//   fergan_eval --checkpoint PATH|DIR|latest [--run-dir DIR] [--shards DIR] [--split test] [--out DIR] ...
#include <iostream>
#include <string>

#include "fergan/core/cli.h"
#include "fergan/core/logging.h"
#include "fergan/core/runtime.h"
#include "fergan/eval/evaluate.h"

int main(int argc, char** argv) {
  namespace cli = fergan::cli;
  fergan::logging::init();
  return fergan::logging::run_main([&] {
    fergan::eval::EvalOptions o;
    int threads = 0;
    CLI::App app("Scores a checkpoint on a shard split; writes metrics.json, metrics.txt and report.html.",
                 "fergan_eval");
    cli::configure(app, cli::common_exit_codes());
    app.add_option("--checkpoint", o.checkpoint,
                   "generator checkpoint, checkpoint directory, or latest (the newest in --run-dir)")
        ->type_name("PATH|DIR|latest")
        ->capture_default_str();
    app.add_option("--run-dir", o.run_dir, "run directory (checkpoints, metrics.jsonl for the loss curves)")
        ->type_name("DIR");
    app.add_option("--shards", o.shards, "data_prep output (default: data.shards of the checkpoint's config)")
        ->type_name("DIR");
    app.add_option("--split", o.split, "evaluated split")->type_name("NAME")->capture_default_str();
    app.add_option("--train-split", o.train_split, "real images for the CAS classifier")
        ->type_name("NAME")
        ->capture_default_str();
    app.add_option("--out", o.out, "output directory")->type_name("DIR")->capture_default_str();
    app.add_option("--samples-per-emotion", o.samples_per_emotion, "generated images per emotion")
        ->check(cli::integer<int64_t>(2))
        ->capture_default_str();
    app.add_option("--max-samples", o.max_samples, "N images evenly spaced over the split (0 = all)")
        ->check(cli::integer<int64_t>(0))
        ->capture_default_str();
    app.add_option("--classifier-train-samples", o.classifier_train_samples,
                   "real training images for the CAS classifier")
        ->check(cli::integer<int64_t>(1))
        ->capture_default_str();
    app.add_option("--classifier-epochs", o.classifier_epochs, "CAS classifier epochs")
        ->check(cli::integer<int>(1))
        ->capture_default_str();
    app.add_option("--collapse-threshold", o.collapse_threshold,
                   "diversity ratio below which an emotion counts as collapsed")
        ->check(cli::number(0, /*exclusive=*/true))
        ->capture_default_str();
    app.add_option("--max-report-checkpoints", o.max_report_checkpoints,
                   "sample grids for at most N checkpoints")
        ->check(cli::integer<int>(0))
        ->capture_default_str();
    app.add_option("--clip-weights", o.clip_weights, "CLIP score and Frechet distance on CLIP features")
        ->type_name("FILE");
    app.add_option("--clip-vocab", o.clip_vocab, "the CLIP BPE vocabulary (with --clip-weights)")
        ->type_name("FILE");
    app.add_option(
           "--weights", o.weights,
           "average: the generator's weight average when the checkpoint has one; trained: its weights")
        ->check(CLI::IsMember({"average", "trained"}))
        ->capture_default_str();
    app.add_option(
           "--truncation", o.truncation,
           "Text->Image noise from a normal truncated to [-T, T] (the truncation trick: less diversity, more "
           "fidelity); 0 = none")
        ->check(CLI::Range(0.0, 100.0))
        ->capture_default_str();
    app.add_option("--device", o.device, "where to run")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
        ->capture_default_str();
    app.add_option("--batch-size", o.batch_size, "images per forward pass")
        ->check(cli::integer<int64_t>(1))
        ->capture_default_str();
    app.add_option("--seed", o.seed, "seed of the generated samples and the classifier")
        ->check(cli::integer<uint64_t>(0))
        ->capture_default_str();
    app.add_option("--threads", threads, "CPU threads (0 = all cores)")
        ->check(cli::integer<int>(0))
        ->capture_default_str();
    if (const auto code = cli::parse(app, argc, argv)) return *code;

    fergan::runtime::configure_threads(threads);
    const auto metrics = fergan::eval::run_evaluation(o);
    std::cout << fergan::eval::metrics_table(metrics);
    std::cout << "wrote " << o.out << "/metrics.json, metrics.txt, report.html\n";
    return cli::kExitDone;
  });
}
