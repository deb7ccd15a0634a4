// bench_clip: CLIP throughput on the CPU for ViT-B/32-sized towers with random weights.
//
//   bench_clip [--seconds 2] [--threads N] [--text-batch 16] [--image-batch 4]
//
// captions/s: tokenizer + text tower (width 512, 12 layers, 8 heads, context 77) on FER-style captions, as
// data_prep runs it. images/s: CLIP preprocessing of 48x48 grayscale faces to 224x224 plus the vision tower
// (224 px, patch 32, width 768, 12 layers, 12 heads). Each figure is measured for --seconds after one warm-up
// batch; both wall-clock rates and rates per CPU-second of this process are printed, because on a shared
// machine the wall-clock figure mostly measures the neighbours. The tokenizer needs
// shared/clip/bpe_simple_vocab_16e6.txt.gz (FERGAN_SHARED_DIR or ../shared).
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string>

#include "fergan/clip/encoders.h"
#include "fergan/clip/model.h"
#include "fergan/clip/preprocess.h"
#include "fergan/clip/tokenizer.h"
#include "fergan/core/check.h"
#include "fergan/core/cli.h"
#include "fergan/core/logging.h"

using namespace fergan;

namespace {

struct Rate {
  double wall = 0, cpu = 0;  // items per wall-clock second, items per CPU-second of this process
};

template <typename Fn>
Rate per_second(double seconds, int64_t items_per_call, Fn&& fn) {
  fn();  // warm-up
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  int64_t items = 0;
  double elapsed = 0;
  do {
    fn();
    items += items_per_call;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  return {items / elapsed, cpu > 0 ? items / cpu : 0};
}

}  // namespace

int main(int argc, char** argv) {
  return logging::run_main([&] {
    logging::init();
    double seconds = 2;
    int threads = 0;
    int64_t text_batch = 16, image_batch = 4;
    CLI::App app("CLIP captions/s and images/s for ViT-B/32-sized towers with random weights.", "bench_clip");
    cli::configure(app, cli::common_exit_codes());
    app.add_option("--seconds", seconds, "time per measurement")->capture_default_str();
    app.add_option("--threads", threads, "intra-op threads (0 = LibTorch's default)")
        ->check(cli::integer<int>(0))
        ->capture_default_str();
    app.add_option("--text-batch", text_batch, "captions per call")
        ->check(cli::integer<int64_t>(1))
        ->capture_default_str();
    app.add_option("--image-batch", image_batch, "images per call")
        ->check(cli::integer<int64_t>(1))
        ->capture_default_str();
    if (const auto code = cli::parse(app, argc, argv)) return *code;
    if (threads > 0) torch::set_num_threads(threads);
    const char* shared = std::getenv("FERGAN_SHARED_DIR");
    const std::string vocab =
        std::string(shared ? shared : "../shared") + "/clip/bpe_simple_vocab_16e6.txt.gz";

    torch::manual_seed(0);
    clip::ClipConfig config;  // defaults are ViT-B/32
    clip::ClipModel model(config);
    model->eval();
    auto tokenizer = clip::Tokenizer::from_file(vocab);
    auto encode_captions = clip::caption_encoder_for(model, tokenizer, false, text_batch);
    auto encode_images = clip::image_encoder_for(model, false, image_batch);

    const char* emotions[] = {"angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral"};
    std::vector<std::string> captions;
    for (int64_t i = 0; i < text_batch; ++i)
      captions.push_back(str("a photo of a person with a ", emotions[i % 7], " expression, number ", i));
    auto faces = torch::randint(0, 256, {image_batch, 48, 48, 1}, torch::kUInt8);

    spdlog::info("bench_clip: ViT-B/32-sized towers, random weights, CPU, {} threads",
                 torch::get_num_threads());
    const auto caps = per_second(seconds, text_batch, [&] { encode_captions(captions); });
    spdlog::info(
        "captions/s: {:.1f} wall, {:.1f} per CPU-second  (tokenizer + text tower, batch {}, {} tokens each)",
        caps.wall, caps.cpu, text_batch, tokenizer.encode(captions[0]).size());
    const int64_t full_batch = 4;
    auto full = torch::randint(1, 49406, {full_batch, 77}, torch::kInt64);
    full.select(1, 76).fill_(49407);
    const auto caps77 = per_second(seconds, full_batch, [&] { model->encode_text(full); });
    spdlog::info("captions/s at the full context of 77 tokens: {:.1f} wall, {:.1f} per CPU-second",
                 caps77.wall, caps77.cpu);
    const auto imgs = per_second(seconds, image_batch, [&] { encode_images(faces); });
    spdlog::info(
        "images/s: {:.1f} wall, {:.1f} per CPU-second  (48x48 gray -> 224 preprocessing + vision tower, "
        "batch {})",
        imgs.wall, imgs.cpu, image_batch);
    const auto prep = per_second(seconds / 4, image_batch, [&] { clip::preprocess_images(faces, 224); });
    spdlog::info("preprocessing alone: {:.1f} images/s wall, {:.1f} per CPU-second", prep.wall, prep.cpu);
    return 0;
  });
}
