// The training driver: set-up, resume, then the phases in order (see trainer.h).
#include "fergan/train/trainer.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "fergan/core/autocast.h"
#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"
#include "fergan/core/runtime.h"
#include "fergan/data/dataset.h"
#include "fergan/dist/communicator.h"
#include "fergan/dist/context.h"
#include "fergan/dist/stop.h"
#include "fergan/train/agreement.h"
#include "fergan/train/phase_runner.h"
#include "fergan/train/resume.h"

namespace fergan::train {
namespace stdfs = std::filesystem;

int run_training(const Config& config, const TrainOptions& options, dist::Context& ctx) {
  const std::string phase_choice = options.phase.empty() ? config.train.phase : options.phase;
  FG_CHECK(phase_choice == "img2text" || phase_choice == "text2img" || phase_choice == "both", "--phase '",
           phase_choice, "': expected img2text, text2img or both");
  runtime::configure_threads(config.threads, ctx.local_size());
  const torch::Device device = runtime::select_device(config.device, ctx.local_rank());
  if (config.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
  // cuDNN autotuning: every step has the same shapes, so the one-time search pays off from the first epoch.
  // It picks algorithms by timing, which deterministic runs must not depend on.
  if (device.is_cuda())
    at::globalContext().setBenchmarkCuDNN(config.train.cudnn_benchmark && !config.deterministic);
  if (amp::parse(config.train.amp) == amp::Mode::Bf16 && device.is_cpu() && !amp::cpu_has_native_bf16() &&
      ctx.is_root())
    spdlog::warn("train.amp: bf16 on a CPU without AVX512-BF16 is emulated and usually slower than fp32");
  // Initial weights: identical on every rank, and rank 0's are broadcast anyway.
  torch::manual_seed(config.seed);

  // Fail before any training if outputs cannot be written.
  if (ctx.is_root()) {
    fs::ensure_writable_dir(config.checkpoint_dir);
    fs::ensure_writable_dir(config.run_dir);
    fs::write_file_atomically((stdfs::path(config.run_dir) / "config.yaml").string(), config.to_yaml());
  }
  auto comm = dist::make_communicator(ctx, device, config.dist.backend, config.dist.timeout_s);
  dist::install_stop_signals();

  // (The reader itself warns loudly when the shards hold seeded random embeddings.)
  data::ShardDataset dataset(config.data.shards, config.data.split, /*verify_sha256=*/false,
                             config.data.max_samples);

  std::vector<std::string> phases;
  if (phase_choice == "both" || phase_choice == "img2text") phases.push_back("img2text");
  if (phase_choice == "both" || phase_choice == "text2img") phases.push_back("text2img");
  // Every rank must see rank 0's dataset and configuration, and resume rank 0's choice of checkpoints.
  check_startup_agreement(*comm, config, dataset);
  const auto resume_from = agreed_resume_sets(*comm, options.resume, config.checkpoint_dir, phases);

  for (const auto& p : phases) {
    const PhaseInfo info = PhaseInfo::of(config, p);
    // With phase 2 already under way, phase 1 is done.
    if (p == "img2text" && resume_from.count("text2img")) continue;
    PhaseRunner runner(config, info, ctx, *comm, device, dataset);
    StartPoint start;
    if (auto it = resume_from.find(p); it != resume_from.end()) {
      if (set_is_final(it->second, info.epochs)) {
        if (ctx.is_root())
          spdlog::info("[{}] already complete ({}), skipping", info.tag, it->second.generator_path);
        continue;
      }
      const checkpoint::CheckpointMeta meta = runner.restore(it->second);
      start.epoch = meta.epoch;
      start.batch = meta.batch_in_epoch;
      start.sample = resume_sample_offset(it->second, ctx.world(), config.train.batch_size);
      start.step = meta.step;
      if (ctx.is_root()) {
        spdlog::info("Resuming {} from {} (epoch {}, batch {}, step {})", info.title,
                     it->second.generator_path, start.epoch, start.batch, start.step);
      }
    }
    if (runner.run(start)) {
      if (ctx.is_root())
        spdlog::info("Stopped on signal after a checkpoint; exit code {} asks for a requeue",
                     dist::kExitRequeue);
      return dist::kExitRequeue;
    }
    if (ctx.is_root() && p == "img2text" && phases.size() > 1) spdlog::info("");
  }
  return 0;
}

}  // namespace fergan::train
