// Checkpoint sets as the trainer uses them: the optimizer state survives a save/load exactly (a resumed Adam
// takes the same next step as the uninterrupted one), keep_last keeps the newest K sets and deletes the
// files of the others, and --resume paths name their set.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fergan/checkpoint/checkpoint.h"
#include "fergan/core/check.h"
#include "fergan/train/resume.h"

using namespace fergan;
using namespace fergan::checkpoint;
namespace stdfs = std::filesystem;

namespace {

struct TempDir {
  TempDir() {
    path = stdfs::temp_directory_path() /
           ("fergan_ckpt_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    stdfs::create_directories(path);
  }
  ~TempDir() { stdfs::remove_all(path); }
  std::string str() const { return path.string(); }
  stdfs::path path;
  static inline int counter = 0;
};

// One Adam step on a fixed loss of a small network.
void adam_step(torch::nn::Linear& net, torch::optim::Adam& opt, int64_t k) {
  torch::manual_seed(100 + k);
  opt.zero_grad();
  const auto x = torch::randn({5, 4});
  (net(x).pow(2).sum() + net->weight.sum()).backward();
  opt.step();
}

void touch(const stdfs::path& path) {
  std::ofstream(path.string()) << "x";
}

CheckpointSet save_set(const std::string& dir, const std::string& phase, int64_t epoch, int64_t step,
                       int64_t batch_in_epoch, int keep_last) {
  torch::nn::Linear g(3, 2), d(2, 1);
  CheckpointMeta meta;
  meta.phase = phase;
  meta.epoch = epoch;
  meta.step = step;
  meta.batch_in_epoch = batch_in_epoch;
  CheckpointSet set;
  set.tag = batch_in_epoch ? "epoch_" + std::to_string(epoch) + "_step_" + std::to_string(step)
                           : "epoch_" + std::to_string(epoch);
  set.meta = meta;
  set.generator_path = checkpoint_path(dir, phase, "generator", set.tag);
  set.discriminator_path = checkpoint_path(dir, phase, "discriminator", set.tag);
  save_network(set.generator_path, *g, nullptr, meta);
  save_network(set.discriminator_path, *d, nullptr, meta);
  touch(stdfs::path(set.generator_path).replace_extension(".png"));
  commit_set(dir, set, keep_last);
  return set;
}

}  // namespace

TEST(Checkpoints, OptimizerStateRoundTripsExactly) {
  TempDir dir;
  torch::manual_seed(1);
  torch::nn::Linear net(4, 3);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-2).betas({0.5, 0.999}));
  for (int64_t k = 0; k < 3; ++k) adam_step(net, opt, k);
  CheckpointMeta meta;
  meta.phase = "img2text";
  meta.epoch = 1;
  meta.step = 3;
  const std::string path = (dir.path / "net.pth").string();
  save_network(path, *net, &opt, meta, {{"epoch_sums", torch::arange(4, torch::kFloat64)}});

  torch::manual_seed(2);  // different initial weights: everything must come from the file
  torch::nn::Linear resumed(4, 3);
  torch::optim::Adam resumed_opt(resumed->parameters(), torch::optim::AdamOptions(1e-2).betas({0.5, 0.999}));
  std::map<std::string, torch::Tensor> extra{{"epoch_sums", torch::Tensor()}};
  const CheckpointMeta back = load_network(path, *resumed, &resumed_opt, &extra);
  EXPECT_EQ(back.step, 3);
  EXPECT_TRUE(torch::equal(extra["epoch_sums"], torch::arange(4, torch::kFloat64)));
  EXPECT_TRUE(torch::equal(resumed->weight, net->weight));

  // The next step from the restored moments equals the uninterrupted one bit for bit; from fresh moments it
  // would not (Adam's bias correction and m, v differ).
  adam_step(net, opt, 3);
  adam_step(resumed, resumed_opt, 3);
  EXPECT_TRUE(torch::equal(resumed->weight, net->weight));
  EXPECT_TRUE(torch::equal(resumed->bias, net->bias));
  torch::nn::Linear fresh(4, 3);
  torch::optim::Adam fresh_opt(fresh->parameters(), torch::optim::AdamOptions(1e-2).betas({0.5, 0.999}));
  load_network(path, *fresh, nullptr);
  adam_step(fresh, fresh_opt, 3);
  EXPECT_FALSE(torch::equal(fresh->weight, net->weight));
}

TEST(Checkpoints, KeepLastKeepsTheNewestSetsAndDeletesTheRest) {
  TempDir dir;
  std::vector<CheckpointSet> sets;
  for (int64_t e = 1; e <= 5; ++e)
    sets.push_back(save_set(dir.str(), "text2img", e, e * 10, 0, /*keep_last=*/2));
  const auto listed = list_sets(dir.str(), "text2img");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].tag, "epoch_4");
  EXPECT_EQ(listed[1].tag, "epoch_5");
  for (int64_t e = 0; e < 3; ++e) {
    EXPECT_FALSE(stdfs::exists(sets[e].generator_path)) << sets[e].tag;
    EXPECT_FALSE(stdfs::exists(sets[e].discriminator_path)) << sets[e].tag;
    EXPECT_FALSE(stdfs::exists(stdfs::path(sets[e].generator_path).replace_extension(".png"))) << sets[e].tag;
  }
  for (int64_t e = 3; e < 5; ++e) EXPECT_TRUE(stdfs::exists(sets[e].generator_path)) << sets[e].tag;
  EXPECT_EQ(latest_set(dir.str(), "text2img")->tag, "epoch_5");
  // keep_last 0 keeps everything; the other phase's index is separate.
  for (int64_t e = 1; e <= 3; ++e) save_set(dir.str(), "img2text", e, e, 0, 0);
  EXPECT_EQ(list_sets(dir.str(), "img2text").size(), 3u);
  EXPECT_EQ(list_sets(dir.str(), "text2img").size(), 2u);
}

TEST(Resume, PathsNameTheirSet) {
  TempDir dir;
  const auto mid = save_set(dir.str(), "text2img", 2, 37, 5, 0);
  for (const auto& path : {mid.generator_path, mid.discriminator_path}) {
    const auto set = train::set_from_path(path);
    EXPECT_EQ(set.tag, "epoch_2_step_37");
    EXPECT_EQ(set.generator_path, mid.generator_path);
    EXPECT_EQ(set.discriminator_path, mid.discriminator_path);
    EXPECT_EQ(set.meta.phase, "text2img");
    EXPECT_EQ(set.meta.batch_in_epoch, 5);
  }
  // A checkpoint renamed so that its name no longer says which network and set it is.
  const auto renamed = dir.path / "my_generator.pth";
  stdfs::copy_file(mid.generator_path, renamed);
  try {
    train::set_from_path(renamed.string());
    FAIL() << "no error for " << renamed;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("text2img_{generator,discriminator}_<tag>.pth"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(train::set_from_path((dir.path / "missing.pth").string()), Error);
}

TEST(Resume, AutoTakesTheNewestSetOfEachPhase) {
  TempDir dir;
  save_set(dir.str(), "img2text", 1, 10, 0, 0);
  save_set(dir.str(), "img2text", 2, 20, 0, 0);
  save_set(dir.str(), "text2img", 1, 4, 3, 0);
  const auto sets = train::resume_sets("auto", dir.str(), {"img2text", "text2img"});
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets.at("img2text").tag, "epoch_2");
  EXPECT_EQ(sets.at("text2img").tag, "epoch_1_step_4");
  EXPECT_TRUE(train::set_is_final(sets.at("img2text"), 2));
  EXPECT_FALSE(train::set_is_final(sets.at("img2text"), 3));
  EXPECT_FALSE(train::set_is_final(sets.at("text2img"), 1));  // mid-epoch: batches left
  EXPECT_TRUE(train::resume_sets("", dir.str(), {"img2text"}).empty());
  const auto one =
      train::resume_sets(sets.at("img2text").generator_path, dir.str(), {"img2text", "text2img"});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one.at("img2text").tag, "epoch_2");
}

// A run resumed from an older set (an explicit --resume path, or a requeue after an error) writes sets whose
// steps are below those of the run it abandoned. The next `--resume auto` must continue the resumed run, not
// jump back to the abandoned one's higher step: the index orders sets by commit, not by step.
TEST(Resume, AutoTakesTheLastCommittedSetNotTheHighestStep) {
  TempDir dir;
  for (int64_t e = 1; e <= 3; ++e) save_set(dir.str(), "img2text", e, e * 10, 0, 0);
  // The run restarted from epoch_1 (step 10) and was stopped by a signal at step 14.
  save_set(dir.str(), "img2text", 1, 14, 4, 0);
  EXPECT_EQ(latest_set(dir.str(), "img2text")->tag, "epoch_1_step_14");
  EXPECT_EQ(train::resume_sets("auto", dir.str(), {"img2text"}).at("img2text").tag, "epoch_1_step_14");
  // It goes on and rewrites epoch_2 (same tag, new content): that is the newest set again.
  save_set(dir.str(), "img2text", 2, 20, 0, 0);
  EXPECT_EQ(latest_set(dir.str(), "img2text")->tag, "epoch_2");
  const auto listed = list_sets(dir.str(), "img2text");
  std::vector<std::string> tags;
  for (const auto& s : listed) tags.push_back(s.tag);
  EXPECT_EQ(tags, (std::vector<std::string>{"epoch_1", "epoch_3", "epoch_1_step_14", "epoch_2"}));
  for (size_t i = 1; i < listed.size(); ++i) EXPECT_LT(listed[i - 1].seq, listed[i].seq);
}

TEST(Checkpoints, KeepLastDropsTheEarliestCommittedSets) {
  TempDir dir;
  for (int64_t e = 1; e <= 3; ++e) save_set(dir.str(), "text2img", e, e * 10, 0, 0);
  const auto resumed = save_set(dir.str(), "text2img", 1, 12, 2, /*keep_last=*/2);
  const auto listed = list_sets(dir.str(), "text2img");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].tag, "epoch_3");
  EXPECT_EQ(listed[1].tag, "epoch_1_step_12");
  EXPECT_TRUE(stdfs::exists(resumed.generator_path));
  EXPECT_FALSE(stdfs::exists(checkpoint_path(dir.str(), "text2img", "generator", "epoch_1")));
  EXPECT_FALSE(stdfs::exists(checkpoint_path(dir.str(), "text2img", "generator", "epoch_2")));
}

// Indexes written before commit sequence numbers existed still load, ordered by step as before; a set
// committed after them is newer than all of them.
TEST(Resume, IndexWithoutSequenceNumbersStillLoads) {
  TempDir dir;
  torch::nn::Linear g(3, 2), d(2, 1);
  CheckpointMeta meta;
  meta.phase = "img2text";
  for (const std::string tag : {"epoch_1", "epoch_2"}) {
    save_network(checkpoint_path(dir.str(), "img2text", "generator", tag), *g, nullptr, meta);
    save_network(checkpoint_path(dir.str(), "img2text", "discriminator", tag), *d, nullptr, meta);
  }
  std::ofstream(dir.path / "img2text_checkpoints.json") << R"({"phase": "img2text", "sets": [
    {"tag": "epoch_2", "generator": "img2text_generator_epoch_2.pth",
     "discriminator": "img2text_discriminator_epoch_2.pth", "epoch": 2, "step": 20, "batch_in_epoch": 0, "world": 1},
    {"tag": "epoch_1", "generator": "img2text_generator_epoch_1.pth",
     "discriminator": "img2text_discriminator_epoch_1.pth", "epoch": 1, "step": 10, "batch_in_epoch": 0, "world": 1}
  ]})";
  auto listed = list_sets(dir.str(), "img2text");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].tag, "epoch_1");
  EXPECT_EQ(listed[1].tag, "epoch_2");
  EXPECT_EQ(latest_set(dir.str(), "img2text")->tag, "epoch_2");
  save_set(dir.str(), "img2text", 1, 15, 5, 0);
  EXPECT_EQ(latest_set(dir.str(), "img2text")->tag, "epoch_1_step_15");
  EXPECT_EQ(list_sets(dir.str(), "img2text").size(), 3u);
}

// Where a mid-epoch checkpoint resumes: its stored global sample offset, at any world size. A file written
// before the offset was stored (no meta/samples_in_epoch) reads as -1 and resumes from batch_in_epoch at its
// own world size only; at another it is an error naming the file.
TEST(Resume, SampleOffsetOfNewAndOldCheckpoints) {
  TempDir dir;
  auto mid = save_set(dir.str(), "img2text", 1, 14, 4, 0);
  EXPECT_EQ(read_meta(mid.generator_path).samples_in_epoch, 0);  // as save_set wrote it
  CheckpointMeta meta = mid.meta;
  meta.world = 2;
  meta.samples_in_epoch = 32;  // 4 steps x batch 4 x 2 ranks
  torch::nn::Linear g(3, 2);
  save_network(mid.generator_path, *g, nullptr, meta);
  mid.meta = read_meta(mid.generator_path);
  EXPECT_EQ(mid.meta.samples_in_epoch, 32);
  for (int world : {1, 2, 3, 4}) EXPECT_EQ(train::resume_sample_offset(mid, world, 4), 32);

  // An old file: the same archive without the new key.
  const std::string old_path = (dir.path / "img2text_generator_epoch_1_step_9.pth").string();
  {
    torch::serialize::OutputArchive archive;
    archive.write("meta/phase", c10::IValue(std::string("img2text")));
    archive.write("meta/epoch", c10::IValue(int64_t{1}));
    archive.write("meta/step", c10::IValue(int64_t{9}));
    archive.write("meta/batch_in_epoch", c10::IValue(int64_t{3}));
    archive.write("meta/world", c10::IValue(int64_t{2}));
    archive.write("meta/seed", c10::IValue(int64_t{0}));
    archive.write("meta/config_yaml", c10::IValue(std::string("")));
    archive.save_to(old_path);
  }
  CheckpointSet old;
  old.generator_path = old_path;
  old.meta = read_meta(old_path);
  EXPECT_EQ(old.meta.samples_in_epoch, -1);
  EXPECT_EQ(train::resume_sample_offset(old, 2, 4), 3 * 4 * 2);
  for (int world : {1, 3}) {
    try {
      train::resume_sample_offset(old, world, 4);
      FAIL() << "no error resuming an old mid-epoch checkpoint of 2 ranks on " << world;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(old_path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("on 2 rank(s)"), std::string::npos) << e.what();
    }
  }
  old.meta.batch_in_epoch = 0;  // an old epoch-end checkpoint resumes anywhere, at the epoch's start
  EXPECT_EQ(train::resume_sample_offset(old, 3, 4), 0);
}
