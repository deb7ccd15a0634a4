// Checkpoint resolution and generator loading for fergan_infer / fergan_eval (see checkpoint_models.h).
#include "fergan/eval/checkpoint_models.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "fergan/core/check.h"
#include "fergan/data/image_tensor.h"

namespace fergan::eval {
namespace stdfs = std::filesystem;

namespace {

bool has_index(const stdfs::path& dir) {
  return stdfs::exists(dir / "img2text_checkpoints.json") || stdfs::exists(dir / "text2img_checkpoints.json");
}

std::optional<std::string> latest_generator(const std::string& dir, const std::string& phase) {
  if (auto set = checkpoint::latest_set(dir, phase)) return set->generator_path;
  return std::nullopt;
}

}  // namespace

std::string checkpoint_dir_of_run(const std::string& run_dir) {
  const stdfs::path run(run_dir);
  FG_CHECK(stdfs::is_directory(run), "run directory '", run_dir, "' does not exist");
  if (has_index(run / "checkpoints")) return (run / "checkpoints").string();
  if (has_index(run)) return run.string();
  const auto config_path = run / "config.yaml";
  if (stdfs::exists(config_path)) {
    YAML::Node node = YAML::LoadFile(config_path.string());
    if (node["checkpoint_dir"]) {
      const std::string dir = node["checkpoint_dir"].as<std::string>();
      if (has_index(dir)) return dir;
      if (has_index(run.parent_path() / dir)) return (run.parent_path() / dir).string();
    }
  }
  fail(str("run directory '", run_dir, "' has no checkpoint index (looked for *_checkpoints.json in '",
           (run / "checkpoints").string(), "', '", run_dir, "' and the checkpoint_dir of '",
           config_path.string(), "')"));
}

std::optional<std::string> resolve_generator_checkpoint(const std::string& spec, const std::string& run_dir,
                                                        const std::string& phase) {
  FG_CHECK(phase == "img2text" || phase == "text2img", "unknown phase '", phase, "'");
  if (spec == "latest") {
    FG_CHECK(!run_dir.empty(), "--checkpoint latest needs --run-dir");
    return latest_generator(checkpoint_dir_of_run(run_dir), phase);
  }
  FG_CHECK(stdfs::exists(spec), "checkpoint '", spec, "' does not exist");
  if (stdfs::is_directory(spec)) return latest_generator(spec, phase);
  const auto meta = checkpoint::read_meta(spec);
  if (meta.phase == phase) {
    std::string name = stdfs::path(spec).filename().string();
    const auto at = name.find("_discriminator_");
    if (at != std::string::npos) {
      name.replace(at, std::string("_discriminator_").size(), "_generator_");
      return (stdfs::path(spec).parent_path() / name).string();
    }
    return spec;
  }
  return latest_generator(stdfs::path(spec).parent_path().string(), phase);
}

namespace {

// A generator checkpoint of `phase`: its meta, the config embedded in it, and its weights in a network that
// make_network builds from that config, ready for inference on `device`.
template <typename Loaded, typename MakeNetwork>
Loaded load_generator(const std::string& path, const std::string& phase, torch::Device device, bool average,
                      MakeNetwork make_network) {
  Loaded m;
  m.path = path;
  m.meta = checkpoint::read_meta(path);
  FG_CHECK(m.meta.phase == phase, "checkpoint '", path, "' is a ", m.meta.phase, " checkpoint, not ", phase);
  m.config = parse_saved_config(m.meta.config_yaml, path + " (embedded config)");
  m.generator = make_network(m.config);
  checkpoint::load_network(path, *m.generator, nullptr);
  // The generator's weight average, when the run kept one, is the generator to sample from.
  m.weight_average = average && checkpoint::load_module_from_extra(path, "average", *m.generator);
  m.generator->to(device);
  m.generator->eval();
  return m;
}

}  // namespace

LoadedText2Img load_text2img_generator(const std::string& path, torch::Device device, bool average,
                                       double truncation) {
  FG_CHECK(truncation == 0 || truncation >= 0.05, "truncation must be 0 (none) or at least 0.05, got ",
           truncation);
  auto m = load_generator<LoadedText2Img>(path, "text2img", device, average, [](const Config& config) {
    return models::Text2ImageGenerator(models::Text2ImgOptions::from(config));
  });
  m.truncation = truncation;
  return m;
}

LoadedImg2Text load_img2text_generator(const std::string& path, torch::Device device, bool average) {
  return load_generator<LoadedImg2Text>(path, "img2text", device, average, [](const Config& config) {
    return models::Img2TextGenerator(models::Img2TextOptions::from(config));
  });
}

torch::Tensor truncated_normal(int64_t rows, int64_t dim, double limit, at::Generator& gen) {
  auto z = torch::randn({rows, dim}, gen);
  if (limit <= 0) return z;
  // At limit 0.05 a value needs about 25 draws on average; load_text2img_generator refuses smaller limits.
  for (auto outside = z.abs() > limit; outside.any().item<bool>(); outside = z.abs() > limit)
    z = torch::where(outside, torch::randn({rows, dim}, gen), z);
  return z;
}

torch::Tensor generate_images(LoadedText2Img& model, const torch::Tensor& embeddings, int64_t batch_size,
                              uint64_t generator_seed) {
  torch::NoGradGuard no_grad;
  const auto& options = model.generator->options;
  FG_CHECK(embeddings.dim() == 2 && embeddings.size(1) == options.latent_dim, "text2img generator of '",
           model.path, "' takes ", options.latent_dim, "-d embeddings, got ", embeddings.sizes());
  const auto device = model.generator->fc->weight.device();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(generator_seed);
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start < embeddings.size(0); start += batch_size) {
    auto emb = embeddings.slice(0, start, std::min(embeddings.size(0), start + batch_size))
                   .to(device, torch::kFloat);
    torch::Tensor noise;
    if (options.noise_dim > 0)
      noise = truncated_normal(emb.size(0), options.noise_dim, model.truncation, gen).to(device);
    out.push_back(model.generator->forward(emb, noise).to(torch::kCPU));
  }
  // A grayscale generator's images as eval's real images are: grey replicated over 3 channels.
  auto images = torch::cat(out);
  return images.size(1) == 1 ? images.expand({-1, 3, -1, -1}).contiguous() : images;
}

torch::Tensor predict_embeddings(LoadedImg2Text& model, const torch::Tensor& images, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const auto device = model.generator->fc->weight.device();
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    auto x = data::resize_bilinear(
        images.slice(0, start, std::min(images.size(0), start + batch_size)).to(torch::kFloat), 64);
    out.push_back(model.generator->forward(x.to(device)).to(torch::kCPU));
  }
  return torch::cat(out);
}

}  // namespace fergan::eval
