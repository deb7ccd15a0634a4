// fergan_dist: trains the Image->Text GAN, then the Text->Image GAN, data-parallel over MPI ranks.
//
//   mpirun -np 4 fergan_dist --config config/default.yaml          (one rank per GPU, or CPU ranks)
//   fergan_dist --config config/default.yaml --set text2img.image_size=64   (single process)
//   fergan_dist --config ... --resume auto                         (continue from the newest checkpoint)
//
// Exit codes: 0 done; 1 error (every rank is brought down); 3 stopped on SIGTERM/SIGUSR1 after a checkpoint
// ("please requeue"). An error on any rank ends all ranks through MPI_Abort with that rank's message.
#include <spdlog/spdlog.h>

#include <iostream>
#include <string>
#include <vector>

#include "fergan/checkpoint/checkpoint.h"
#include "fergan/core/check.h"
#include "fergan/core/config.h"
#include "fergan/core/logging.h"
#include "fergan/dist/context.h"
#include "fergan/dist/stop.h"
#include "fergan/train/trainer.h"

namespace {

const char* kUsage =
    R"(usage: fergan_dist --config FILE [--set key=value ...] [--phase img2text|text2img|both]
                   [--resume auto|CHECKPOINT.pth] [--verbose]
       fergan_dist --print-config [--config FILE] [--set key=value ...]
       fergan_dist --compare-checkpoints A.pth B.pth [--tolerance T] [--relative] [--ignore REGEX]

  --config FILE     YAML configuration (config/default.yaml; config/original.yaml reproduces train.py)
  --set key=value   override any config key, e.g. --set text2img.image_size=64 --set train.batch_size=16
  --phase P         train only one GAN (default: train.phase, normally both, Image->Text first)
  --resume R        auto = newest complete checkpoint set in checkpoint_dir; or a checkpoint file
  --print-config    print the resolved configuration and exit
  --compare-checkpoints A B   print the largest weight difference; exit 0 if <= --tolerance (default 0)
  --relative        compare per tensor ||a-b|| / ||b|| (L2) instead of the largest absolute difference
  --ignore REGEX    leave out the tensors whose names match REGEX
exit codes: 0 done, 1 error, 3 checkpointed on SIGTERM/SIGUSR1 (requeue and run again with --resume auto)
)";

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

Args parse_args(int argc, char** argv) {
  Args a;
  a.train.phase.clear();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      FG_CHECK(i + 1 < argc, "option ", arg, " needs a value\n", kUsage);
      return argv[++i];
    };
    if (arg == "--config") {
      a.config_path = value();
    } else if (arg == "--set") {
      a.overrides.push_back(value());
    } else if (arg == "--phase") {
      a.train.phase = value();
    } else if (arg == "--resume") {
      a.train.resume = value();
    } else if (arg == "--compare-checkpoints") {
      a.compare.push_back(value());
      a.compare.push_back(value());
    } else if (arg == "--tolerance") {
      a.tolerance = std::stod(value());
    } else if (arg == "--relative") {
      a.relative = true;
    } else if (arg == "--ignore") {
      a.ignore = value();
    } else if (arg == "--print-config") {
      a.print_config = true;
    } else if (arg == "--verbose" || arg == "-v") {
      a.verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      fergan::fail(fergan::str("unknown option '", arg, "'\n", kUsage));
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  fergan::dist::Context ctx(&argc, &argv);
  // Early, so that a preemption signal arriving during start-up still ends in a checkpoint, not a kill.
  fergan::dist::install_stop_signals();
  fergan::logging::init(ctx.world() > 1 ? ctx.rank() : -1);
  int code = 1;
  try {
    Args args = parse_args(argc, argv);
    fergan::logging::init(ctx.world() > 1 ? ctx.rank() : -1, args.verbose);
    if (!args.compare.empty()) {
      std::string worst_tensor;
      const double diff = fergan::checkpoint::max_abs_difference(args.compare[0], args.compare[1],
                                                                 args.relative, &worst_tensor, args.ignore);
      std::cout << (args.relative ? "max_rel_difference " : "max_abs_difference ") << diff << " ("
                << worst_tensor << ")\n";
      ctx.finalize();
      return diff <= args.tolerance ? 0 : 2;
    }
    const fergan::Config config = fergan::load_config(args.config_path, args.overrides);
    if (args.print_config) {
      if (ctx.is_root()) std::cout << config.to_yaml();
      code = 0;
    } else {
      code = fergan::train::run_training(config, args.train, ctx);
    }
  } catch (const fergan::dist::CommunicationError& e) {
    // A collective timed out or a peer was lost: not the input's fault, so its own code (5, "may requeue").
    if (ctx.world() > 1) ctx.abort(e.what(), fergan::dist::kExitCommunication);
    spdlog::error("{}", e.what());
    code = fergan::dist::kExitCommunication;
  } catch (const std::exception& e) {
    if (ctx.world() > 1) ctx.abort(e.what());  // ends every rank, with this rank's message
    spdlog::error("{}", e.what());
    code = 1;
  }
  ctx.finalize();
  return code;
}
