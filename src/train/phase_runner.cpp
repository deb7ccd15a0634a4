// The epoch loop of one phase (see phase_runner.h).
#include "fergan/train/phase_runner.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include <torch/cuda.h>

#include "fergan/core/check.h"
#include "fergan/data/image_grid.h"
#include "fergan/data/image_io.h"
#include "fergan/data/image_tensor.h"
#include "fergan/data/loader.h"
#include "fergan/dist/batch_stats.h"
#include "fergan/dist/broadcast.h"
#include "fergan/dist/stop.h"
#include "fergan/models/state.h"
#include "fergan/train/agreement.h"

namespace fergan::train {
namespace stdfs = std::filesystem;

PhaseInfo PhaseInfo::of(const Config& c, const std::string& phase) {
  PhaseInfo p;
  p.name = phase;
  if (phase == "img2text") {
    p.title = "Image -> Text";
    p.tag = "Img2Text";
    p.epochs = c.img2text.epochs;
    p.latent_dim = c.img2text.latent_dim;
  } else {
    p.title = "Text -> Image";
    p.tag = "Text2Img";
    p.epochs = c.text2img.epochs;
    p.latent_dim = c.text2img.latent_dim;
  }
  return p;
}

namespace {

data::SamplerOptions sampler_options(const Config& config, const std::string& phase, const dist::Context& ctx,
                                     const data::ShardDataset& dataset) {
  data::SamplerOptions so;
  so.seed = config.seed;
  so.rank = ctx.rank();
  so.world = ctx.world();
  so.batch_size = config.train.batch_size;
  so.shuffle = config.data.shuffle;
  so.drop_last = config.data.drop_last;
  if (config.data.class_balanced) so.class_labels = dataset.labels();
  so.balance_strength =
      phase == "img2text" ? config.img2text.balance_strength : config.text2img.balance_strength;
  return so;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
}

// What the loop sums per step, in this order: d_loss, g_loss, d_real, d_fake, and the mode-seeking,
// supervised and auxiliary classifier (real, fake) terms (0 when off). Checkpoints of fewer stats still
// resume.
constexpr int64_t kStats = 8;

torch::Tensor stats_row(const gan::StepStats& s) {
  auto or_zero = [&](const torch::Tensor& t) { return t.defined() ? t : torch::zeros_like(s.d_loss); };
  return torch::stack({s.d_loss, s.g_loss, s.d_real, s.d_fake, or_zero(s.mode_seeking), or_zero(s.supervised),
                       or_zero(s.class_real), or_zero(s.class_fake)})
      .to(torch::kFloat64);
}

// Sums of the stats / count, averaged over ranks.
std::vector<double> averaged(const torch::Tensor& sums, double count, dist::Context& ctx,
                             dist::Communicator& comm) {
  auto host = sums.to(torch::kCPU);
  std::vector<double> v(kStats);
  for (int64_t i = 0; i < kStats; ++i) v[static_cast<size_t>(i)] = host[i].item<double>() / count;
  if (ctx.world() > 1) comm.allreduce_host(v, dist::ReduceOp::Avg);
  return v;
}

}  // namespace

PhaseRunner::PhaseRunner(const Config& config, const PhaseInfo& phase, dist::Context& ctx,
                         dist::Communicator& comm, torch::Device device, const data::ShardDataset& dataset)
    : config_(config),
      phase_(phase),
      ctx_(ctx),
      comm_(comm),
      device_(device),
      dataset_(dataset),
      gan_(gan::make_gan(config, phase.name, device)),
      inputs_(config, phase.name, dataset.caption_labels(), dataset.caption_embeddings(), device),
      sampler_(dataset.size(), sampler_options(config, phase.name, ctx, dataset)) {
  const int64_t dim = inputs_.caption_embeddings().size(1);
  FG_CHECK(dim == phase.latent_dim, "shards in '", config.data.shards, "' hold ", dim,
           "-d caption embeddings but ", phase.name, ".latent_dim is ", phase.latent_dim, " (set --set ",
           phase.name, ".latent_dim=", dim, " or re-run data_prep)");
  FG_CHECK(sampler_.batches_per_epoch() > 0, "split '", config.data.split, "' of '", config.data.shards,
           "' has ", dataset.size(), " samples: too few for one batch of ", config.train.batch_size,
           " per rank on ", ctx.world(), " rank(s) with drop_last");
  if (ctx.world() > 1) {
    // Synchronized BatchNorm all-reduces in backward on the same communicator: the buckets then wait for
    // end(), so every rank issues its collectives in the same order (see bucket_reducer.h).
    const auto launch =
        config.dist.sync_batchnorm ? dist::BucketLaunch::AtEnd : dist::BucketLaunch::DuringBackward;
    // dist.grad_dtype: the dtype gradients travel in (fp32 = as they are).
    c10::optional<torch::ScalarType> wire;
    if (config.dist.grad_dtype == "bf16") wire = torch::kBFloat16;
    if (config.dist.grad_dtype == "fp16") wire = torch::kHalf;
    auto bucket = std::make_unique<dist::BucketReducer>(comm, config.dist.bucket_mb, launch, wire);
    bucket_reducer_ = bucket.get();
    grad_sync_ = std::move(bucket);
  } else {
    grad_sync_ = std::make_unique<gan::NoGradSync>();
  }
  // With one rank the local batch is the global one: the plain BatchNorm path, no all-reduce.
  if (config.dist.sync_batchnorm && ctx.world() > 1)
    gan_->set_batch_stats_all_reduce(std::make_shared<dist::CommunicatorBatchStats>(comm));
  if (ctx.is_root())
    metrics_ = std::make_unique<MetricsLog>((stdfs::path(config.run_dir) / "metrics.jsonl").string());
}

checkpoint::CheckpointMeta PhaseRunner::restore(const checkpoint::CheckpointSet& set) {
  std::map<std::string, torch::Tensor> extra{{"epoch_sums", torch::Tensor()}};
  auto meta =
      checkpoint::load_network(set.generator_path, gan_->generator(), &gan_->generator_optimizer(), &extra);
  checkpoint::load_network(set.discriminator_path, gan_->discriminator(), &gan_->discriminator_optimizer());
  if (meta.world != ctx_.world()) {
    spdlog::warn(
        "resuming {} from a checkpoint written with {} rank(s) on {} rank(s): training continues, but the "
        "data order differs from an uninterrupted run",
        set.generator_path, meta.world, ctx_.world());
  }
  // Every rank must now hold the same state: the weights are broadcast from rank 0 anyway, but the
  // optimizer state and the position are not.
  check_restored_agreement(
      comm_, {set.generator_path, meta, dist::module_checksum(gan_->generator()),
              dist::module_checksum(gan_->discriminator()), optimizer_checksum(gan_->generator_optimizer()),
              optimizer_checksum(gan_->discriminator_optimizer())});
  resumed_epoch_sums_ = extra["epoch_sums"].to(torch::kFloat64);
  if (auto* average = gan_->weight_average()) {
    if (checkpoint::load_module_from_extra(set.generator_path, "average", average->model())) {
      average->set_updates(checkpoint::read_extra(set.generator_path, "average_updates")->item<int64_t>());
      if (ctx_.is_root()) spdlog::info("  weight average restored ({} updates)", average->updates());
    } else {
      // A run that switches the average on when it resumes: it starts from the weights as they are.
      average->restart_from(gan_->generator());
      if (ctx_.is_root())
        spdlog::warn("{} holds no weight average; it starts from the resumed weights", set.generator_path);
    }
  }
  return meta;
}

bool PhaseRunner::run(const StartPoint& start) {
  if (ctx_.world() > 1) {
    // Everyone starts from rank 0's weights (fresh init) or verifies the same checkpoint was loaded.
    dist::broadcast_module(comm_, gan_->generator());
    dist::broadcast_module(comm_, gan_->discriminator());
  }
  const int64_t batches = sampler_.batches_per_epoch();
  if (ctx_.is_root()) {
    spdlog::info("Training {} GAN on {}", phase_.title, device_.is_cuda() ? "cuda" : "cpu");
    log_batchnorm_mode();
  }
  dist::StopVote vote(comm_);
  Progress progress{Clock::now(), 0, 0};
  if (start.epoch < phase_.epochs)
    progress.steps_to_go =
        sampler_.batches_per_epoch(start.sample) + (phase_.epochs - start.epoch - 1) * batches;
  int64_t step = start.step;
  // The step-time breakdown (train.step_timing): the training loop's time, epoch ends and checkpoints
  // excluded. On a GPU each boundary waits for the device, or the times would be launch times.
  std::unique_ptr<gan::StepTimer> timer;
  if (config_.train.step_timing) {
    std::function<void()> synchronize;
    if (device_.is_cuda()) synchronize = [] { torch::cuda::synchronize(); };
    timer = std::make_unique<gan::StepTimer>(synchronize);
  }
  int64_t timed_images = 0, timed_steps = 0;
  for (int64_t epoch = start.epoch; epoch < phase_.epochs; ++epoch) {
    // A resumed epoch continues at the global sample position where the checkpoint left it, with this run's
    // world size splitting the rest; its step count joins the steps done before the resume.
    const bool resumed = epoch == start.epoch;
    const int64_t first_sample = resumed ? start.sample : 0, first_batch = resumed ? start.batch : 0;
    const int64_t epoch_batches = first_batch + sampler_.batches_per_epoch(first_sample);
    data::Loader loader(dataset_, sampler_, epoch, first_sample, config_.data.prefetch_batches);
    // Running sums on the device: d_loss, g_loss, d_real, d_fake (no host sync per step).
    auto epoch_sums = torch::zeros({kStats}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
    auto interval_sums = torch::zeros_like(epoch_sums);
    if (first_batch > 0 && resumed_epoch_sums_.defined() && resumed_epoch_sums_.numel() <= kStats)
      epoch_sums.narrow(0, 0, resumed_epoch_sums_.numel()) += resumed_epoch_sums_.to(device_);
    int64_t interval_count = 0;
    auto interval_start = Clock::now();
    int64_t b = first_batch;
    bool stop = false;
    if (timer) timer->restart();
    while (auto batch = loader.next()) {
      faults_.before_step(step, ctx_.rank());
      faults_.record_batch(epoch, step, ctx_.rank(), batch->indices);
      vote.start();
      const gan::StepInputs step_inputs = inputs_.build(*batch, epoch);
      gan::lap(timer.get(), gan::StepSection::DataWait);
      const gan::StepStats stats = gan::train_step(*gan_, step_inputs, *grad_sync_, timer.get());
      timed_images += batch->indices.size(0), ++timed_steps;
      const auto row = stats_row(stats);
      epoch_sums += row;
      interval_sums += row;
      ++interval_count, ++b, ++step, ++progress.steps_this_run;
      if (b % config_.train.log_interval == 0 || b == epoch_batches) {
        const double secs = std::chrono::duration<double>(Clock::now() - interval_start).count();
        log_interval(epoch, b, epoch_batches, step, interval_sums, interval_count, secs, progress);
        interval_sums.zero_();
        interval_count = 0;
        interval_start = Clock::now();
      }
      gan::lap(timer.get(), gan::StepSection::Other);
      if (vote.finish()) {
        if (b < epoch_batches) {
          // Every batch so far was full on every rank (only an epoch's last one can be short).
          save(epoch, b, first_sample + sampler_.samples_in(b - first_batch), step, epoch_sums);
          return true;
        }
        stop = true;  // the epoch is complete: finish its bookkeeping (and its checkpoint) below
      }
    }
    const int64_t done = epoch + 1;
    log_epoch(done, epoch_batches, step, epoch_sums);
    if (done % config_.train.save_interval == 0 || done == phase_.epochs || stop) save(done, 0, 0, step, {});
    if (stop) return true;
  }
  if (timer) log_step_times(*timer, timed_steps, timed_images);
  return false;
}

void PhaseRunner::log_step_times(const gan::StepTimer& timer, int64_t steps, int64_t images) {
  if (!ctx_.is_root() || steps == 0) return;
  const double total = timer.total_seconds();
  const int64_t global_images = images * ctx_.world();  // every rank ran as many steps
  nlohmann::json record = {
      {"event", "step_times"}, {"phase", phase_.name},
      {"steps", steps},        {"images", global_images},
      {"seconds", total},      {"images_per_s", static_cast<double>(global_images) / std::max(total, 1e-9)}};
  std::string line;
  for (int k = 0; k < gan::kStepSections; ++k) {
    const auto section = static_cast<gan::StepSection>(k);
    const double s = timer.seconds(section);
    record[std::string(gan::section_name(section)) + "_s"] = s;
    line += fmt::format("{}{} {:.2f}s ({:.0f}%)", k ? ", " : "", gan::section_name(section), s,
                        100 * s / std::max(total, 1e-9));
  }
  spdlog::info("  [{}] step time over {} steps, {:.1f} img/s: {}", phase_.tag, steps,
               static_cast<double>(global_images) / std::max(total, 1e-9), line);
  metrics_->write(record);
}

void PhaseRunner::log_interval(int64_t epoch, int64_t b, int64_t batches, int64_t step,
                               const torch::Tensor& sums, int64_t count, double secs,
                               const Progress& progress) {
  const auto v = averaged(sums, static_cast<double>(count), ctx_, comm_);
  if (!ctx_.is_root()) return;
  const double images_per_s =
      static_cast<double>(count * config_.train.batch_size * ctx_.world()) / std::max(secs, 1e-9);
  const double run_secs = std::chrono::duration<double>(Clock::now() - progress.phase_start).count();
  // Time rank 0 sat blocked on gradient all-reduces that backward did not hide.
  double comm_wait = 0;
  if (bucket_reducer_) {
    comm_wait = bucket_reducer_->wait_seconds_total() - comm_wait_logged_;
    comm_wait_logged_ = bucket_reducer_->wait_seconds_total();
  }
  const double eta = run_secs / static_cast<double>(progress.steps_this_run) *
                     static_cast<double>(progress.steps_to_go - progress.steps_this_run);
  spdlog::info("  Batch {}/{}: D_loss={:.4f}, G_loss={:.4f}", b, batches, v[0], v[1]);
  spdlog::info("    [{}] epoch {}/{}, {:.1f} img/s, D(real)={:.3f} D(fake)={:.3f}, ETA {}", phase_.tag,
               epoch + 1, phase_.epochs, images_per_s, v[2], v[3], format_duration(eta));
  nlohmann::json record = {{"event", "interval"},
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
                           {"comm_wait_share", comm_wait / std::max(secs, 1e-9)}};
  add_optional_terms(record, v);
  metrics_->write(record);
}

void PhaseRunner::add_optional_terms(nlohmann::json& record, const std::vector<double>& v) const {
  if (gan_->options().mode_seeking > 0) record["mode_seeking_change"] = v[4];
  if (gan_->options().supervised > 0) record["supervised_distance"] = v[5];
  if (gan_->options().class_weight > 0) {
    record["class_loss_real"] = v[6];
    record["class_loss_fake"] = v[7];
  }
}

void PhaseRunner::log_epoch(int64_t done, int64_t batches, int64_t step, const torch::Tensor& epoch_sums) {
  // Averages over all steps of the epoch, before a resume included, of the rank-averaged step losses (every
  // rank ran the same number of batches; the sums carried over a resume are rank averages already).
  const auto avg = averaged(epoch_sums, static_cast<double>(batches), ctx_, comm_);
  if (!ctx_.is_root()) return;
  spdlog::info("[{}] Epoch {}/{} done - Avg D_loss: {:.4f}, Avg G_loss: {:.4f}", phase_.tag, done,
               phase_.epochs, avg[0], avg[1]);
  nlohmann::json record = {{"event", "epoch"}, {"phase", phase_.name}, {"epoch", done},
                           {"step", step},     {"d_loss", avg[0]},     {"g_loss", avg[1]},
                           {"d_real", avg[2]}, {"d_fake", avg[3]}};
  add_optional_terms(record, avg);
  metrics_->write(record);
}

void PhaseRunner::save(int64_t epochs_done, int64_t batch_in_epoch, int64_t samples_in_epoch, int64_t step,
                       const torch::Tensor& epoch_sums) {
  torch::Tensor sums =
      epoch_sums.defined() ? epoch_sums.to(torch::kCPU) : torch::zeros({kStats}, torch::kFloat64);
  if (ctx_.world() > 1 && batch_in_epoch > 0) {
    std::vector<double> v(sums.data_ptr<double>(), sums.data_ptr<double>() + kStats);
    comm_.allreduce_host(v, dist::ReduceOp::Avg);
    sums = torch::tensor(v, torch::kFloat64);
  }
  if (ctx_.is_root()) {
    checkpoint::CheckpointMeta meta;
    meta.phase = phase_.name;
    meta.epoch = epochs_done;
    meta.step = step;
    meta.batch_in_epoch = batch_in_epoch;
    meta.samples_in_epoch = samples_in_epoch;
    meta.world = ctx_.world();
    meta.seed = config_.seed;
    meta.config_yaml = config_.to_yaml();
    checkpoint::CheckpointSet set;
    set.tag = batch_in_epoch == 0 ? fmt::format("epoch_{}", epochs_done)
                                  : fmt::format("epoch_{}_step_{}", epochs_done, step);
    set.meta = meta;
    const std::string& dir = config_.checkpoint_dir;
    set.generator_path = checkpoint::checkpoint_path(dir, phase_.name, "generator", set.tag);
    set.discriminator_path = checkpoint::checkpoint_path(dir, phase_.name, "discriminator", set.tag);
    std::map<std::string, torch::Tensor> extra{{"epoch_sums", sums}};
    if (auto* average = gan_->weight_average()) {
      refresh_average_statistics();
      checkpoint::add_module_to_extra(extra, "average", average->model());
      extra["average_updates"] = torch::tensor(average->updates(), torch::kInt64);
    }
    checkpoint::save_network(set.generator_path, gan_->generator(), &gan_->generator_optimizer(), meta,
                             extra);
    checkpoint::save_network(set.discriminator_path, gan_->discriminator(), &gan_->discriminator_optimizer(),
                             meta);
    models::export_safetensors(stdfs::path(set.generator_path).replace_extension(".safetensors").string(),
                               gan_->generator(),
                               {{"phase", phase_.name}, {"tag", set.tag}, {"config_yaml", meta.config_yaml}});
    if (phase_.name == "text2img")
      write_sample_grid(stdfs::path(set.generator_path).replace_extension(".png").string());
    checkpoint::commit_set(dir, set, config_.train.keep_last);
    spdlog::info("  Saved checkpoints to {}", dir);
  }
  if (ctx_.world() > 1) comm_.barrier();
}

void PhaseRunner::log_batchnorm_mode() const {
  if (!gan_->has_batch_norm()) return;
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

// Standing statistics for the weight average's BatchNorms (weight_average.h): 8 batches of 64 captions drawn
// uniformly from the table, with noise, from a fixed seed, so that every checkpoint measures them alike.
void PhaseRunner::refresh_average_statistics() {
  auto* average = gan_->weight_average();
  if (!average || !gan_->has_batch_norm()) return;
  const torch::Tensor& table = inputs_.caption_embeddings();
  const int64_t noise_dim = config_.text2img.noise_dim, batch = 64, batches = 8;
  auto gen = at::detail::createCPUGenerator(config_.seed + 54321);
  gan::refresh_batch_norm_statistics(average->model(), [&] {
    for (int64_t k = 0; k < batches; ++k) {
      const auto ids = torch::randint(table.size(0), {batch}, gen, torch::kLong).to(device_);
      torch::Tensor noise;
      if (noise_dim > 0) noise = torch::randn({batch, noise_dim}, gen).to(device_);
      gan_->generate_average(table.index_select(0, ids), noise);
    }
  });
}

// One row per emotion (its first caption), labelled with the emotion's name, fixed noise: the same grid
// positions show the same latent point at every checkpoint, so a person can watch the samples evolve.
void PhaseRunner::write_sample_grid(const std::string& path) {
  const int64_t cols = config_.text2img.sample_grid_per_emotion, noise_dim = config_.text2img.noise_dim;
  const auto& names = dataset_.manifest().emotion_names;
  const auto& by_label = inputs_.captions().by_label;
  std::vector<int64_t> ids;
  std::vector<std::string> row_labels;
  for (size_t k = 0; k < by_label.size(); ++k) {
    if (by_label[k].empty()) continue;
    for (int64_t c = 0; c < cols; ++c) ids.push_back(by_label[k].front());
    row_labels.push_back(k < names.size() ? names[k] : std::to_string(k));
  }
  const int64_t n = static_cast<int64_t>(ids.size()), rows = n / cols;
  torch::Tensor noise;
  if (noise_dim > 0) {
    auto gen = at::detail::createCPUGenerator(config_.seed + 12345);
    // The same noise column across emotions: rows differ only by the caption.
    noise =
        torch::randn({rows, cols, noise_dim}, gen).select(0, 0).unsqueeze(0).expand({rows, cols, noise_dim});
    noise = noise.reshape({n, noise_dim}).to(device_);
  }
  torch::NoGradGuard no_grad;
  // As inference runs it: the weight average if any, running BatchNorm statistics (no state changes).
  auto& generator = gan_->weight_average() ? gan_->weight_average()->model() : gan_->generator();
  generator.eval();
  auto images = gan_->generate_average(
      inputs_.caption_embeddings().index_select(0, torch::tensor(ids).to(device_)), noise);
  generator.train();
  // Titled like fergan_eval's per-checkpoint grids: the phase and the checkpoint tag (the file is
  // <phase>_generator_<tag>.png).
  std::string tag = stdfs::path(path).stem().string();
  const std::string prefix = phase_.name + "_generator_";
  if (tag.rfind(prefix, 0) == 0) tag = tag.substr(prefix.size());
  data::write_png(path,
                  data::labeled_grid(data::to_uint8_nhwc(images), cols, row_labels, phase_.name + " " + tag));
}

}  // namespace fergan::train
