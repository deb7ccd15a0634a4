// bench_step: the real Text->Image training step (gan::train_step, one process, no data loading) for N steps
// on random inputs, as images/s and model GFLOP/s.
//
//   bench_step --config config/original.yaml [--set key=value ...] [--steps 10] [--threads N]
//              [--profile trace.json]
//
// The configuration's text2img.* and train.* keys apply (train.amp, train.channels_last, text2img.upsample,
// ...); the batch is train.batch_size. Inputs: caption embeddings and noise from randn, images uniform in
// [-1, 1], augmentation draws when the GAN augments, a second noise draw with the mode-seeking term.
//
// Model FLOPs per image, counted by hand from the layer shapes (multiply-adds x 2 of every conv, transposed
// conv and linear layer; normalisations and activations left out): every network pass that trains counts
// 3x its forward (forward, input gradient, weight gradient). D step: 3 D per discriminator pass (real, fake,
// and the wrong pair when matching-aware) + 1 G forward (the fake); G step: 3 G + 3 D per fake (two with
// the mode-seeking term). When the D step's fake is reused by the G step (no mode-seeking term) its G
// forward is not counted twice. The sgemm line is a 1024^3 float32 matmul in the same process: the rate to
// compare with. Wall-clock figures: on a shared machine they measure the neighbours too. --profile writes a
// chrome://tracing file of one more step (LibTorch's profiler): where the step's time goes, op by op.
#include <spdlog/spdlog.h>

#include <torch/csrc/autograd/profiler_legacy.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "fergan/core/check.h"
#include "fergan/core/cli.h"
#include "fergan/core/config.h"
#include "fergan/core/logging.h"
#include "fergan/core/runtime.h"
#include "fergan/gan/gan.h"
#include "fergan/gan/step.h"

using namespace fergan;

namespace {

// Forward FLOPs of one image through the generator / discriminator (see the file comment).
double generator_flops(const models::Text2ImgOptions& o) {
  const double in = static_cast<double>(o.latent_dim + o.noise_dim);
  double channels = static_cast<double>(o.ngf * 8), side = 8;
  double flops = 2 * in * channels * 64;  // fc
  for (int64_t b = 0; b < o.num_scale_blocks(); ++b) {
    const double out = std::max(channels / 2, 16.0);
    flops += 2 * side * side * channels * out * 16;  // k4 s2: every input pixel meets all 16 taps
    if (o.film) flops += 2 * in * 2 * out;
    channels = out, side *= 2;
  }
  return flops + 2 * side * side * channels * static_cast<double>(o.channels) * 9;  // final k3 s1
}

double discriminator_flops(const models::Text2ImgOptions& o) {
  double in = static_cast<double>(o.channels), side = static_cast<double>(o.image_size), flops = 0;
  double out = static_cast<double>(o.ndf);
  for (int64_t b = 0; b < o.num_scale_blocks(); ++b) {
    if (b > 0) out = std::max<double>(o.ndf, std::min(in * 2, 512.0));
    side /= 2;
    flops += 2 * side * side * in * out * 16;
    in = out;
  }
  flops += 2 * 25 * (in + (o.minibatch_std ? 1 : 0)) * 16;  // head, 5x5 outputs
  if (o.conditional) flops += 2 * static_cast<double>(o.latent_dim) * in;
  return flops;
}

template <typename Fn>
double seconds_per_call(int calls, Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / calls;
}

}  // namespace

int main(int argc, char** argv) {
  return logging::run_main([&] {
    logging::init();
    std::string config_path, profile_path;
    std::vector<std::string> overrides;
    int steps = 10, threads = 0;
    CLI::App app("The Text->Image training step alone: images/s and model GFLOP/s.", "bench_step");
    cli::configure(app, cli::common_exit_codes());
    app.add_option("--config", config_path, "configuration file")->type_name("FILE")->required();
    app.add_option("--set", overrides, "a.b=value override (repeatable)")->type_name("KEY=VALUE");
    app.add_option("--steps", steps, "timed steps")->check(cli::integer<int>(1))->capture_default_str();
    app.add_option("--threads", threads, "intra-op threads (0 = all cores)")
        ->check(cli::integer<int>(0))
        ->capture_default_str();
    app.add_option("--profile", profile_path, "chrome://tracing file of one more step")->type_name("FILE");
    if (const auto code = cli::parse(app, argc, argv)) return *code;
    const Config config = load_config(config_path, overrides);
    threads = runtime::configure_threads(threads);
    torch::manual_seed(config.seed);

    auto gan_ptr = gan::make_gan(config, "text2img", torch::kCPU);
    auto& gan = dynamic_cast<gan::Text2ImgGan&>(*gan_ptr);
    const auto& net = gan.G->options;
    const gan::GanOptions& o = gan.options();
    const int64_t B = config.train.batch_size, S = net.image_size;

    gan::StepInputs in;
    in.condition = torch::randn({B, net.latent_dim});
    in.real = torch::rand({B, net.channels, S, S}) * 2 - 1;
    if (net.noise_dim > 0) in.noise = torch::randn({B, net.noise_dim});
    if (o.mode_seeking > 0) in.noise2 = torch::randn({B, net.noise_dim});
    if (o.matching_aware) {
      in.wrong_sample = torch::rand({B, net.channels, S, S}) * 2 - 1;
      in.wrong_condition = torch::randn({B, net.latent_dim});
    }
    if (o.augment.any()) in.augment = torch::rand({B, gan::kAugmentUses, gan::kAugmentParams});

    const double g = generator_flops(net), d = discriminator_flops(net);
    const double fakes = o.mode_seeking > 0 ? 2 : 1;
    const double d_passes = o.matching_aware ? 3 : 2;
    const double per_image = 3 * d * d_passes + g + fakes * (3 * g + 3 * d) - (o.mode_seeking > 0 ? 0 : g);

    gan::NoGradSync sync;
    for (int i = 0; i < 2; ++i) gan::train_step(gan, in, sync);  // warm-up: allocations, oneDNN primitives
    const double step = seconds_per_call(steps, [&] { gan::train_step(gan, in, sync); });

    const auto a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
    torch::mm(a, b);
    const double sgemm = 2.0 * 1024 * 1024 * 1024 / seconds_per_call(5, [&] { torch::mm(a, b); }) / 1e9;
    const double rate = per_image * B / step / 1e9;
    std::printf(
        "%s threads %d batch %lld %lldpx amp %s upsample %s channels_last %d | step %.1f ms, %.1f images/s, "
        "%.2f GFLOP/image, %.1f GFLOP/s, sgemm %.1f GFLOP/s, %.0f%% of sgemm\n",
        config_path.c_str(), threads, static_cast<long long>(B), static_cast<long long>(S),
        config.train.amp.c_str(), config.text2img.upsample.c_str(), config.train.channels_last ? 1 : 0,
        step * 1e3, B / step, per_image / 1e9, rate, sgemm, 100 * rate / sgemm);
    if (!profile_path.empty()) {
      torch::autograd::profiler::RecordProfile profile(profile_path);
      gan::train_step(gan, in, sync);
    }
    return 0;
  });
}
