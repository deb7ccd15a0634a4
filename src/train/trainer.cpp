// The training driver: both phases, data-parallel, with checkpoints and exact resume (see trainer.h).
//
// Randomness that the step needs (the caption drawn for a sample, the "wrong" caption of a matching-aware
// negative, the generator's noise) is a pure function of (seed, phase, epoch, sample index). That makes a
// resumed run continue exactly where the interrupted one stopped without saving RNG state, and makes
// `mpirun -np 2` with batch B follow the same per-sample draws as one process with batch 2B.
#include "fergan/train/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "fergan/check.h"
#include "fergan/data/dataset.h"
#include "fergan/data/image_io.h"
#include "fergan/data/loader.h"
#include "fergan/data/rng.h"
#include "fergan/dist/batch_stats.h"
#include "fergan/dist/broadcast.h"
#include "fergan/dist/communicator.h"
#include "fergan/dist/context.h"
#include "fergan/dist/reducer.h"
#include "fergan/dist/stop.h"
#include "fergan/fsutil.h"
#include "fergan/gan/img2text_gan.h"
#include "fergan/gan/text2img_gan.h"
#include "fergan/models/state.h"
#include "fergan/runtime.h"
#include "fergan/train/checkpoint.h"
#include "fergan/train/metrics_log.h"

namespace fergan::train {
namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Img2Text reads images at the original's 64x64 whatever the Text2Img output size is.
constexpr int64_t kImg2TextImageSize = 64;

struct PhaseInfo {
  std::string name;   // img2text | text2img
  std::string title;  // "Image -> Text"
  std::string tag;    // "Img2Text"
  int epochs = 0;
  int64_t image_size = 64;
  int64_t noise_dim = 0;
  bool matching_aware = false;
  int latent_dim = 512;
};

PhaseInfo phase_info(const Config& c, const std::string& phase) {
  PhaseInfo p;
  p.name = phase;
  if (phase == "img2text") {
    p.title = "Image -> Text";
    p.tag = "Img2Text";
    p.epochs = c.img2text.epochs;
    p.image_size = kImg2TextImageSize;
    p.matching_aware = c.img2text.matching_aware;
    p.latent_dim = c.img2text.latent_dim;
  } else {
    p.title = "Text -> Image";
    p.tag = "Text2Img";
    p.epochs = c.text2img.epochs;
    p.image_size = c.text2img.image_size;
    p.noise_dim = c.text2img.noise_dim;
    p.matching_aware = c.text2img.matching_aware;
    p.latent_dim = c.text2img.latent_dim;
  }
  return p;
}

// The networks and optimizers of one phase behind one face, so the loop below is written once.
struct PhaseModel {
  std::function<gan::StepStats(const gan::StepInputs&, gan::GradSync&)> step;
  torch::nn::Module* G = nullptr;
  torch::nn::Module* D = nullptr;
  torch::optim::Adam* opt_g = nullptr;
  torch::optim::Adam* opt_d = nullptr;
  std::function<torch::Tensor(const torch::Tensor& emb, const torch::Tensor& noise)>
      generate_images;  // text2img
  // Makes every BatchNorm of G and D normalise over the global batch (text2img; img2text has no BatchNorm).
  std::function<void(std::shared_ptr<models::BatchStatsAllReduce>)> attach_batch_stats;
  std::shared_ptr<void> owner;
};

PhaseModel build_phase_model(const Config& config, const std::string& phase, torch::Device device) {
  PhaseModel m;
  if (phase == "img2text") {
    auto gan = std::make_shared<gan::Img2TextGAN>(gan::Img2TextGAN::from(config, device));
    m.step = [g = gan.get()](const gan::StepInputs& in, gan::GradSync& sync) {
      return gan::img2text_step(*g, in, sync);
    };
    m.G = gan->G.ptr().get();
    m.D = gan->D.ptr().get();
    m.opt_g = gan->opt_g.get();
    m.opt_d = gan->opt_d.get();
    m.owner = gan;
  } else {
    auto gan = std::make_shared<gan::Text2ImgGAN>(gan::Text2ImgGAN::from(config, device));
    m.step = [g = gan.get()](const gan::StepInputs& in, gan::GradSync& sync) {
      return gan::text2img_step(*g, in, sync);
    };
    m.G = gan->G.ptr().get();
    m.D = gan->D.ptr().get();
    m.opt_g = gan->opt_g.get();
    m.opt_d = gan->opt_d.get();
    m.generate_images = [g = gan.get()](const torch::Tensor& emb, const torch::Tensor& noise) {
      return g->G->forward(emb, noise);
    };
    m.attach_batch_stats = [g = gan.get()](std::shared_ptr<models::BatchStatsAllReduce> all_reduce) {
      g->G->batch_stats_all_reduce = all_reduce;
      g->D->batch_stats_all_reduce = all_reduce;
    };
    m.owner = gan;
  }
  return m;
}

// Per-sample draws: a pure function of (seed, phase, epoch, sample index).
struct SampleDraws {
  uint64_t seed;
  uint64_t phase_salt;
  data::Rng rng_for(int64_t epoch, int64_t index) const {
    return data::Rng(
        data::splitmix64(seed ^ phase_salt) ^
        data::splitmix64(static_cast<uint64_t>(epoch) * 1000003ull + static_cast<uint64_t>(index)));
  }
};

// Caption bookkeeping: which caption ids belong to which label, for resampling and wrong-caption draws.
struct CaptionIndex {
  std::vector<std::vector<int64_t>> by_label;
  std::vector<int64_t> labels;

  explicit CaptionIndex(const std::vector<int64_t>& caption_labels) : labels(caption_labels) {
    int64_t max_label = 0;
    for (auto l : caption_labels) max_label = std::max(max_label, l);
    by_label.resize(static_cast<size_t>(max_label + 1));
    for (size_t i = 0; i < caption_labels.size(); ++i)
      by_label[caption_labels[i]].push_back(static_cast<int64_t>(i));
  }
};

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
}

torch::Tensor to_u8_images(const torch::Tensor& images) {
  // [B,3,S,S] in [-1,1] -> uint8 [B,S,S,3]
  return ((images.detach().to(torch::kCPU).clamp(-1, 1) + 1) * 127.5)
      .round()
      .to(torch::kUInt8)
      .permute({0, 2, 3, 1})
      .contiguous();
}

// Test hooks, from the environment, so that fault tests are deterministic:
//   FERGAN_FAULT_STOP_AT_STEP=k   acts as if SIGTERM arrived before step k (0-based, counted per phase)
//   FERGAN_FAULT_THROW_AT_STEP=k  throws before step k ...
//   FERGAN_FAULT_RANK=r           ... on rank r only (default: every rank)
//   FERGAN_FAULT_SLEEP_MS=ms      sleeps before every step (to make a run long enough to signal or kill)
struct FaultInjection {
  int64_t stop_at = -1, throw_at = -1, sleep_ms = 0;
  int rank = -1;
  static FaultInjection from_env() {
    FaultInjection f;
    auto get = [](const char* name, int64_t fallback) {
      const char* v = std::getenv(name);
      return v && *v ? std::stoll(v) : fallback;
    };
    f.stop_at = get("FERGAN_FAULT_STOP_AT_STEP", -1);
    f.throw_at = get("FERGAN_FAULT_THROW_AT_STEP", -1);
    f.sleep_ms = get("FERGAN_FAULT_SLEEP_MS", 0);
    f.rank = static_cast<int>(get("FERGAN_FAULT_RANK", -1));
    return f;
  }
  void before_step(int64_t step, int my_rank) const {
    if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    if (rank >= 0 && rank != my_rank) return;
    if (step == stop_at) dist::request_stop_locally();
    if (step == throw_at) fail(str("injected fault at step ", step, " (FERGAN_FAULT_THROW_AT_STEP)"));
  }
};

class PhaseRunner {
 public:
  PhaseRunner(const Config& config, const PhaseInfo& phase, dist::Context& ctx, dist::Communicator& comm,
              torch::Device device, const data::ShardDataset& dataset)
      : config_(config),
        phase_(phase),
        ctx_(ctx),
        comm_(comm),
        device_(device),
        dataset_(dataset),
        captions_(dataset.caption_labels()) {
    model_ = build_phase_model(config, phase.name, device);
    embeddings_ = dataset.caption_embeddings().to(device);
    FG_CHECK(embeddings_.size(1) == phase.latent_dim, "shards in '", config.data.shards, "' hold ",
             embeddings_.size(1), "-d caption embeddings but ", phase.name, ".latent_dim is ",
             phase.latent_dim, " (set --set ", phase.name, ".latent_dim=", embeddings_.size(1),
             " or re-run data_prep)");
    draws_ = SampleDraws{config.seed, data::hash_string(phase.name)};
    data::SamplerOptions so;
    so.seed = config.seed;
    so.rank = ctx.rank();
    so.world = ctx.world();
    so.batch_size = config.train.batch_size;
    so.shuffle = config.data.shuffle;
    so.drop_last = config.data.drop_last;
    sampler_ = std::make_unique<data::DistributedSampler>(dataset.size(), so);
    FG_CHECK(sampler_->batches_per_epoch() > 0, "split '", config.data.split, "' of '", config.data.shards,
             "' has ", dataset.size(), " samples: too few for one batch of ", config.train.batch_size,
             " per rank on ", ctx.world(), " rank(s) with drop_last");
    if (ctx.world() > 1) {
      auto bucket = std::make_unique<dist::BucketReducer>(comm, config.dist.bucket_mb);
      bucket_reducer_ = bucket.get();
      reducer_ = std::move(bucket);
    } else {
      reducer_ = std::make_unique<gan::NoGradSync>();
    }
    // With one rank the local batch is the global one: the plain BatchNorm path, no all-reduce.
    if (config.dist.sync_batchnorm && ctx.world() > 1 && model_.attach_batch_stats)
      model_.attach_batch_stats(std::make_shared<dist::CommunicatorBatchStats>(comm));
    if (ctx.is_root())
      metrics_ = std::make_unique<MetricsLog>((stdfs::path(config.run_dir) / "metrics.jsonl").string());
  }

  // Restores a checkpoint set; returns its meta.
  CheckpointMeta restore(const CheckpointSet& set) {
    std::map<std::string, torch::Tensor> extra{{"epoch_sums", torch::Tensor()}};
    auto meta = load_network(set.generator_path, *model_.G, model_.opt_g, &extra);
    load_network(set.discriminator_path, *model_.D, model_.opt_d);
    if (meta.world != ctx_.world()) {
      spdlog::warn(
          "resuming {} from a checkpoint written with {} rank(s) on {} rank(s): training continues, but the "
          "data order differs from an uninterrupted run",
          set.generator_path, meta.world, ctx_.world());
    }
    resumed_epoch_sums_ = extra["epoch_sums"].to(torch::kFloat64);
    return meta;
  }

  // Runs from (start_epoch, start_batch, step) to the last epoch. Returns true when stopped by a signal.
  bool run(int64_t start_epoch, int64_t start_batch, int64_t step) {
    if (ctx_.world() > 1) {
      // Everyone starts from rank 0's weights (fresh init) or verifies the same checkpoint was loaded.
      dist::broadcast_module(comm_, *model_.G);
      dist::broadcast_module(comm_, *model_.D);
    }
    const int64_t batches = sampler_->batches_per_epoch();
    if (ctx_.is_root())
      spdlog::info("Training {} GAN on {}", phase_.title, device_.is_cuda() ? "cuda" : "cpu");
    if (ctx_.is_root()) log_batchnorm_mode();
    dist::StopVote vote(comm_);
    const auto phase_start = Clock::now();
    int64_t steps_this_run = 0;
    for (int64_t epoch = start_epoch; epoch < phase_.epochs; ++epoch) {
      const int64_t first_batch = epoch == start_epoch ? start_batch : 0;
      data::Loader loader(dataset_, *sampler_, epoch, first_batch, config_.data.prefetch_batches);
      // Running sums on the device: d_loss, g_loss, d_real, d_fake (no host sync per step).
      torch::Tensor epoch_sums =
          torch::zeros({4}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
      torch::Tensor interval_sums = torch::zeros_like(epoch_sums);
      if (epoch == start_epoch && first_batch > 0 && resumed_epoch_sums_.defined() &&
          resumed_epoch_sums_.numel() == 4) {
        epoch_sums += resumed_epoch_sums_.to(device_);
      }
      int64_t interval_count = 0;
      auto interval_start = Clock::now();
      int64_t b = first_batch;
      while (auto batch = loader.next()) {
        faults_.before_step(step, ctx_.rank());
        vote.start();
        const gan::StepInputs inputs = make_inputs(*batch, epoch);
        const gan::StepStats stats = model_.step(inputs, *reducer_);
        const torch::Tensor row = torch::stack({stats.d_loss.detach(), stats.g_loss.detach(),
                                                stats.d_real.detach(), stats.d_fake.detach()})
                                      .to(torch::kFloat64);
        epoch_sums += row;
        interval_sums += row;
        ++interval_count;
        ++b;
        ++step;
        ++steps_this_run;
        if (b % config_.train.log_interval == 0 || b == batches) {
          log_interval(epoch, b, batches, step, interval_sums, interval_count, interval_start, phase_start,
                       steps_this_run, start_epoch, start_batch);
          interval_sums.zero_();
          interval_count = 0;
          interval_start = Clock::now();
        }
        if (vote.finish()) {
          if (b < batches) {
            save(epoch, b, step, epoch_sums);
            return true;
          }
          stop_after_epoch_ = true;  // finish the epoch bookkeeping (and its checkpoint) below
        }
      }
      // Epoch averages over all batches of all ranks (every rank ran the same number of batches).
      std::vector<double> avg(4);
      auto host = epoch_sums.to(torch::kCPU);
      for (int i = 0; i < 4; ++i)
        avg[static_cast<size_t>(i)] = host[i].item<double>() / static_cast<double>(batches);
      if (ctx_.world() > 1) comm_.allreduce_host(avg, dist::ReduceOp::Avg);
      const int64_t done = epoch + 1;
      if (ctx_.is_root()) {
        spdlog::info("[{}] Epoch {}/{} done - Avg D_loss: {:.4f}, Avg G_loss: {:.4f}", phase_.tag, done,
                     phase_.epochs, avg[0], avg[1]);
        metrics_->write({{"event", "epoch"},
                         {"phase", phase_.name},
                         {"epoch", done},
                         {"step", step},
                         {"d_loss", avg[0]},
                         {"g_loss", avg[1]},
                         {"d_real", avg[2]},
                         {"d_fake", avg[3]}});
      }
      const bool save_now =
          done % config_.train.save_interval == 0 || done == phase_.epochs || stop_after_epoch_;
      if (save_now) save(done, 0, step, torch::Tensor());
      if (stop_after_epoch_) return true;
    }
    return false;
  }

 private:
  gan::StepInputs make_inputs(const data::Batch& batch, int64_t epoch) {
    const int64_t n = batch.labels.size(0);
    auto labels = batch.labels.accessor<int64_t, 1>();
    auto stored = batch.captions.accessor<int64_t, 1>();
    auto index = batch.indices.accessor<int64_t, 1>();
    std::vector<int64_t> real_ids(static_cast<size_t>(n)), wrong_ids;
    if (phase_.matching_aware) wrong_ids.resize(static_cast<size_t>(n));
    torch::Tensor noise;
    float* noise_ptr = nullptr;
    if (phase_.noise_dim > 0) {
      noise = torch::empty({n, phase_.noise_dim});
      noise_ptr = noise.data_ptr<float>();
    }
    const int64_t num_labels = static_cast<int64_t>(captions_.by_label.size());
    for (int64_t i = 0; i < n; ++i) {
      data::Rng rng = draws_.rng_for(epoch, index[i]);
      const auto& own = captions_.by_label.at(static_cast<size_t>(labels[i]));
      real_ids[static_cast<size_t>(i)] = config_.captions.resample ? own[rng.below(own.size())] : stored[i];
      if (phase_.matching_aware) {
        int64_t other = static_cast<int64_t>(rng.below(static_cast<uint64_t>(num_labels - 1)));
        if (other >= labels[i]) ++other;  // any label but the sample's own
        const auto& theirs = captions_.by_label.at(static_cast<size_t>(other));
        wrong_ids[static_cast<size_t>(i)] = theirs[rng.below(theirs.size())];
      }
      for (int64_t j = 0; j < phase_.noise_dim; ++j)
        noise_ptr[i * phase_.noise_dim + j] = static_cast<float>(rng.normal());
    }
    gan::StepInputs in;
    in.images = data::to_model_input(batch.images, phase_.image_size).to(device_, /*non_blocking=*/true);
    auto ids = torch::tensor(real_ids, torch::kInt64).to(device_);
    in.real_emb = embeddings_.index_select(0, ids);
    if (phase_.matching_aware)
      in.wrong_emb = embeddings_.index_select(0, torch::tensor(wrong_ids).to(device_));
    if (noise.defined()) in.noise = noise.to(device_, true);
    return in;
  }

  void log_interval(int64_t epoch, int64_t b, int64_t batches, int64_t step, const torch::Tensor& sums,
                    int64_t count, Clock::time_point interval_start, Clock::time_point phase_start,
                    int64_t steps_this_run, int64_t start_epoch, int64_t start_batch) {
    std::vector<double> v(4);
    auto host = sums.to(torch::kCPU);
    for (int i = 0; i < 4; ++i)
      v[static_cast<size_t>(i)] = host[i].item<double>() / static_cast<double>(count);
    if (ctx_.world() > 1) comm_.allreduce_host(v, dist::ReduceOp::Avg);
    if (!ctx_.is_root()) return;
    const double secs = std::chrono::duration<double>(Clock::now() - interval_start).count();
    const double images_per_s =
        static_cast<double>(count * config_.train.batch_size * ctx_.world()) / std::max(secs, 1e-9);
    const double run_secs = std::chrono::duration<double>(Clock::now() - phase_start).count();
    // Time rank 0 sat blocked on gradient all-reduces that backward did not hide.
    double comm_wait = 0;
    if (bucket_reducer_) {
      comm_wait = bucket_reducer_->wait_seconds_total() - comm_wait_logged_;
      comm_wait_logged_ = bucket_reducer_->wait_seconds_total();
    }
    const int64_t total_steps = (phase_.epochs - start_epoch) * batches - start_batch;
    const double eta =
        run_secs / static_cast<double>(steps_this_run) * static_cast<double>(total_steps - steps_this_run);
    spdlog::info("  Batch {}/{}: D_loss={:.4f}, G_loss={:.4f}", b, batches, v[0], v[1]);
    spdlog::info("    [{}] epoch {}/{}, {:.1f} img/s, D(real)={:.3f} D(fake)={:.3f}, ETA {}", phase_.tag,
                 epoch + 1, phase_.epochs, images_per_s, v[2], v[3], format_duration(eta));
    metrics_->write({{"event", "interval"},
                     {"phase", phase_.name},
                     {"epoch", epoch + 1},
                     {"batch", b},
                     {"step", step},
                     {"d_loss", v[0]},
                     {"g_loss", v[1]},
                     {"d_real", v[2]},
                     {"d_fake", v[3]},
                     {"images_per_s", images_per_s},
                     {"lr_g", config_.train.lr},
                     {"lr_d", config_.train.lr},
                     {"world", ctx_.world()},
                     {"threads", torch::get_num_threads()},
                     {"comm_wait_s", comm_wait},
                     {"comm_wait_share", comm_wait / std::max(secs, 1e-9)}});
  }

  // Every rank calls save(); rank 0 writes, the others wait so nobody exits before the files exist.
  void save(int64_t epochs_done, int64_t batch_in_epoch, int64_t step, const torch::Tensor& epoch_sums) {
    torch::Tensor sums =
        epoch_sums.defined() ? epoch_sums.to(torch::kCPU) : torch::zeros({4}, torch::kFloat64);
    if (ctx_.world() > 1 && batch_in_epoch > 0) {
      std::vector<double> v(sums.data_ptr<double>(), sums.data_ptr<double>() + 4);
      comm_.allreduce_host(v, dist::ReduceOp::Avg);
      sums = torch::tensor(v, torch::kFloat64);
    }
    if (ctx_.is_root()) {
      CheckpointMeta meta;
      meta.phase = phase_.name;
      meta.epoch = epochs_done;
      meta.step = step;
      meta.batch_in_epoch = batch_in_epoch;
      meta.world = ctx_.world();
      meta.seed = config_.seed;
      meta.config_yaml = config_.to_yaml();
      CheckpointSet set;
      set.tag = batch_in_epoch == 0 ? fmt::format("epoch_{}", epochs_done)
                                    : fmt::format("epoch_{}_step_{}", epochs_done, step);
      set.meta = meta;
      const std::string& dir = config_.checkpoint_dir;
      set.generator_path = checkpoint_path(dir, phase_.name, "generator", set.tag);
      set.discriminator_path = checkpoint_path(dir, phase_.name, "discriminator", set.tag);
      save_network(set.generator_path, *model_.G, model_.opt_g, meta, {{"epoch_sums", sums}});
      save_network(set.discriminator_path, *model_.D, model_.opt_d, meta);
      models::export_safetensors(
          stdfs::path(set.generator_path).replace_extension(".safetensors").string(), *model_.G,
          {{"phase", phase_.name}, {"tag", set.tag}, {"config_yaml", meta.config_yaml}});
      if (model_.generate_images)
        write_sample_grid(stdfs::path(set.generator_path).replace_extension(".png").string());
      commit_set(dir, set, config_.train.keep_last);
      spdlog::info("  Saved checkpoints to {}", dir);
    }
    if (ctx_.world() > 1) comm_.barrier();
  }

  // Says which batch BatchNorm normalises over, for the networks that have BatchNorm.
  void log_batchnorm_mode() const {
    if (!model_.attach_batch_stats) return;
    const int64_t per_rank = config_.train.batch_size, global = per_rank * ctx_.world();
    if (ctx_.world() == 1) {
      if (config_.dist.sync_batchnorm)
        spdlog::info("  BatchNorm: one rank, so dist.sync_batchnorm has nothing to synchronize");
    } else if (config_.dist.sync_batchnorm) {
      spdlog::info("  BatchNorm: synchronized over {} ranks (statistics of the global batch of {})",
                   ctx_.world(), global);
    } else {
      spdlog::info(
          "  BatchNorm: per-rank statistics (batch {} on each of {} ranks); dist.sync_batchnorm: true "
          "normalises over the global batch of {}",
          per_rank, ctx_.world(), global);
    }
  }

  // One row per emotion (its first caption), fixed noise: the same grid positions show the same latent
  // point at every checkpoint, so a person can watch the samples evolve.
  void write_sample_grid(const std::string& path) {
    const int64_t cols = config_.text2img.sample_grid_per_emotion;
    std::vector<int64_t> ids;
    for (const auto& ids_of_label : captions_.by_label) {
      if (ids_of_label.empty()) continue;
      for (int64_t c = 0; c < cols; ++c) ids.push_back(ids_of_label.front());
    }
    const int64_t n = static_cast<int64_t>(ids.size());
    torch::Tensor noise;
    if (phase_.noise_dim > 0) {
      auto gen = at::detail::createCPUGenerator(config_.seed + 12345);
      noise = torch::randn({n, phase_.noise_dim}, gen).view({n / cols, cols, phase_.noise_dim});
      // The same noise column across emotions: rows differ only by the caption.
      noise = noise.select(0, 0)
                  .unsqueeze(0)
                  .expand({n / cols, cols, phase_.noise_dim})
                  .reshape({n, phase_.noise_dim});
      noise = noise.to(device_);
    }
    torch::NoGradGuard no_grad;
    model_.G->eval();  // running BatchNorm statistics: no state changes, same as inference
    auto images = model_.generate_images(embeddings_.index_select(0, torch::tensor(ids).to(device_)), noise);
    model_.G->train();
    data::write_png(path, data::make_grid(to_u8_images(images), cols));
  }

  const Config& config_;
  PhaseInfo phase_;
  dist::Context& ctx_;
  dist::Communicator& comm_;
  torch::Device device_;
  const data::ShardDataset& dataset_;
  CaptionIndex captions_;
  PhaseModel model_;
  torch::Tensor embeddings_;
  SampleDraws draws_{};
  std::unique_ptr<data::DistributedSampler> sampler_;
  std::unique_ptr<gan::GradSync> reducer_;
  dist::BucketReducer* bucket_reducer_ = nullptr;  // reducer_ when distributed, for its wait statistics
  double comm_wait_logged_ = 0;
  std::unique_ptr<MetricsLog> metrics_;
  torch::Tensor resumed_epoch_sums_;
  bool stop_after_epoch_ = false;
  FaultInjection faults_ = FaultInjection::from_env();
};

std::optional<CheckpointSet> set_from_path(const std::string& path) {
  CheckpointMeta meta = read_meta(path);
  const std::string file = stdfs::path(path).filename().string();
  CheckpointSet set;
  set.meta = meta;
  const std::string gen = meta.phase + "_generator_", disc = meta.phase + "_discriminator_";
  std::string tag;
  if (file.rfind(gen, 0) == 0) {
    tag = file.substr(gen.size());
  } else if (file.rfind(disc, 0) == 0) {
    tag = file.substr(disc.size());
  } else {
    fail(str("--resume ", path, ": expected a file named ", meta.phase,
             "_{generator,discriminator}_<tag>.pth"));
  }
  tag = tag.substr(0, tag.size() - std::string(".pth").size());
  const std::string dir = stdfs::path(path).parent_path().string();
  set.tag = tag;
  set.generator_path = checkpoint_path(dir, meta.phase, "generator", tag);
  set.discriminator_path = checkpoint_path(dir, meta.phase, "discriminator", tag);
  return set;
}

bool set_is_final(const CheckpointSet& set, int epochs) {
  return set.meta.batch_in_epoch == 0 && set.meta.epoch >= epochs;
}

}  // namespace

int run_training(const Config& config, const TrainOptions& options, dist::Context& ctx) {
  const std::string phase_choice = options.phase.empty() ? config.train.phase : options.phase;
  FG_CHECK(phase_choice == "img2text" || phase_choice == "text2img" || phase_choice == "both", "--phase '",
           phase_choice, "': expected img2text, text2img or both");
  runtime::configure_threads(config.threads, ctx.local_size());
  const torch::Device device = runtime::select_device(config.device, ctx.local_rank());
  if (config.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
  torch::manual_seed(
      config.seed);  // initial weights: identical on every rank, and rank 0's are broadcast anyway

  // Fail before any training if outputs cannot be written.
  if (ctx.is_root()) {
    fs::ensure_writable_dir(config.checkpoint_dir);
    fs::ensure_writable_dir(config.run_dir);
    fs::write_file_atomically((stdfs::path(config.run_dir) / "config.yaml").string(), config.to_yaml());
  }
  auto comm = dist::make_communicator(ctx, device, config.dist.backend, config.dist.timeout_s);
  dist::install_stop_signals();

  data::ShardDataset dataset(config.data.shards, config.data.split, /*verify_sha256=*/false,
                             config.data.max_samples);
  // (The reader itself warns loudly when the shards hold seeded random embeddings.)

  std::vector<std::string> phases;
  if (phase_choice == "both" || phase_choice == "img2text") phases.push_back("img2text");
  if (phase_choice == "both" || phase_choice == "text2img") phases.push_back("text2img");

  // Resume: which phase to start in, and from which set.
  std::map<std::string, CheckpointSet> resume_from;
  if (options.resume == "auto") {
    for (const auto& p : phases) {
      if (auto set = latest_set(config.checkpoint_dir, p)) {
        set->meta = read_meta(set->generator_path);
        resume_from[p] = *set;
      }
    }
  } else if (!options.resume.empty()) {
    auto set = set_from_path(options.resume);
    resume_from[set->meta.phase] = *set;
  }

  for (const auto& p : phases) {
    const PhaseInfo info = phase_info(config, p);
    // With phase 2 already under way, phase 1 is done.
    if (p == "img2text" && resume_from.count("text2img")) continue;
    PhaseRunner runner(config, info, ctx, *comm, device, dataset);
    int64_t start_epoch = 0, start_batch = 0, step = 0;
    if (auto it = resume_from.find(p); it != resume_from.end()) {
      if (set_is_final(it->second, info.epochs) && ctx.is_root()) {
        spdlog::info("[{}] already complete ({}), skipping", info.tag, it->second.generator_path);
      }
      if (set_is_final(it->second, info.epochs)) continue;
      const CheckpointMeta meta = runner.restore(it->second);
      start_epoch = meta.epoch;
      start_batch = meta.batch_in_epoch;
      step = meta.step;
      if (ctx.is_root()) {
        spdlog::info("Resuming {} from {} (epoch {}, batch {}, step {})", info.title,
                     it->second.generator_path, start_epoch, start_batch, step);
      }
    }
    if (runner.run(start_epoch, start_batch, step)) {
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
