// Config loading: the shipped files parse, bad keys/types/ranges fail naming the key, overrides apply.
#include <gtest/gtest.h>

#include <cstdlib>

#include "fergan/core/check.h"
#include "fergan/core/config.h"

namespace {
std::string source_dir() {
  const char* d = std::getenv("FERGAN_SOURCE_DIR");
  return d ? d : ".";
}

std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    fergan::parse_config(yaml, "test.yaml", overrides);
  } catch (const fergan::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, ShippedFilesLoad) {
  auto d = fergan::load_config(source_dir() + "/config/default.yaml");
  EXPECT_EQ(d.text2img.image_size, 256);
  EXPECT_EQ(d.train.batch_size, 8);
  EXPECT_EQ(d.img2text.epochs, 50);
  EXPECT_EQ(d.checkpoint_dir, "experiments/exp1/checkpoints");
  EXPECT_GT(d.captions.templates.size(), 1u);
  auto o = fergan::load_config(source_dir() + "/config/original.yaml");
  EXPECT_EQ(o.text2img.image_size, 64);
  EXPECT_EQ(o.text2img.noise_dim, 0);
  EXPECT_FALSE(o.text2img.conditional);
  EXPECT_FALSE(o.img2text.matching_aware);
  EXPECT_EQ(o.captions.templates.size(), 1u);
  EXPECT_EQ(o.train.batch_size, 32);
  fergan::load_config(source_dir() + "/config/demo.yaml");
}

TEST(Config, UnknownKeyListsValidKeys) {
  auto e = error_of("train:\n  batchsize: 4\n");
  EXPECT_NE(e.find("train.batchsize"), std::string::npos) << e;
  EXPECT_NE(e.find("train.batch_size"), std::string::npos) << e;
  EXPECT_NE(e.find("test.yaml"), std::string::npos) << e;
}

TEST(Config, WrongTypeAndRangeNameTheKey) {
  EXPECT_NE(error_of("train:\n  batch_size: many\n").find("train.batch_size"), std::string::npos);
  EXPECT_NE(error_of("train:\n  batch_size: 0\n").find("out of range"), std::string::npos);
  EXPECT_NE(error_of("text2img:\n  image_size: 96\n").find("64, 128 or 256"), std::string::npos);
  EXPECT_NE(error_of("device: tpu\n").find("not one of"), std::string::npos);
  EXPECT_NE(error_of("train: 3\n").find("train"), std::string::npos);
  EXPECT_NE(error_of("seed: -1\n").find("seed"), std::string::npos);
}

TEST(Config, OverridesApplyInOrder) {
  auto c = fergan::parse_config("", "x",
                                {"text2img.image_size=64", "train.lr=0.001", "img2text.conditional=false",
                                 "captions.templates=[\"a {} face\"]", "text2img.image_size=128"});
  EXPECT_EQ(c.text2img.image_size, 128);
  EXPECT_DOUBLE_EQ(c.train.lr, 0.001);
  EXPECT_FALSE(c.img2text.conditional);
  ASSERT_EQ(c.captions.templates.size(), 1u);
  EXPECT_EQ(fergan::captions_for_label(c.captions, 1)[0], "a disgusted face");
  EXPECT_NE(error_of("", {"nope.key=1"}).find("nope.key"), std::string::npos);
  EXPECT_NE(error_of("", {"justtext"}).find("key=value"), std::string::npos);
}

TEST(Config, YamlRoundTrip) {
  auto a = fergan::parse_config("", "x",
                                {"text2img.image_size=64", "seed=123", "captions.templates=[\"x {} y\"]"});
  auto b = fergan::parse_config(a.to_yaml(), "round");
  EXPECT_EQ(a.to_yaml(), b.to_yaml());
  EXPECT_EQ(b.seed, 123u);
}

TEST(Config, OriginalCaptions) {
  fergan::CaptionConfig c;
  const char* expected[] = {"a person with a angry expression",   "a person with a disgusted expression",
                            "a person with a fearful expression", "a person with a happy expression",
                            "a person with a sad expression",     "a person with a surprised expression",
                            "a person with a neutral expression"};
  for (int l = 0; l < 7; ++l) EXPECT_EQ(fergan::captions_for_label(c, l)[0], expected[l]);
}
