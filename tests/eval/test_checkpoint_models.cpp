// Checkpoint resolution ("latest" in a run dir, a discriminator path, the other phase beside a file) and
// generator loading from the config embedded in the checkpoint: the loaded network equals the saved one; the
// truncation trick's noise against the truncated normal's closed-form variance.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "fergan/core/check.h"
#include "fergan/eval/checkpoint_models.h"

namespace fergan::eval {
namespace {
namespace stdfs = std::filesystem;

Config tiny_config() {
  Config c;
  c.img2text.latent_dim = 16;
  c.text2img.latent_dim = 16;
  c.text2img.image_size = 64;
  c.text2img.ngf = 8;
  c.text2img.ndf = 8;
  c.text2img.noise_dim = 4;
  return c;
}

template <typename Net>
checkpoint::CheckpointSet save_set(const std::string& dir, const std::string& phase, int64_t epoch, Net& g,
                                   torch::nn::Module& d, const Config& config,
                                   const std::string& more_yaml = "") {
  checkpoint::CheckpointMeta meta;
  meta.phase = phase;
  meta.epoch = epoch;
  meta.config_yaml = config.to_yaml() + more_yaml;
  checkpoint::CheckpointSet set;
  set.tag = "epoch_" + std::to_string(epoch);
  set.meta = meta;
  set.generator_path = checkpoint::checkpoint_path(dir, phase, "generator", set.tag);
  set.discriminator_path = checkpoint::checkpoint_path(dir, phase, "discriminator", set.tag);
  checkpoint::save_network(set.generator_path, *g, nullptr, meta);
  checkpoint::save_network(set.discriminator_path, d, nullptr, meta);
  checkpoint::commit_set(dir, set, 0);
  return set;
}

TEST(CheckpointModels, ResolvesAndLoadsTheSavedGenerators) {
  const auto run = stdfs::temp_directory_path() / ("fergan_eval_ckpt_" + std::to_string(::getpid()));
  stdfs::remove_all(run);
  const auto dir = (run / "checkpoints").string();
  stdfs::create_directories(dir);
  const Config config = tiny_config();
  torch::manual_seed(3);
  models::Text2ImageGenerator g1(models::Text2ImgOptions::from(config)),
      g2(models::Text2ImgOptions::from(config));
  models::Text2ImageDiscriminator d(models::Text2ImgOptions::from(config));
  save_set(dir, "text2img", 1, g1, *d, config);
  const auto newest = save_set(dir, "text2img", 2, g2, *d, config);

  // No img2text phase trained: nullopt, not an error.
  EXPECT_FALSE(resolve_generator_checkpoint("latest", run.string(), "img2text").has_value());
  const auto latest = resolve_generator_checkpoint("latest", run.string(), "text2img");
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(*latest, newest.generator_path);
  EXPECT_EQ(*resolve_generator_checkpoint(newest.discriminator_path, "", "text2img"), newest.generator_path);

  models::Img2TextGenerator i1(models::Img2TextOptions::from(config));
  models::Img2TextDiscriminator i1d(models::Img2TextOptions::from(config));
  const auto i2t = save_set(dir, "img2text", 1, i1, *i1d, config);
  // A text2img file designates the img2text generator beside it (the other GAN of the same run).
  EXPECT_EQ(*resolve_generator_checkpoint(newest.generator_path, "", "img2text"), i2t.generator_path);

  auto loaded = load_text2img_generator(*latest, torch::kCPU);
  EXPECT_EQ(loaded.meta.epoch, 2);
  EXPECT_EQ(loaded.generator->options.noise_dim, 4);
  auto saved = g2->named_parameters();
  for (const auto& p : loaded.generator->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), saved[p.key()])) << p.key();
  }
  // generate_images = forward with seeded standard-normal noise, eval mode.
  g2->eval();
  auto emb = torch::randn({3, 16});
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  auto noise = torch::randn({3, 4}, gen);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(generate_images(loaded, emb, 2, 9), g2->forward(emb, noise), 1e-5, 1e-6));

  auto i2t_loaded = load_img2text_generator(i2t.generator_path, torch::kCPU);
  auto images = torch::rand({2, 3, 64, 64}) * 2 - 1;
  i1->eval();
  EXPECT_TRUE(torch::allclose(predict_embeddings(i2t_loaded, images, 8), i1->forward(images), 1e-5, 1e-6));

  // A checkpoint of an earlier version, whose embedded config still has the since removed clip keys.
  const auto old_set =
      save_set(dir, "img2text", 2, i1, *i1d, config, "clip:\n  weights: \"\"\n  vocab: \"\"\n");
  EXPECT_EQ(load_img2text_generator(old_set.generator_path, torch::kCPU).config.img2text.latent_dim, 16);

  EXPECT_THROW(load_img2text_generator(*latest, torch::kCPU), fergan::Error);  // wrong phase
  EXPECT_THROW(resolve_generator_checkpoint((run / "missing.pth").string(), "", "text2img"), fergan::Error);
  EXPECT_THROW(resolve_generator_checkpoint("latest", (run / "nope").string(), "text2img"), fergan::Error);
  stdfs::remove_all(run);
}

// Variance of a standard normal truncated to [-a, a]: 1 - 2 a phi(a) / (2 Phi(a) - 1).
double truncated_normal_variance(double a) {
  const double pdf = std::exp(-0.5 * a * a) / std::sqrt(2 * M_PI);
  const double mass = std::erf(a / std::sqrt(2.0));
  return 1 - 2 * a * pdf / mass;
}

TEST(CheckpointModels, TruncatedNormalStaysInsideItsLimitWithTheTruncatedVariance) {
  auto g1 = at::make_generator<at::CPUGeneratorImpl>(11), g2 = at::make_generator<at::CPUGeneratorImpl>(11);
  EXPECT_TRUE(torch::equal(truncated_normal(4, 5, 0, g1), torch::randn({4, 5}, g2)));  // 0 = plain normal
  for (double limit : {0.5, 1.0, 2.0}) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
    const auto z = truncated_normal(400, 500, limit, gen).to(torch::kDouble);
    EXPECT_LE(z.abs().max().item<double>(), limit) << "limit " << limit;
    EXPECT_NEAR(z.mean().item<double>(), 0.0, 0.005) << "limit " << limit;
    EXPECT_NEAR(z.var().item<double>(), truncated_normal_variance(limit), 0.005) << "limit " << limit;
    auto again = at::make_generator<at::CPUGeneratorImpl>(7);
    EXPECT_TRUE(torch::equal(truncated_normal(400, 500, limit, again).to(torch::kDouble), z));  // seeded
  }
}

TEST(CheckpointModels, TruncationNarrowsTheSamplesOfOneCaption) {
  const auto dir = stdfs::temp_directory_path() / ("fergan_eval_trunc_" + std::to_string(::getpid()));
  stdfs::remove_all(dir);
  stdfs::create_directories(dir);
  const Config config = tiny_config();
  torch::manual_seed(5);
  models::Text2ImageGenerator g(models::Text2ImgOptions::from(config));
  models::Text2ImageDiscriminator d(models::Text2ImgOptions::from(config));
  const auto set = save_set(dir.string(), "text2img", 1, g, *d, config);
  EXPECT_THROW(load_text2img_generator(set.generator_path, torch::kCPU, true, 0.01), Error);
  const auto caption = torch::randn({1, 16}).expand({64, 16}).contiguous();
  auto spread = [&](double truncation) {
    auto model = load_text2img_generator(set.generator_path, torch::kCPU, true, truncation);
    EXPECT_EQ(model.truncation, truncation);
    return generate_images(model, caption, 16, 3).std(0).mean().item<double>();
  };
  const double plain = spread(0), narrow = spread(0.25);
  EXPECT_GT(plain, 0);
  EXPECT_LT(narrow, 0.6 * plain);  // noise of std 0.14 instead of 1
  stdfs::remove_all(dir);
}

}  // namespace
}  // namespace fergan::eval
