// CLIP towers and weight loading: the tiny reference model's text and image features reproduced from
// OpenAI names, from HuggingFace names (renamed by a converter written here, independently of the loader),
// and from a TorchScript archive; bad weight files produce errors listing every problem.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "fergan/clip/encoders.h"
#include "fergan/clip/model.h"
#include "fergan/clip/weights.h"
#include "fergan/core/check.h"
#include "fergan/core/safetensors.h"

namespace clip = fergan::clip;
using TensorMap = std::map<std::string, torch::Tensor>;

namespace {

std::string shared_dir() {
  const char* s = std::getenv("FERGAN_SHARED_DIR");
  return s ? s : "../shared";
}
std::string tiny_weights() {
  return shared_dir() + "/clip/tiny/clip.safetensors";
}
const TensorMap& io() {
  static const TensorMap t = fergan::safetensors::load(shared_dir() + "/clip/tiny/io.safetensors");
  return t;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("fergan_clip_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Checks both towers against the reference features computed by OpenAI's clip/model.py.
void expect_reference_features(clip::ClipModel model, double tolerance = 1e-4) {
  auto tokens = io().at("tokens").to(torch::kInt64);
  auto text = model->encode_text(tokens);
  ASSERT_EQ(text.sizes(), io().at("text_features").sizes());
  const double text_err = max_abs_diff(text, io().at("text_features"));
  EXPECT_LE(text_err, tolerance);
  auto image = model->encode_image(io().at("images"));
  ASSERT_EQ(image.sizes(), io().at("image_features").sizes());
  const double image_err = max_abs_diff(image, io().at("image_features"));
  EXPECT_LE(image_err, tolerance);
  std::printf("  max abs error: text_features %.3g, image_features %.3g\n", text_err, image_err);
}

std::string load_error(const std::string& path, const clip::LoadOptions& options = {}) {
  try {
    clip::load_clip(path, torch::kCPU, torch::kFloat32, options);
  } catch (const fergan::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "loading " << path << " should have failed";
  return "";
}

// OpenAI state_dict names -> HuggingFace transformers CLIPModel names, following the names documented in
// transformers' modeling_clip.py / convert_clip_original_pytorch_to_hf.py.
TensorMap to_huggingface(const TensorMap& openai) {
  TensorMap hf;
  const std::vector<std::pair<std::regex, std::string>> rules = {
      {std::regex(R"(^token_embedding\.weight$)"), "text_model.embeddings.token_embedding.weight"},
      {std::regex(R"(^positional_embedding$)"), "text_model.embeddings.position_embedding.weight"},
      {std::regex(R"(^ln_final\.(weight|bias)$)"), "text_model.final_layer_norm.$1"},
      {std::regex(R"(^visual\.class_embedding$)"), "vision_model.embeddings.class_embedding"},
      {std::regex(R"(^visual\.conv1\.weight$)"), "vision_model.embeddings.patch_embedding.weight"},
      {std::regex(R"(^visual\.positional_embedding$)"), "vision_model.embeddings.position_embedding.weight"},
      {std::regex(R"(^visual\.ln_pre\.(weight|bias)$)"), "vision_model.pre_layrnorm.$1"},
      {std::regex(R"(^visual\.ln_post\.(weight|bias)$)"), "vision_model.post_layernorm.$1"},
      {std::regex(R"(^logit_scale$)"), "logit_scale"},
  };
  const std::vector<std::pair<std::string, std::string>> layer_parts = {
      {"attn.out_proj.", "self_attn.out_proj."},
      {"ln_1.", "layer_norm1."},
      {"ln_2.", "layer_norm2."},
      {"mlp.c_fc.", "mlp.fc1."},
      {"mlp.c_proj.", "mlp.fc2."}};
  const std::regex block(R"(^(visual\.)?transformer\.resblocks\.(\d+)\.(.*)$)");
  for (const auto& [name, t] : openai) {
    std::smatch m;
    if (name == "text_projection") {
      hf["text_projection.weight"] = t.t().contiguous();
    } else if (name == "visual.proj") {
      hf["visual_projection.weight"] = t.t().contiguous();
    } else if (std::regex_match(name, m, block)) {
      const std::string tower = m[1].matched ? "vision_model" : "text_model";
      const std::string prefix = tower + ".encoder.layers." + m[2].str() + ".";
      const std::string rest = m[3].str();
      if (rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias") {
        const std::string kind = rest == "attn.in_proj_weight" ? "weight" : "bias";
        auto qkv = t.chunk(3, 0);
        hf[prefix + "self_attn.q_proj." + kind] = qkv[0].contiguous();
        hf[prefix + "self_attn.k_proj." + kind] = qkv[1].contiguous();
        hf[prefix + "self_attn.v_proj." + kind] = qkv[2].contiguous();
      } else {
        bool done = false;
        for (const auto& [from, to] : layer_parts)
          if (rest.rfind(from, 0) == 0) {
            hf[prefix + to + rest.substr(from.size())] = t;
            done = true;
          }
        if (!done) ADD_FAILURE() << "converter does not know " << name;
      }
    } else {
      bool done = false;
      for (const auto& [re, to] : rules)
        if (std::regex_match(name, m, re)) {
          hf[m.format(to)] = t;
          done = true;
        }
      if (!done) ADD_FAILURE() << "converter does not know " << name;
    }
  }
  // Buffers some transformers versions save; the loader must ignore them.
  hf["text_model.embeddings.position_ids"] = torch::arange(77).unsqueeze(0);
  hf["vision_model.embeddings.position_ids"] = torch::arange(17).unsqueeze(0);
  return hf;
}

}  // namespace

TEST(ClipModel, ReproducesReferenceFeaturesFromOpenAiNames) {
  auto model = clip::load_clip(tiny_weights());
  EXPECT_EQ(model->embed_dim(), 32);
  EXPECT_EQ(model->image_resolution(), 32);
  EXPECT_EQ(model->context_length(), 77);
  EXPECT_EQ(model->config.text.width, 64);
  EXPECT_EQ(model->config.text.layers, 2);
  EXPECT_EQ(model->config.text.heads, 4);  // from meta.json next to the weights
  EXPECT_EQ(model->config.vision.width, 128);
  EXPECT_EQ(model->config.vision.patch_size, 8);
  EXPECT_EQ(model->config.vision.heads, 2);  // OpenAI's rule: width / 64
  EXPECT_NE(model->model_id().find("clip.safetensors"), std::string::npos);
  expect_reference_features(model);
}

TEST(ClipModel, HeadCountMattersAndNormalizeOption) {
  // A wrong head count must visibly change the features (the comparison above can fail).
  clip::LoadOptions one_head;
  one_head.text_heads = 1;
  auto wrong = clip::load_clip(tiny_weights(), torch::kCPU, torch::kFloat32, one_head);
  auto tokens = io().at("tokens").to(torch::kInt64);
  EXPECT_GT(max_abs_diff(wrong->encode_text(tokens), io().at("text_features")), 1e-3);
  auto model = clip::load_clip(tiny_weights());
  auto normalized = model->encode_text(tokens, /*normalize=*/true);
  EXPECT_LE(max_abs_diff(normalized.norm(2, -1), torch::ones({8})), 1e-5);
  auto expected = io().at("text_features") / io().at("text_features").norm(2, -1, true);
  EXPECT_LE(max_abs_diff(normalized, expected), 1e-5);
  // Shorter token tensors (columns after <|endoftext|> dropped) give the same features.
  EXPECT_LE(max_abs_diff(model->encode_text(tokens.narrow(1, 0, 16)), io().at("text_features")), 1e-4);
}

TEST(ClipModel, ReproducesReferenceFeaturesFromHuggingFaceNames) {
  auto hf = to_huggingface(fergan::safetensors::load(tiny_weights()));
  EXPECT_TRUE(hf.count("text_model.encoder.layers.1.self_attn.k_proj.weight"));
  EXPECT_TRUE(hf.count("vision_model.pre_layrnorm.weight"));
  EXPECT_EQ(hf.at("text_projection.weight").sizes(), (std::vector<int64_t>{32, 64}));
  const auto dir = temp_dir("hf");
  fergan::safetensors::save((dir / "model.safetensors").string(), hf);
  std::ofstream(dir / "config.json")
      << R"({"text_config": {"num_attention_heads": 4}, "vision_config": {"num_attention_heads": 2}})";
  auto model = clip::load_clip((dir / "model.safetensors").string());
  EXPECT_EQ(model->config.text.heads, 4);
  expect_reference_features(model);

  // A q/k/v piece missing from the HF file is reported by its HuggingFace name.
  hf.erase("text_model.encoder.layers.0.self_attn.k_proj.bias");
  hf.erase("vision_model.encoder.layers.1.mlp.fc2.weight");
  fergan::safetensors::save((dir / "model.safetensors").string(), hf);
  const auto msg = load_error((dir / "model.safetensors").string());
  EXPECT_NE(msg.find("text_model.encoder.layers.0.self_attn.k_proj.bias"), std::string::npos) << msg;
  EXPECT_NE(msg.find("visual.transformer.resblocks.1.mlp.c_proj.weight"), std::string::npos) << msg;
  std::filesystem::remove_all(dir);
}

TEST(ClipModel, ReproducesReferenceFeaturesFromTorchScript) {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "Debian's python3-torch is needed to write the TorchScript archive";
  const auto dir = temp_dir("jit");
  const auto script = dir / "make_jit.py";
  // Builds a scripted module whose parameters carry OpenAI's names (as the released ViT-B-32.pt does),
  // reading the safetensors file with the standard library only.
  std::ofstream(script) << R"PY(
import json, struct, sys, torch
src, dst = sys.argv[1], sys.argv[2]
raw = open(src, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
class Root(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
root = Root()
for name, info in header.items():
    if name == '__metadata__':
        continue
    begin, end = info['data_offsets']
    t = torch.frombuffer(bytearray(raw[8 + n + begin:8 + n + end]), dtype=torch.float32).reshape(info['shape'])
    *parents, leaf = name.split('.')
    m = root
    for p in parents:
        if not hasattr(m, p):
            m.add_module(p, torch.nn.Module())
        m = getattr(m, p)
    m.register_parameter(leaf, torch.nn.Parameter(t.clone()))
torch.jit.script(root).save(dst)
)PY";
  const auto pt = dir / "ViT-tiny.pt";
  const std::string cmd =
      "/usr/bin/python3 '" + script.string() + "' '" + tiny_weights() + "' '" + pt.string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto tensors = clip::read_weight_file(pt.string());
  EXPECT_TRUE(tensors.count("visual.transformer.resblocks.1.attn.in_proj_weight"));
  clip::LoadOptions heads;
  heads.text_heads = 4;
  auto model = clip::load_clip(pt.string(), torch::kCPU, torch::kFloat32, heads);
  expect_reference_features(model);
  std::filesystem::remove_all(dir);
}

TEST(ClipModel, BadWeightFilesListEveryProblem) {
  auto t = fergan::safetensors::load(tiny_weights());
  t.erase("transformer.resblocks.1.ln_2.bias");
  t.erase("visual.ln_post.weight");
  t["visual.transformer.resblocks.0.mlp.c_fc.weight"] = torch::zeros({500, 128});
  t["text_projection_extra"] = torch::zeros({3});
  const auto dir = temp_dir("bad");
  const auto path = (dir / "broken.safetensors").string();
  fergan::safetensors::save(path, t);
  const auto msg = load_error(path);
  for (const char* expected :
       {"broken.safetensors", "missing: transformer.resblocks.1.ln_2.bias", "missing: visual.ln_post.weight",
        "unexpected: text_projection_extra",
        "misshaped: visual.transformer.resblocks.0.mlp.c_fc.weight is [500, 128], expected "
        "[512, 128]"})
    EXPECT_NE(msg.find(expected), std::string::npos) << "'" << expected << "' not in: " << msg;

  // Without the tensors that give the sizes, the error says so and names them.
  auto u = fergan::safetensors::load(tiny_weights());
  u.erase("token_embedding.weight");
  fergan::safetensors::save(path, u);
  const auto msg2 = load_error(path);
  EXPECT_NE(msg2.find("token_embedding.weight"), std::string::npos) << msg2;

  // A truncated file and a missing file.
  std::filesystem::resize_file(path, 1000);
  EXPECT_NE(load_error(path).find("truncated"), std::string::npos);
  EXPECT_NE(load_error((dir / "absent.safetensors").string()).find("absent.safetensors"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ClipModel, TextOnlyWeightsAndCaptionEncoder) {
  // A file with only the text tower loads; encode_image then says why it cannot run.
  auto t = fergan::safetensors::load(tiny_weights());
  for (auto it = t.begin(); it != t.end();)
    it = it->first.rfind("visual.", 0) == 0 ? t.erase(it) : std::next(it);
  const auto dir = temp_dir("textonly");
  const auto path = (dir / "text.safetensors").string();
  fergan::safetensors::save(path, t, {{"text_heads", "4"}});
  auto model = clip::load_clip(path);
  EXPECT_FALSE(model->config.has_vision);
  EXPECT_THROW(model->encode_image(io().at("images")), fergan::Error);

  // The caption encoder (tokenizer + text tower, batched) gives the reference features for meta.json's
  // captions.
  const std::vector<std::string> captions = {
      "a person with an angry expression",  "a person with a disgusted expression",
      "a person with a fearful expression", "a person with a happy expression",
      "a person with a sad expression",     "a person with a surprised expression",
      "a person with a neutral expression", "A photo of a cat, isn't it?  (2 cats!)"};
  auto encode =
      clip::make_caption_encoder(path, shared_dir() + "/clip/bpe_simple_vocab_16e6.txt.gz", torch::kCPU,
                                 /*normalize=*/false, /*batch_size=*/3);
  auto features = encode(captions);
  EXPECT_EQ(features.scalar_type(), torch::kFloat32);
  EXPECT_LE(max_abs_diff(features, io().at("text_features")), 1e-4);
  EXPECT_EQ(encode({}).sizes(), (std::vector<int64_t>{0, 32}));
  std::filesystem::remove_all(dir);
}

TEST(ClipModel, ImageEncoderPreprocessesLikeClip) {
  // 32x32 RGB uint8 images: preprocessing at the model resolution is only ToTensor + Normalize, so feeding
  // the uint8 images through the image encoder equals encode_image on hand-normalised pixels.
  torch::manual_seed(3);
  auto images = torch::randint(0, 256, {5, 32, 32, 3}, torch::kUInt8);
  auto model = clip::load_clip(tiny_weights());
  auto encode = clip::image_encoder_for(model, false, 2);
  const auto mean = torch::tensor({0.48145466, 0.4578275, 0.40821073}).view({1, 3, 1, 1});
  const auto stdev = torch::tensor({0.26862954, 0.26130258, 0.27577711}).view({1, 3, 1, 1});
  auto pixels =
      ((images.permute({0, 3, 1, 2}).to(torch::kFloat64) / 255.0 - mean) / stdev).to(torch::kFloat32);
  EXPECT_LE(max_abs_diff(encode(images), model->encode_image(pixels)), 1e-5);
}
