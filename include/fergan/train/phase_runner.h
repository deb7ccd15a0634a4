// One phase of training (Image->Text or Text->Image) on every rank: the epoch loop.
//
// Per step: the loader's batch -> StepInputBuilder (step_inputs.h) -> gan::train_step (gan/step.h), whose
// backward passes the gradients through the bucketed all-reducer (dist/bucket_reducer.h) before each
// optimizer step. Around the loop: progress lines and metrics.jsonl every log_interval batches, a stop vote
// every step (a signal on any rank stops all of them at the same step), checkpoints at save_interval epochs
// and on a stop. Rank 0 alone prints and writes files.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "fergan/checkpoint/checkpoint.h"
#include "fergan/core/config.h"
#include "fergan/data/dataset.h"
#include "fergan/data/sampler.h"
#include "fergan/dist/bucket_reducer.h"
#include "fergan/dist/communicator.h"
#include "fergan/dist/context.h"
#include "fergan/gan/gan.h"
#include "fergan/gan/step_timer.h"
#include "fergan/train/faults.h"
#include "fergan/train/metrics_log.h"
#include "fergan/train/step_inputs.h"

namespace fergan::train {

// The names and sizes of a phase.
struct PhaseInfo {
  std::string name;   // img2text | text2img
  std::string title;  // "Image -> Text"
  std::string tag;    // "Img2Text"
  int epochs = 0;
  int latent_dim = 512;
  static PhaseInfo of(const Config& config, const std::string& phase);
};

// Where run() starts: at the beginning of `epoch` (0-based) or, resuming a mid-epoch checkpoint, `batch`
// steps into it, at global position `sample` of its sample order (see data/sampler.h).
struct StartPoint {
  int64_t epoch = 0;
  int64_t sample = 0;  // samples of the epoch all ranks together already consumed
  int64_t batch = 0;   // steps of the epoch already done (by whatever world size)
  int64_t step = 0;    // optimizer steps of the phase already done
};

class PhaseRunner {
 public:
  PhaseRunner(const Config& config, const PhaseInfo& phase, dist::Context& ctx, dist::Communicator& comm,
              torch::Device device, const data::ShardDataset& dataset);

  // Loads a checkpoint set into the networks and optimizers; returns its meta.
  checkpoint::CheckpointMeta restore(const checkpoint::CheckpointSet& set);

  // Trains from `start` to the last epoch. Returns true when stopped by a signal (after a checkpoint).
  bool run(const StartPoint& start);

 private:
  using Clock = std::chrono::steady_clock;
  struct Progress {  // what the progress line needs besides the interval's sums
    Clock::time_point phase_start;
    int64_t steps_this_run = 0, steps_to_go = 0;  // steps_to_go: of this run, counted at its start
  };

  // `batches`: the steps of this epoch, those before a resume included.
  void log_interval(int64_t epoch, int64_t batch, int64_t batches, int64_t step, const torch::Tensor& sums,
                    int64_t count, double seconds, const Progress& progress);
  void log_epoch(int64_t epochs_done, int64_t batches, int64_t step, const torch::Tensor& epoch_sums);
  void add_optional_terms(nlohmann::json& record, const std::vector<double>& averages) const;
  // Rank 0: the step-time breakdown of this run of the phase, as a log line and a metrics.jsonl record.
  void log_step_times(const gan::StepTimer& timer, int64_t steps, int64_t images);
  void refresh_average_statistics();
  void log_batchnorm_mode() const;
  // Every rank calls save(); rank 0 writes, the others wait so nobody exits before the files exist.
  void save(int64_t epochs_done, int64_t batch_in_epoch, int64_t samples_in_epoch, int64_t step,
            const torch::Tensor& epoch_sums);
  void write_sample_grid(const std::string& path);

  const Config& config_;
  PhaseInfo phase_;
  dist::Context& ctx_;
  dist::Communicator& comm_;
  torch::Device device_;
  const data::ShardDataset& dataset_;
  std::unique_ptr<gan::Gan> gan_;
  StepInputBuilder inputs_;
  data::DistributedSampler sampler_;
  std::unique_ptr<gan::GradSync> grad_sync_;
  dist::BucketReducer* bucket_reducer_ = nullptr;  // grad_sync_ when distributed, for its wait statistics
  double comm_wait_logged_ = 0;
  std::unique_ptr<MetricsLog> metrics_;
  torch::Tensor resumed_epoch_sums_;
  FaultInjection faults_ = FaultInjection::from_env();
};

}  // namespace fergan::train
