// Config loading: one set of defaults (the key table's, equal to config/default.yaml), the hand-written
// files parse, bad keys/types/ranges fail naming the key, overrides apply.
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

// The defaults exist once: a default-constructed Config, load_config("") (fergan_dist without --config) and
// config/default.yaml are the same configuration.
TEST(Config, DefaultsAreOneConfiguration) {
  const std::string built_in = fergan::Config().to_yaml();
  EXPECT_EQ(fergan::load_config("").to_yaml(), built_in);
  EXPECT_EQ(fergan::load_config(source_dir() + "/config/default.yaml").to_yaml(), built_in);
}

// What sets the default configuration apart from the original (config/original.yaml); these values were
// config/default.yaml's before the key table held the defaults, and a run without --config trains them.
TEST(Config, ProductDefaults) {
  const fergan::Config d;
  EXPECT_EQ(d.captions.templates.size(), 5u);
  EXPECT_EQ(d.captions.templates[3], "a close-up photo of a {} person");
  EXPECT_TRUE(d.captions.resample);
  EXPECT_EQ(d.train.batch_size, 8);
  EXPECT_DOUBLE_EQ(d.train.adam_eps, 1e-8);
  EXPECT_TRUE(d.img2text.conditional && d.img2text.matching_aware);
  EXPECT_EQ(d.text2img.image_size, 256);
  EXPECT_EQ(d.text2img.noise_dim, 100);
  EXPECT_TRUE(d.text2img.conditional && d.text2img.matching_aware);
  EXPECT_EQ(d.data.shards, "data/fer2013_shards");
  EXPECT_EQ(d.checkpoint_dir, "experiments/exp1/checkpoints");
}

// Every key has a type, a default and a one-line help; the described keys are the loadable keys.
TEST(Config, EveryKeyIsDescribed) {
  const auto info = fergan::config_key_info();
  std::vector<std::string> names;
  for (const auto& k : info) {
    names.push_back(k.name);
    EXPECT_FALSE(k.type.empty()) << k.name;
    EXPECT_FALSE(k.help.empty()) << k.name;
    EXPECT_EQ(k.help.find('\n'), std::string::npos) << k.name;
    if (k.type != "string") EXPECT_FALSE(k.default_value.empty()) << k.name;
  }
  EXPECT_EQ(names, fergan::config_keys());
  // Every key appears in to_yaml() once.
  const std::string yaml = fergan::Config().to_yaml();
  for (const auto& name : names) {
    const std::string leaf = name.substr(name.find('.') + 1);
    EXPECT_NE(yaml.find(leaf + ":"), std::string::npos) << name;
  }
}

// A checkpoint written before those keys were removed still loads: its embedded config names them.
TEST(Config, SavedConfigsOfEarlierVersionsLoad) {
  const std::string saved =
      "seed: 7\ndata:\n  root: \"data/fer2013\"\n  split: \"test\"\n  balance_strength: 0.25\n"
      "clip:\n  weights: \"\"\n  vocab: \"\"\ntext2img:\n  image_size: 64\n";
  EXPECT_NE(error_of(saved).find("data.root"), std::string::npos);
  EXPECT_NE(error_of("data:\n  balance_strength: 0.5\n").find("data.balance_strength"), std::string::npos);
  const auto c = fergan::parse_saved_config(saved, "checkpoint");
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.data.split, "test");
  EXPECT_EQ(c.text2img.image_size, 64);
  EXPECT_EQ(c.to_yaml(), fergan::parse_config(c.to_yaml(), "x").to_yaml());
  // Anything else unknown is still an error.
  try {
    fergan::parse_saved_config("data:\n  nope: 1\n", "checkpoint");
    ADD_FAILURE() << "unknown key accepted";
  } catch (const fergan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("data.nope"), std::string::npos) << e.what();
  }
}

TEST(Config, HandWrittenFilesLoad) {
  auto o = fergan::load_config(source_dir() + "/config/original.yaml");
  EXPECT_EQ(o.text2img.image_size, 64);
  EXPECT_EQ(o.text2img.noise_dim, 0);
  EXPECT_FALSE(o.text2img.conditional);
  EXPECT_FALSE(o.img2text.matching_aware);
  EXPECT_EQ(o.captions.templates.size(), 1u);
  EXPECT_FALSE(o.captions.resample);
  EXPECT_EQ(o.train.batch_size, 32);
  EXPECT_EQ(o.data.shards, "data/fer2013_shards_original");
  auto demo = fergan::load_config(source_dir() + "/config/demo.yaml");
  EXPECT_EQ(demo.device, "cpu");
  EXPECT_EQ(demo.text2img.image_size, 64);
  EXPECT_EQ(demo.captions.templates.size(), 3u);
}

// Keys that no program read are gone: naming them is an error, not a silent no-op.
TEST(Config, RemovedKeysAreUnknown) {
  EXPECT_NE(error_of("data:\n  root: data/fer2013\n").find("unknown config key 'data.root'"),
            std::string::npos);
  EXPECT_NE(error_of("clip:\n  weights: x.pt\n").find("unknown config key 'clip"), std::string::npos);
  EXPECT_NE(error_of("", {"clip.vocab=v.txt"}).find("unknown config key 'clip.vocab'"), std::string::npos);
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
  EXPECT_NE(error_of("text2img:\n  image_size: big\n").find("expected an integer"), std::string::npos);
  EXPECT_NE(error_of("train:\n  adam_eps: 0\n").find("train.adam_eps"), std::string::npos);
  EXPECT_NE(error_of("data:\n  max_samples: -1\n").find("out of range [0, inf]"), std::string::npos);
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
  c.templates = {"a person with a {} expression"};
  const char* expected[] = {"a person with a angry expression",   "a person with a disgusted expression",
                            "a person with a fearful expression", "a person with a happy expression",
                            "a person with a sad expression",     "a person with a surprised expression",
                            "a person with a neutral expression"};
  for (int l = 0; l < 7; ++l) EXPECT_EQ(fergan::captions_for_label(c, l)[0], expected[l]);
}
