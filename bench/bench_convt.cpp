// bench_convt: forward + backward of the Text->Image generator's stride-2 transposed convolutions, LibTorch's
// ConvTranspose2d against SubPixelConvTranspose2d (models/subpixel_conv.h), at the generator's real shapes.
//
//   bench_convt [--batch 32] [--threads N] [--seconds 1] [--bf16] [--channels-last]
//
// Shapes: every up-block of the 64x64 generator at ngf 64 and 32, and of the 256x256 generator at ngf 64.
// FLOPs per call: forward 2*N*H*W*Cin*Cout*16 (the useful multiply-adds of ConvTranspose2d), backward twice
// that (input and weight gradients), so GFLOP/s compares both implementations by the same count (the
// sub-pixel conv computes ~6-27% more, see subpixel_conv.cpp, which counts against it). The sgemm row is a
// 1024 x 1024 x 1024 float32 matmul in the same process and thread count: the machine's reference rate.
// With --bf16 the sub-pixel column also runs under bf16 autocast (train.amp: bf16); with --channels-last
// both get their input in NHWC memory format (train.channels_last). Wall-clock figures: on a
// shared machine they measure the neighbours too.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "fergan/core/autocast.h"
#include "fergan/core/check.h"
#include "fergan/core/cli.h"
#include "fergan/core/logging.h"
#include "fergan/core/runtime.h"
#include "fergan/models/subpixel_conv.h"

using namespace fergan;

namespace {

// Seconds per call of fn, after one warm-up call, over at least `seconds` and 3 calls.
template <typename Fn>
double seconds_per_call(double seconds, Fn&& fn) {
  fn();
  const auto start = std::chrono::steady_clock::now();
  int calls = 0;
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds || calls < 3);
  return elapsed / calls;
}

struct Shape {
  const char* where;
  int64_t cin, cout, size;  // input side
};

}  // namespace

int main(int argc, char** argv) {
  return logging::run_main([&] {
    logging::init();
    int64_t batch = 32;
    int threads = 0;
    double seconds = 1;
    bool bf16 = false, channels_last = false;
    CLI::App app("ConvTranspose2d against SubPixelConvTranspose2d at the generator's shapes.", "bench_convt");
    cli::configure(app, cli::common_exit_codes());
    app.add_option("--batch", batch, "batch size")->check(cli::integer<int64_t>(1))->capture_default_str();
    app.add_option("--threads", threads, "intra-op threads (0 = all cores)")
        ->check(cli::integer<int>(0))
        ->capture_default_str();
    app.add_option("--seconds", seconds, "time per measurement")->capture_default_str();
    app.add_flag("--bf16", bf16, "the sub-pixel column also under bf16 autocast");
    app.add_flag("--channels-last", channels_last, "inputs in NHWC memory format");
    if (const auto code = cli::parse(app, argc, argv)) return *code;
    threads = runtime::configure_threads(threads);
    torch::manual_seed(0);

    const auto a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
    const double sgemm = 2.0 * 1024 * 1024 * 1024 / seconds_per_call(seconds, [&] { torch::mm(a, b); }) / 1e9;
    std::printf("threads %d, batch %lld, sgemm (1024^3 fp32 matmul) %.1f GFLOP/s%s%s\n", threads,
                static_cast<long long>(batch), sgemm, bf16 ? ", sub-pixel under bf16 autocast" : "",
                channels_last ? ", channels_last input" : "");
    std::printf("%-12s %5s %5s %4s | %9s %7s %5s | %9s %7s %5s | %7s\n", "shapes", "Cin", "Cout", "H",
                "convT ms", "GFLOP/s", "%sg", "subpx ms", "GFLOP/s", "%sg", "speedup");

    const std::vector<Shape> shapes = {
        {"64px ngf64", 512, 256, 8},  {"64px ngf64", 256, 128, 16},  {"64px ngf64", 128, 64, 32},
        {"64px ngf32", 256, 128, 8},  {"64px ngf32", 128, 64, 16},   {"64px ngf32", 64, 32, 32},
        {"256px ngf64", 512, 256, 8}, {"256px ngf64", 256, 128, 16}, {"256px ngf64", 128, 64, 32},
        {"256px ngf64", 64, 32, 64},  {"256px ngf64", 32, 16, 128},
    };
    double total_convt = 0, total_subpixel = 0, total_flop = 0;
    for (const Shape& s : shapes) {
      auto x = torch::randn({batch, s.cin, s.size, s.size});
      if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
      x.requires_grad_(true);
      auto w = (torch::randn({s.cin, s.cout, 4, 4}) * 0.02).requires_grad_(true);
      auto bias = torch::zeros({s.cout}).requires_grad_(true);
      const auto grad = torch::randn({batch, s.cout, 2 * s.size, 2 * s.size});
      auto run = [&](bool subpixel) {
        torch::Tensor y;
        {
          amp::Region region(subpixel && bf16 ? amp::Mode::Bf16 : amp::Mode::None, torch::kCPU);
          y = subpixel ? models::subpixel_conv_transpose2d(x, w, bias)
                       : torch::conv_transpose2d(x, w, bias, /*stride=*/2, /*padding=*/1);
        }
        // The gradient arrives in the output's layout, as from the BatchNorm that follows in the network.
        y.backward(grad.to(y.scalar_type()).contiguous(y.suggest_memory_format()));
        x.mutable_grad().reset(), w.mutable_grad().reset(), bias.mutable_grad().reset();
      };
      const double flop = 3.0 * 2 * batch * s.size * s.size * s.cin * s.cout * 16;
      const double t_convt = seconds_per_call(seconds, [&] { run(false); });
      const double t_sub = seconds_per_call(seconds, [&] { run(true); });
      total_convt += t_convt, total_subpixel += t_sub, total_flop += flop;
      std::printf("%-12s %5lld %5lld %4lld | %9.2f %7.1f %4.0f%% | %9.2f %7.1f %4.0f%% | %6.2fx\n", s.where,
                  static_cast<long long>(s.cin), static_cast<long long>(s.cout),
                  static_cast<long long>(s.size), t_convt * 1e3, flop / t_convt / 1e9,
                  100 * flop / t_convt / 1e9 / sgemm, t_sub * 1e3, flop / t_sub / 1e9,
                  100 * flop / t_sub / 1e9 / sgemm, t_convt / t_sub);
    }
    std::printf("%-28s | %9.2f %7.1f %4.0f%% | %9.2f %7.1f %4.0f%% | %6.2fx\n", "all", total_convt * 1e3,
                total_flop / total_convt / 1e9, 100 * total_flop / total_convt / 1e9 / sgemm,
                total_subpixel * 1e3, total_flop / total_subpixel / 1e9,
                100 * total_flop / total_subpixel / 1e9 / sgemm, total_convt / total_subpixel);
    return 0;
  });
}
