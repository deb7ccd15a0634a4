// fergan_dist: trains the Image->Text GAN, then the Text->Image GAN, data-parallel over MPI ranks.
//
//   mpirun -np 4 fergan_dist --config config/default.yaml          (one rank per GPU, or CPU ranks)
//   fergan_dist --config config/default.yaml --set text2img.image_size=64   (single process)
//   fergan_dist --config ... --resume auto                         (continue from the newest checkpoint)
//   fergan_dist --compare-checkpoints A.pth B.pth --tolerance 1e-5  (exit 4 when they differ by more)
//
// The exit codes are listed by --help. An error on any rank ends all ranks through MPI_Abort with that rank's
// message. A usage error is found by every rank alike (the same argv): rank 0 prints it, all exit 2 without
// MPI_Abort.
#include <spdlog/spdlog.h>

#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "fergan/checkpoint/checkpoint.h"
#include "fergan/core/check.h"
#include "fergan/core/cli.h"
#include "fergan/core/config.h"
#include "fergan/core/logging.h"
#include "fergan/dist/communicator.h"
#include "fergan/dist/context.h"
#include "fergan/dist/stop.h"
#include "fergan/train/trainer.h"

namespace {

constexpr int kExitCheckpointsDiffer = 4;

struct Args {
  std::string config_path;
  std::vector<std::string> overrides;
  fergan::train::TrainOptions train;
  bool print_config = false;
  std::vector<std::string> compare;
  double tolerance = 0.0;
  bool relative = false;
  std::string ignore;
  bool verbose = false;
};

std::vector<fergan::cli::ExitCode> exit_codes() {
  auto codes = fergan::cli::common_exit_codes();
  codes.push_back(
      {fergan::dist::kExitRequeue,
       "stopped by SIGTERM/SIGUSR1 after writing a checkpoint: requeue, resume with --resume auto"});
  codes.push_back(
      {kExitCheckpointsDiffer, "--compare-checkpoints: the checkpoints differ by more than --tolerance"});
  codes.push_back({fergan::dist::kExitCommunication,
                   "communication failure (collective timeout, lost peer): the job may be requeued"});
  return codes;
}

CLI::Validator regex_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        try {
          std::regex check(value, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          return "not a valid regular expression: '" + value + "' (" + e.what() + ")";
        }
        return "";
      },
      "REGEX");
}

void add_options(CLI::App& app, Args& a) {
  namespace cli = fergan::cli;
  cli::configure(app, exit_codes());
  app.add_option("--config", a.config_path,
                 "YAML configuration (config/default.yaml; config/original.yaml reproduces train.py)")
      ->type_name("FILE");
  app.add_option("--set", a.overrides,
                 "override any config key, e.g. --set text2img.image_size=64 --set train.batch_size=16 "
                 "(repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false)
      ->check(cli::key_value());
  app.add_option("--phase", a.train.phase,
                 "train only one GAN (default: the config's train.phase, normally both, Image->Text first)")
      ->check(CLI::IsMember({"img2text", "text2img", "both"}));
  app.add_option("--resume", a.train.resume,
                 "auto = the newest complete checkpoint set in checkpoint_dir; or a checkpoint file")
      ->type_name("auto|FILE.pth");
  app.add_flag("--print-config", a.print_config, "print the resolved configuration and exit");
  app.add_flag("-v,--verbose", a.verbose, "debug output");
  CLI::Option* compare =
      app.add_option(
             "--compare-checkpoints", a.compare,
             "print the largest weight difference of two checkpoints; exit 0 if <= --tolerance, else 4")
          ->type_name("FILE")
          ->expected(2)
          ->multi_option_policy(CLI::MultiOptionPolicy::Throw);  // with TakeLast, one path would pass
  app.add_option("--tolerance", a.tolerance, "the largest difference that still counts as equal")
      ->check(cli::number(0))
      ->capture_default_str()
      ->needs(compare);
  app.add_flag("--relative", a.relative,
               "compare per tensor ||a-b|| / ||b|| (L2) instead of the largest absolute difference")
      ->needs(compare);
  app.add_option("--ignore", a.ignore, "leave out the tensors whose names match REGEX")
      ->check(regex_validator())
      ->needs(compare);
}

int compare_checkpoints(const Args& args) {
  std::string worst_tensor;
  const double diff = fergan::checkpoint::max_abs_difference(args.compare[0], args.compare[1], args.relative,
                                                             &worst_tensor, args.ignore);
  std::cout << (args.relative ? "max_rel_difference " : "max_abs_difference ") << diff << " (" << worst_tensor
            << ")\n";
  return diff <= args.tolerance ? fergan::cli::kExitDone : kExitCheckpointsDiffer;
}

}  // namespace

int main(int argc, char** argv) {
  fergan::dist::Context ctx(&argc, &argv);
  // Early, so that a preemption signal arriving during start-up still ends in a checkpoint, not a kill.
  fergan::dist::install_stop_signals();
  fergan::logging::init(ctx.world() > 1 ? ctx.rank() : -1);
  Args args;
  args.train.phase.clear();  // empty: the config's train.phase
  CLI::App app("Trains the Image->Text GAN, then the Text->Image GAN, data-parallel over MPI ranks.",
               "fergan_dist");
  add_options(app, args);
  if (const auto code = fergan::cli::parse(app, argc, argv, /*print=*/ctx.is_root())) {
    ctx.finalize();
    return *code;
  }
  int code = fergan::cli::kExitError;
  try {
    fergan::logging::init(ctx.world() > 1 ? ctx.rank() : -1, args.verbose);
    if (!args.compare.empty()) {
      code = compare_checkpoints(args);
    } else {
      const fergan::Config config = fergan::load_config(args.config_path, args.overrides);
      if (args.print_config) {
        if (ctx.is_root()) std::cout << config.to_yaml();
        code = fergan::cli::kExitDone;
      } else {
        code = fergan::train::run_training(config, args.train, ctx);
      }
    }
  } catch (const fergan::dist::CommunicationError& e) {
    // A collective timed out or a peer was lost: not the input's fault, so its own code (5, "may requeue").
    if (ctx.world() > 1) ctx.abort(e.what(), fergan::dist::kExitCommunication);
    spdlog::error("{}", e.what());
    code = fergan::dist::kExitCommunication;
  } catch (const std::exception& e) {
    if (ctx.world() > 1) ctx.abort(e.what());  // ends every rank, with this rank's message
    spdlog::error("{}", e.what());
    code = fergan::cli::kExitError;
  }
  ctx.finalize();
  return code;
}
