// named_state order and content, export to safetensors and load back, load_state's error listing.
#include <gtest/gtest.h>

#include <filesystem>

#include "fergan/core/check.h"
#include "fergan/core/safetensors.h"
#include "fergan/models/img2text.h"
#include "fergan/models/state.h"
#include "fergan/models/text2img.h"

using namespace fergan;
using namespace fergan::models;

TEST(State, ParametersThenBuffersInRegistrationOrder) {
  Text2ImageDiscriminator d;
  auto state = named_state(*d);
  std::vector<std::string> names;
  for (auto& [n, t] : state) names.push_back(n);
  // 12 parameters then 3 buffers per BatchNorm (2 BatchNorms).
  ASSERT_EQ(names.size(), 12u + 6u);
  EXPECT_EQ(names.front(), "features.0.weight");
  EXPECT_EQ(names[11], "head.bias");
  EXPECT_EQ(names[12], "features.3.running_mean");
  EXPECT_EQ(names[14], "features.3.num_batches_tracked");
  EXPECT_EQ(names.back(), "features.6.num_batches_tracked");
  // Aliases the module's storage.
  EXPECT_EQ(state[0].second.data_ptr(), d->features[0]->as<torch::nn::Conv2d>()->weight.data_ptr());
}

TEST(State, ExportLoadRoundTrip) {
  torch::manual_seed(5);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("fergan_state_" + std::to_string(getpid()) + ".safetensors"))
          .string();
  Text2ImageGenerator a;
  a->net[1]->as<torch::nn::BatchNorm2d>()->running_mean.uniform_();  // non-default buffer
  export_safetensors(path, *a, {{"network", "text2img_generator"}});
  auto file = safetensors::load(path);
  EXPECT_EQ(file.size(), named_state(*a).size());
  EXPECT_EQ(safetensors::load_metadata(path).at("network"), "text2img_generator");
  torch::manual_seed(6);
  Text2ImageGenerator b;
  load_state(*b, file, path);
  for (auto& [name, t] : named_state(*b)) EXPECT_TRUE(torch::equal(t, file.at(name))) << name;
  std::filesystem::remove(path);
}

TEST(State, LoadStateListsEveryMismatch) {
  Img2TextDiscriminator d;
  auto state_vec = named_state(*d);
  std::map<std::string, torch::Tensor> state(state_vec.begin(), state_vec.end());
  state["head.weight"] = torch::zeros({1, 128});
  state.erase("head.bias");
  state["extra.weight"] = torch::zeros({2});
  try {
    load_state(*d, state, "bad.safetensors");
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bad.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("'head.weight'"), std::string::npos) << m;
    EXPECT_NE(m.find("missing 'head.bias'"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected 'extra.weight'"), std::string::npos) << m;
  }
}
