// bench_sgemm: the machine's float32 matrix-multiply rate, the yardstick for training GFLOP/s.
//
//   bench_sgemm [--threads N] [--size 2048] [--repeats 10]
//
// torch::mm of two size x size float32 matrices, best of --repeats after one warm-up, 2 * size^3 FLOPs
// each. Debian's LibTorch hands a float32 mm to the BLAS (OpenBLAS), so the BLAS gets --threads threads here
// (and LibTorch's intra-op pool too): the rate a well-used 2-D GEMM reaches on these cores, which training's
// convolutions can approach but not beat. The best rather than the mean, because on a shared machine the
// neighbours only ever make a run slower. Prints one line of JSON.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "fergan/core/check.h"
#include "fergan/core/logging.h"
#include "fergan/core/runtime.h"

using namespace fergan;

int main(int argc, char** argv) {
  return logging::run_main([&] {
    int threads = 0, repeats = 10;
    int64_t size = 2048;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        FG_CHECK(i + 1 < argc, "bench_sgemm: ", a, " needs a value");
        return argv[++i];
      };
      if (a == "--threads")
        threads = std::stoi(value());
      else if (a == "--size")
        size = std::stoll(value());
      else if (a == "--repeats")
        repeats = std::stoi(value());
      else
        fail(str("bench_sgemm: unknown option '", a, "'"));
    }
    threads = runtime::configure_threads(threads);  // 0 = all cores, as fergan_dist's default
    // configure_threads keeps OpenBLAS at one thread for LibTorch's own parallel ops; a bare mm runs in
    // the BLAS alone, so it gets the same threads here.
    using SetThreads = void (*)(int);
    if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(threads);

    torch::manual_seed(0);
    const auto a = torch::randn({size, size}), b = torch::randn({size, size});
    auto c = torch::mm(a, b);  // warm-up
    double best = 1e300;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      torch::mm_out(c, a, b);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    const double flops =
        2.0 * static_cast<double>(size) * static_cast<double>(size) * static_cast<double>(size);
    std::cout << "{\"size\": " << size << ", \"threads\": " << threads << ", \"repeats\": " << repeats
              << ", \"best_s\": " << best << ", \"sgemm_gflops\": " << flops / best / 1e9 << "}" << std::endl;
    return 0;
  });
}
