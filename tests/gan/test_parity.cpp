// Parity with an independent reference of the original loop (tests/parity/reference.py, run with
// /usr/bin/python3 and Debian's python3-torch): from identical initial weights and identical batches, N steps
// of both original GANs (64x64, ngf = ndf = 64, batch 2) agree on every loss and every final tensor. The same
// harness checks the training step of bench/reference/original_train.py (`--parity-step`, the same file
// protocol), the program bench/compare.sh measures fergan against: a benchmark against a loop that computes
// something else would compare nothing.
//
// Metric, per loss: |a - b| / |b|; per tensor (parameters and BatchNorm buffers): max|a - b| / (max|b| +
// 1e-12), a = fergan, b = reference; all must be <= 1e-5. Both sides use one thread.
//
// Both sides train in float64 from fergan's float32 initialisation (files carry float32; widening is exact).
// In float32 the comparison is ill-conditioned, not because the algorithms differ: Adam's first update is
// lr * g / (|g| + eps), about lr * sign(g), so a parameter whose true gradient is ~0 moves a full +-lr in a
// direction set by rounding noise. The conv biases in front of a BatchNorm have an exactly-zero gradient, and
// their ~1e-9 float32 noise (BCE-with-logits here vs Sigmoid + BCELoss there) flips signs. Measured in
// float32 (batch 4): the Image->Text GAN still agreed, but Text->Image weights differed by up to 6% of their
// max after 3 steps and a step-3 loss missed 1e-5. In float64 that noise is ~1e-17, far below eps = 1e-8.
// Measured in float64: worst tensor error 6e-8, which is the float32 rounding of the weights the reference
// returns.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "fergan/core/check.h"
#include "fergan/core/safetensors.h"
#include "fergan/gan/gan.h"
#include "fergan/gan/step.h"
#include "fergan/models/state.h"

using namespace fergan;
using namespace fergan::gan;
namespace fs = std::filesystem;

namespace {
constexpr const char* kPython = "/usr/bin/python3";
constexpr int kSteps = 3;
constexpr int64_t kBatch = 2;
constexpr double kTolerance = 1e-5;

void put_state(std::map<std::string, torch::Tensor>& out, const std::string& net,
               const torch::nn::Module& m) {
  for (const auto& [name, t] : models::named_state(m)) out[net + "." + name] = t.detach().clone();
}

double relative_tensor_error(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor ad = a.to(torch::kFloat64), bd = b.to(torch::kFloat64);
  return (ad - bd).abs().max().item<double>() / (bd.abs().max().item<double>() + 1e-12);
}
}  // namespace

// Runs `script [script_args] INPUT OUTPUT` (a path relative to the source tree) on kSteps batches and
// compares.
static void check_parity(const std::string& relative_script, const std::string& script_args) {
  if (std::system((std::string(kPython) + " -c 'import torch' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << kPython << " cannot import torch (install python3-torch)";
  const char* src = std::getenv("FERGAN_SOURCE_DIR");
  const std::string script = std::string(src ? src : ".") + "/" + relative_script;
  ASSERT_TRUE(fs::exists(script)) << script << " not found (set FERGAN_SOURCE_DIR)";

  const int threads_before = torch::get_num_threads();
  torch::set_num_threads(1);
  torch::manual_seed(2024);
  const Config config = load_config(std::string(src ? src : ".") + "/config/original.yaml");
  Img2TextGan i2t(models::Img2TextOptions::from(config), GanOptions::from(config, "img2text"),
                  AdamSettings::from(config), torch::kCPU);
  Text2ImgGan t2i(models::Text2ImgOptions::from(config), GanOptions::from(config, "text2img"),
                  AdamSettings::from(config), torch::kCPU);
  ASSERT_EQ(t2i.G->options.image_size, 64);
  ASSERT_EQ(t2i.G->options.noise_dim, 0);
  // In place (set_data), so the optimizers built in the constructors still hold these tensors.
  for (torch::nn::Module* m :
       std::initializer_list<torch::nn::Module*>{i2t.G.get(), i2t.D.get(), t2i.G.get(), t2i.D.get()})
    m->to(torch::kFloat64);

  std::map<std::string, torch::Tensor> input;
  put_state(input, "img2text_generator", *i2t.G);
  put_state(input, "img2text_discriminator", *i2t.D);
  put_state(input, "text2img_generator", *t2i.G);
  put_state(input, "text2img_discriminator", *t2i.D);
  std::vector<torch::Tensor> images(kSteps), embeddings(kSteps);
  for (int k = 0; k < kSteps; ++k) {
    images[k] = (torch::rand({kBatch, 3, 64, 64}) * 2 - 1).to(torch::kFloat64);
    embeddings[k] = (torch::randn({kBatch, 512}) * 0.5).to(torch::kFloat64);
    input["batch." + std::to_string(k) + ".images"] = images[k].to(torch::kFloat32);
    input["batch." + std::to_string(k) + ".embeddings"] = embeddings[k].to(torch::kFloat32);
  }
  const fs::path dir = fs::temp_directory_path() / ("fergan_parity_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string in_path = (dir / "input.safetensors").string(),
                    out_path = (dir / "output.safetensors").string();
  safetensors::save(in_path, input,
                    {{"steps", std::to_string(kSteps)},
                     {"dtype", "float64"},
                     {"lr", fergan::str(config.train.lr)},
                     {"beta1", fergan::str(config.train.beta1)},
                     {"beta2", fergan::str(config.train.beta2)}});

  const std::string command =
      fergan::str(kPython, " ", script, " ", script_args, " ", in_path, " ", out_path);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  auto reference = safetensors::load(out_path);

  NoGradSync sync;
  for (int k = 0; k < kSteps; ++k) {
    StepInputs image_to_text, text_to_image;
    image_to_text.condition = images[k], image_to_text.real = embeddings[k];
    text_to_image.condition = embeddings[k], text_to_image.real = images[k];
    StepStats a = train_step(i2t, image_to_text, sync);
    StepStats b = train_step(t2i, text_to_image, sync);
    const torch::Tensor ref_a = reference.at("img2text.losses")[k],
                        ref_b = reference.at("text2img.losses")[k];
    auto check = [&](const char* what, const torch::Tensor& ours, const torch::Tensor& theirs) {
      const double x = ours.item<double>(), y = theirs.item<double>();
      EXPECT_LE(std::abs(x - y) / std::abs(y), kTolerance)
          << what << " step " << k << ": " << x << " vs " << y;
    };
    check("img2text d_loss", a.d_loss, ref_a[0]);
    check("img2text g_loss", a.g_loss, ref_a[1]);
    check("text2img d_loss", b.d_loss, ref_b[0]);
    check("text2img g_loss", b.g_loss, ref_b[1]);
  }

  std::map<std::string, torch::Tensor> ours;  // float64, as trained
  const std::pair<const char*, torch::nn::Module*> nets[] = {{"img2text_generator", i2t.G.get()},
                                                             {"img2text_discriminator", i2t.D.get()},
                                                             {"text2img_generator", t2i.G.get()},
                                                             {"text2img_discriminator", t2i.D.get()}};
  for (const auto& [net, module] : nets)
    for (const auto& [name, t] : models::named_state(*module))
      ours[std::string(net) + "." + name] = t.detach();
  double worst = 0;
  std::string worst_name;
  for (const auto& [name, tensor] : ours) {
    ASSERT_TRUE(reference.count(name)) << "reference output lacks " << name;
    const double err = relative_tensor_error(tensor, reference.at(name));
    EXPECT_LE(err, kTolerance) << name;
    if (err > worst) worst = err, worst_name = name;
    // Every weight must have moved, or a comparison of initial weights would pass vacuously. (Not every bias:
    // those in front of a BatchNorm have a zero gradient and stay put.)
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0)
      EXPECT_GT(relative_tensor_error(tensor, input.at(name)), 1e-6) << name << " did not change";
  }
  std::cout << "parity: worst relative tensor error " << worst << " (" << worst_name << ")\n";
  fs::remove_all(dir);
  torch::set_num_threads(threads_before);
}

TEST(Parity, OriginalLoopMatchesPythonReference) {
  check_parity("tests/parity/reference.py", "");
}

TEST(Parity, BenchReferenceStepMatches) {
  check_parity("bench/reference/original_train.py", "--parity-step");
}
