// Caption-embedding import: the three file formats round-trip, and mismatching captions or dimensions
// are errors naming the file and the first mismatch.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data_test_util.h"
#include "fergan/core/safetensors.h"
#include "fergan/data/dataset.h"
#include "fergan/data/embeddings.h"

using namespace fergan;
using namespace fergan::data;
using namespace fergan::data::testing;

namespace {
std::vector<std::string> table_of(const Config& c) {
  std::vector<std::string> captions;
  std::vector<int64_t> labels;
  caption_table(c.captions, &captions, &labels);
  return captions;
}
}  // namespace

TEST(Embeddings, CaptionTableIsLabelMajor) {
  auto c = prep_config({"captions.templates=[\"a {} face\", \"so {}\"]"});
  std::vector<std::string> captions;
  std::vector<int64_t> labels;
  caption_table(c.captions, &captions, &labels);
  ASSERT_EQ(captions.size(), 14u);
  EXPECT_EQ(captions[0], "a angry face");
  EXPECT_EQ(captions[1], "so angry");
  EXPECT_EQ(captions[13], "so neutral");
  EXPECT_EQ(labels, (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6}));
}

TEST(Embeddings, NpyHdf5AndSafetensorsRoundTrip) {
  TempDir tmp;
  const auto captions = table_of(prep_config());
  auto table = torch::randn({static_cast<int64_t>(captions.size()), 12});
  save_embeddings_npy(tmp / "e.npy", table);
  write_text(tmp / "e.captions.json", nlohmann::json(captions).dump());
  EXPECT_TRUE(torch::equal(import_caption_embeddings(tmp / "e.npy", captions, 12), table));
  save_embeddings_h5(tmp / "e.h5", table, captions);
  EXPECT_TRUE(torch::equal(import_caption_embeddings(tmp / "e.h5", captions, 12), table));
  safetensors::save(tmp / "e.safetensors", {{"embeddings", table}},
                    {{"captions", nlohmann::json(captions).dump()}});
  EXPECT_TRUE(torch::equal(import_caption_embeddings(tmp / "e.safetensors", captions, 0), table));
}

TEST(Embeddings, MismatchingCaptionsNameTheFirstMismatch) {
  TempDir tmp;
  auto captions = table_of(prep_config());
  auto table = torch::randn({static_cast<int64_t>(captions.size()), 8});
  auto wrong = captions;
  wrong[3] = "a person with a joyful expression";
  save_embeddings_h5(tmp / "e.h5", table, wrong);
  EXPECT_ERROR_HAS(import_caption_embeddings(tmp / "e.h5", captions, 8), "e.h5", "caption 3",
                   "a person with a joyful expression", "a person with a happy expression");
  // Fewer captions than the table (e.g. a different template count).
  auto more = table_of(prep_config({"captions.templates=[\"a {} face\", \"so {}\"]"}));
  save_embeddings_npy(tmp / "f.npy", table);
  write_text(tmp / "f.captions.txt", [&] {
    std::string s;
    for (auto& c : captions) s += c + "\n";
    return s;
  }());
  EXPECT_ERROR_HAS(import_caption_embeddings(tmp / "f.npy", more, 8), "f.npy", "caption 0");
  // Missing caption list beside an .npy.
  save_embeddings_npy(tmp / "g.npy", table);
  EXPECT_ERROR_HAS(import_caption_embeddings(tmp / "g.npy", captions, 8), "g.captions.json");
}

TEST(Embeddings, WrongDimensionAndBadFiles) {
  TempDir tmp;
  const auto captions = table_of(prep_config());
  auto table = torch::randn({static_cast<int64_t>(captions.size()), 8});
  save_embeddings_h5(tmp / "e.h5", table, captions);
  EXPECT_ERROR_HAS(import_caption_embeddings(tmp / "e.h5", captions, 512), "e.h5", "dimension 8", "512");
  safetensors::save(tmp / "n.safetensors", {{"embeddings", table}});
  EXPECT_ERROR_HAS(import_caption_embeddings(tmp / "n.safetensors", captions, 8), "n.safetensors",
                   "captions");
  EXPECT_ERROR_HAS(import_caption_embeddings(tmp / "missing.npy", captions, 8), "missing.npy",
                   "does not exist");
  write_text(tmp / "x.txt", "hello");
  EXPECT_ERROR_HAS(import_caption_embeddings(tmp / "x.txt", captions, 8), "x.txt", "unknown format");
  write_text(tmp / "bad.h5", "not hdf5");
  EXPECT_ERROR_HAS(import_caption_embeddings(tmp / "bad.h5", captions, 8), "bad.h5");
}

TEST(Embeddings, PrepImportsAFileAndTheEncoderHookIsUsed) {
  TempDir tmp;
  const auto config = prep_config();
  const auto captions = table_of(config);
  write_csv(tmp / "in.csv", {csv_row(2, test_pixels(1), "Training")});
  auto table = torch::randn({static_cast<int64_t>(captions.size()), 512});
  save_embeddings_h5(tmp / "e.h5", table, captions);
  auto o = quick_options(tmp / "in.csv", tmp / "out");
  o.random_embeddings = false;
  o.embed_dim = 0;  // the config's latent_dim (512)
  o.embeddings_file = tmp / "e.h5";
  run_prep(o, config);
  ShardDataset ds(tmp / "out", "train");
  EXPECT_TRUE(torch::equal(ds.caption_embeddings(), table));
  EXPECT_FALSE(ds.random_embeddings());
  // Wrong dimension through data_prep.
  o.embed_dim = 64;
  o.out = tmp / "out2";
  EXPECT_ERROR_HAS(run_prep(o, config), "e.h5", "dimension 512", "64");
  // The CLIP hook: a fake encoder whose rows encode the caption length.
  PrepHooks hooks;
  hooks.clip_model_id = "fake-clip";
  hooks.caption_encoder = [](const std::vector<std::string>& cs) {
    auto t = torch::zeros({static_cast<int64_t>(cs.size()), 4});
    for (size_t i = 0; i < cs.size(); ++i) t[i].fill_(static_cast<float>(cs[i].size()));
    return t;
  };
  auto h = quick_options(tmp / "in.csv", tmp / "out3");
  h.random_embeddings = false;
  h.embed_dim = 4;
  run_prep(h, config, hooks);
  ShardDataset hd(tmp / "out3", "train");
  EXPECT_EQ(hd.manifest().clip_model, "fake-clip");
  EXPECT_EQ(hd.caption_embeddings()[0][0].item<float>(), static_cast<float>(captions[0].size()));
}

TEST(Embeddings, RandomEmbeddingsAreSeeded) {
  EXPECT_TRUE(torch::equal(random_caption_embeddings(7, 5, 1), random_caption_embeddings(7, 5, 1)));
  EXPECT_FALSE(torch::equal(random_caption_embeddings(7, 5, 1), random_caption_embeddings(7, 5, 2)));
  auto big = random_caption_embeddings(100, 100, 3);
  EXPECT_NEAR(big.mean().item<float>(), 0.0, 0.05);
  EXPECT_NEAR(big.std().item<float>(), 1.0, 0.05);
}
