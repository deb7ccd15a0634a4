// data_prep end to end through the library: pixel-exact round trips (folders and CSV), the shared FER2013
// CSV files, CSV/folder agreement, sharding, caption choices, and every kind of bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "data_test_util.h"
#include "fergan/data/dataset.h"
#include "fergan/data/prep.h"
#include "fergan/data/synth.h"

using namespace fergan;
using namespace fergan::data;
using namespace fergan::data::testing;
namespace stdfs = std::filesystem;

namespace {

// All samples of a split, in order.
Batch read_all(const ShardDataset& ds) {
  std::vector<int64_t> all(ds.size());
  for (int64_t i = 0; i < ds.size(); ++i) all[i] = i;
  return ds.get_batch(all);
}

std::vector<uint8_t> image_of(const Batch& b, int64_t i) {
  auto img = b.images[i].contiguous();
  return std::vector<uint8_t>(img.data_ptr<uint8_t>(), img.data_ptr<uint8_t>() + img.numel());
}

// Independent parse of a Kaggle CSV: (label, pixels, usage) per data row.
struct CsvRow {
  int label;
  std::vector<uint8_t> pixels;
  std::string usage;
};
std::vector<CsvRow> parse_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<CsvRow> rows;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string label, pixels, usage;
    std::getline(ss, label, ',');
    std::getline(ss, pixels, ',');
    std::getline(ss, usage, ',');
    CsvRow r{std::stoi(label), {}, usage};
    std::stringstream ps(pixels);
    for (int v; ps >> v;) r.pixels.push_back(static_cast<uint8_t>(v));
    rows.push_back(r);
  }
  return rows;
}

const std::map<std::string, std::string> kUsageSplit = {
    {"Training", "train"}, {"PublicTest", "validation"}, {"PrivateTest", "test"}};

}  // namespace

TEST(Prep, FolderRoundTripEveryPixelEqualsTheDecodedSource) {
  TempDir tmp;
  SynthOptions s;
  s.out = tmp / "raw";
  s.per_class = 3;
  s.splits = {{"train", 3}, {"test", 2}};
  s.seed = 5;
  s.threads = 2;
  ASSERT_EQ(synthesize_faces(s), 7 * 5);
  // One split as JPEG too: the round trip compares against our own decode of each file.
  SynthOptions j = s;
  j.out = tmp / "raw_jpg";
  j.splits = {{"train", 2}};
  j.format = "jpg";
  synthesize_faces(j);
  for (const std::string raw : {"raw", "raw_jpg"}) {
    auto o = quick_options(tmp / raw, tmp / (raw + "_out"));
    o.samples_per_shard = 4;  // several shards, the last one short
    auto summary = run_prep(o, prep_config());
    for (const auto& [split, n] : (raw == "raw" ? s.splits : j.splits)) {
      ShardDataset ds(tmp / (raw + "_out"), split, /*verify_sha256=*/true);
      ASSERT_EQ(ds.size(), 7 * n);
      EXPECT_EQ(summary.shard_counts[split], (7 * n + 3) / 4);
      auto batch = read_all(ds);
      // Documented order: by label, then file name.
      int64_t i = 0;
      for (int label = 0; label < 7; ++label) {
        std::vector<std::string> files;
        for (auto& e : stdfs::directory_iterator(stdfs::path(tmp / raw) / split / kEmotionNames[label])) {
          files.push_back(e.path().string());
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
          const auto decoded = decode_image(f);
          EXPECT_EQ(batch.labels[i].item<int64_t>(), label);
          ASSERT_EQ(image_of(batch, i), decoded.pixels) << f;
          ++i;
        }
      }
      EXPECT_EQ(i, ds.size());
    }
  }
}

TEST(Prep, SharedSubsetCsvMatchesAnIndependentParse) {
  const std::string csv = shared_dir() + "/data/fer2013/fer2013_subset.csv";
  if (!stdfs::exists(csv)) GTEST_SKIP() << csv << " is absent";
  TempDir tmp;
  auto o = quick_options(csv, tmp / "out");
  o.shards = 3;
  auto summary = run_prep(o, prep_config());
  const auto rows = parse_csv(csv);
  ASSERT_EQ(rows.size(), 980u);
  std::map<std::string, std::vector<const CsvRow*>> by_split;
  for (const auto& r : rows) by_split[kUsageSplit.at(r.usage)].push_back(&r);
  EXPECT_EQ(summary.class_counts["train"], std::vector<int64_t>(7, 100));
  EXPECT_EQ(summary.class_counts["validation"], std::vector<int64_t>(7, 20));
  EXPECT_EQ(summary.class_counts["test"], std::vector<int64_t>(7, 20));
  for (const auto& [split, expected] : by_split) {
    ShardDataset ds(tmp / "out", split);
    ASSERT_EQ(ds.size(), static_cast<int64_t>(expected.size()));
    EXPECT_EQ(ds.manifest().splits.at(split).size(), 3u);
    auto batch = read_all(ds);
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(batch.labels[i].item<int64_t>(), expected[i]->label);
      ASSERT_EQ(image_of(batch, i), expected[i]->pixels) << split << " row " << i;
    }
  }
}

TEST(Prep, SharedHeadCsvGoesThroughTheCsvPath) {
  const std::string csv = shared_dir() + "/data/fer2013/fer2013_head.csv";
  if (!stdfs::exists(csv)) GTEST_SKIP() << csv << " is absent";
  TempDir tmp;
  run_prep(quick_options(csv, tmp / "out"), prep_config());
  const auto rows = parse_csv(csv);
  ShardDataset ds(tmp / "out", "train");
  ASSERT_EQ(ds.size(), static_cast<int64_t>(rows.size()));
  auto batch = read_all(ds);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(batch.labels[i].item<int64_t>(), rows[i].label);
    EXPECT_EQ(image_of(batch, i), rows[i].pixels);
  }
  EXPECT_EQ(ds.height(), 48);
  EXPECT_EQ(ds.width(), 48);
  EXPECT_EQ(ds.channels(), 1);
}

TEST(Prep, CsvAndPngFoldersOfTheSameRowsAgreeExactly) {
  const std::string csv = shared_dir() + "/data/fer2013/fer2013_subset.csv";
  if (!stdfs::exists(csv)) GTEST_SKIP() << csv << " is absent";
  TempDir tmp;
  const auto rows = parse_csv(csv);
  // Two rows per class and split, written both as a small CSV and as PNG folders.
  std::vector<std::string> lines;
  std::map<std::string, int> taken;
  int n = 0;
  for (const auto& r : rows) {
    const std::string split = kUsageSplit.at(r.usage);
    if (taken[split + std::to_string(r.label)]++ >= 2) continue;
    lines.push_back(csv_row(r.label, r.pixels, r.usage));
    char name[32];
    std::snprintf(name, sizeof(name), "row_%04d.png", n++);
    write_folder_png(tmp / "folders", split, kEmotionNames[r.label], name, r.pixels);
  }
  write_csv(tmp / "small.csv", lines);
  run_prep(quick_options(tmp / "small.csv", tmp / "from_csv"), prep_config());
  run_prep(quick_options(tmp / "folders", tmp / "from_folders"), prep_config());
  for (const std::string split : {"train", "validation", "test"}) {
    ShardDataset a(tmp / "from_csv", split), b(tmp / "from_folders", split);
    ASSERT_EQ(a.size(), 14);
    ASSERT_EQ(b.size(), 14);
    auto ba = read_all(a), bb = read_all(b);
    // The CSV keeps file order; folders sort by label then name. Both list each class's rows in file order.
    std::multiset<std::pair<int64_t, std::vector<uint8_t>>> sa, sb;
    for (int64_t i = 0; i < 14; ++i) {
      sa.insert({ba.labels[i].item<int64_t>(), image_of(ba, i)});
      sb.insert({bb.labels[i].item<int64_t>(), image_of(bb, i)});
    }
    EXPECT_EQ(sa, sb);
    EXPECT_TRUE(torch::equal(std::get<0>(ba.labels.sort()), std::get<0>(bb.labels.sort())));
  }
}

TEST(Prep, ManifestRecordsShardsCaptionsAndFlags) {
  TempDir tmp;
  std::vector<std::string> rows;
  for (int i = 0; i < 30; ++i)
    rows.push_back(csv_row(i % 7, test_pixels(i), i < 20 ? "Training" : "PublicTest"));
  write_csv(tmp / "in.csv", rows);
  auto config = prep_config({"captions.templates=[\"a {} face\", \"someone {}\", \"very {}\"]", "seed=9"});
  auto o = quick_options(tmp / "in.csv", tmp / "out");
  o.samples_per_shard = 8;
  run_prep(o, config);
  const auto m = read_manifest(tmp / "out");
  ASSERT_EQ(m.captions.size(), 21u);
  EXPECT_EQ(m.captions[0], "a angry face");
  EXPECT_EQ(m.captions[4], "someone disgusted");
  EXPECT_EQ(m.caption_labels[4], 1);
  EXPECT_TRUE(m.random_embeddings);
  EXPECT_EQ(m.clip_model, "random");
  EXPECT_EQ(m.embed_dim, 16);
  EXPECT_EQ(m.splits.at("train").size(), 3u);  // 20 samples / 8 per shard
  EXPECT_EQ(m.splits.at("train")[2].samples, 4);
  EXPECT_EQ(m.splits.at("validation").size(), 2u);
  ShardDataset ds(tmp / "out", "train");
  auto batch = read_all(ds);
  std::set<int64_t> choices;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const int64_t c = batch.captions[i].item<int64_t>();
    EXPECT_EQ(m.caption_labels[c], batch.labels[i].item<int64_t>());  // the caption belongs to the label
    EXPECT_EQ(c, batch.labels[i].item<int64_t>() * 3 + caption_choice(9, "train", i, 3));
    choices.insert(c % 3);
  }
  EXPECT_EQ(choices.size(), 3u);  // all templates in use
  EXPECT_EQ(ds.caption_embeddings().sizes(), (std::vector<int64_t>{21, 16}));
  EXPECT_TRUE(torch::equal(ds.caption_embeddings(), random_caption_embeddings(21, 16, 9)));
  // max_samples keeps N samples evenly spaced over the split, across shard boundaries, so that a quick run on
  // folder input (sorted by emotion) still sees every emotion.
  ShardDataset subset(tmp / "out", "train", false, 10);
  ASSERT_EQ(subset.size(), 10);
  std::vector<int64_t> all(10), stored(10);
  for (int64_t k = 0; k < 10; ++k) all[k] = k, stored[k] = k * ds.size() / 10;
  auto picked = subset.get_batch(all), expected = ds.get_batch(stored);
  EXPECT_TRUE(torch::equal(picked.images, expected.images));
  EXPECT_TRUE(torch::equal(picked.labels, expected.labels));
  EXPECT_TRUE(torch::equal(picked.captions, expected.captions));
  EXPECT_EQ(
      std::set<int64_t>(picked.labels.data_ptr<int64_t>(), picked.labels.data_ptr<int64_t>() + 10).size(),
      7u);
}

// ---------------- bad input ----------------

TEST(PrepBadInput, MissingInputPath) {
  TempDir tmp;
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "nope", tmp / "out"), prep_config()), "nope",
                   "does not exist");
  EXPECT_FALSE(stdfs::exists(tmp / "out"));
}

TEST(PrepBadInput, UnreadableImageNamesTheFileAndSkipBadReportsIt) {
  TempDir tmp;
  for (int l = 0; l < 7; ++l)
    write_folder_png(tmp / "raw", "train", kEmotionNames[l], "a.png", test_pixels(l));
  write_text(tmp / "raw/train/happy/broken.png", "not a png at all");
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "raw", tmp / "out"), prep_config()), "broken.png",
                   "--skip-bad");
  EXPECT_FALSE(stdfs::exists(tmp / "out/manifest.json"));
  auto o = quick_options(tmp / "raw", tmp / "out");
  o.skip_bad = true;
  auto summary = run_prep(o, prep_config());
  EXPECT_EQ(summary.bad_skipped, 1);
  ASSERT_EQ(summary.bad_messages.size(), 1u);
  EXPECT_NE(summary.bad_messages[0].find("broken.png"), std::string::npos);
  EXPECT_EQ(summary.samples, 7);
  EXPECT_EQ(ShardDataset(tmp / "out", "train").size(), 7);
}

TEST(PrepBadInput, WrongSizeImage) {
  TempDir tmp;
  for (int l = 0; l < 7; ++l)
    write_folder_png(tmp / "raw", "train", kEmotionNames[l], "a.png", test_pixels(l));
  write_folder_png(tmp / "raw", "train", "sad", "small.png", test_pixels(1, 32), 32);
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "raw", tmp / "out"), prep_config()), "small.png", "32x32",
                   "wrong size");
}

TEST(PrepBadInput, UnknownEmotionFolderAndEmptyClassFolder) {
  TempDir tmp;
  for (int l = 0; l < 7; ++l)
    write_folder_png(tmp / "raw", "train", std::to_string(l), "a.png", test_pixels(l));
  stdfs::create_directories(tmp / "raw/train/bored");
  write_folder_png(tmp / "raw", "train", "bored", "x.png", test_pixels(99));
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "raw", tmp / "out"), prep_config()), "bored",
                   "not an emotion");
  stdfs::remove_all(tmp / "raw/train/bored");
  // Label-number folders (0..6) are fine.
  EXPECT_EQ(run_prep(quick_options(tmp / "raw", tmp / "out"), prep_config()).samples, 7);
  stdfs::create_directories(tmp / "raw/test/Happy");
  write_folder_png(tmp / "raw", "test", "ANGRY", "a.png", test_pixels(5));
  auto o = quick_options(tmp / "raw", tmp / "out2");
  EXPECT_ERROR_HAS(run_prep(o, prep_config()), "Happy", "empty class");
}

TEST(PrepBadInput, CsvWrongPixelCountNamesTheLine) {
  TempDir tmp;
  auto short_row = test_pixels(2);
  short_row.pop_back();
  write_csv(tmp / "in.csv", {csv_row(0, test_pixels(1), "Training"), csv_row(1, short_row, "Training")});
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "in.csv", tmp / "out"), prep_config()),
                   "in.csv:3:", "2303 pixel values", "2304");
}

TEST(PrepBadInput, CsvNonNumericPixel) {
  TempDir tmp;
  std::string row = csv_row(0, test_pixels(1), "Training");
  row.replace(row.find(' ') + 1, 0, "x");
  write_csv(tmp / "in.csv", {csv_row(3, test_pixels(0), "Training"), row});
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "in.csv", tmp / "out"), prep_config()),
                   "in.csv:3:", "pixel 1", "0..255");
}

TEST(PrepBadInput, CsvUnknownLabelAndUsage) {
  TempDir tmp;
  write_csv(tmp / "a.csv", {csv_row(0, test_pixels(1), "Training"), csv_row(9, test_pixels(2), "Training")});
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "a.csv", tmp / "out"), prep_config()),
                   "a.csv:3:", "unknown emotion label '9'");
  write_csv(tmp / "b.csv", {csv_row(0, test_pixels(1), "Training"), csv_row(1, test_pixels(2), "Holdout")});
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "b.csv", tmp / "out"), prep_config()),
                   "b.csv:3:", "unknown Usage 'Holdout'");
  write_text(tmp / "c.csv", "label,pixels\n0,1 2 3\n");
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "c.csv", tmp / "out"), prep_config()), "c.csv:1:", "header");
}

// RFC 4180 as spreadsheet tools write fer2013.csv: quoted fields (only the pixels, or every field), a quoted
// header, CRLF line ends, and a line break inside a quoted field. The samples must equal those of the plain
// file, row for row.
TEST(Prep, CsvWithRfc4180QuotingGivesTheSameSamples) {
  TempDir tmp;
  std::vector<std::string> plain;
  std::string quoted = "\"emotion\",\"pixels\",\"Usage\"\r\n";
  for (int i = 0; i < 7; ++i) {
    const auto pixels = test_pixels(40 + i);
    plain.push_back(csv_row(i, pixels, "Training"));
    std::string p;
    for (size_t k = 0; k < pixels.size(); ++k) {
      // Row 2's pixel field holds a CRLF line break (RFC 4180 allows it inside quotes).
      p += (k == 0 ? "" : (i == 2 && k == 1000) ? "\r\n" : " ") + std::to_string(pixels[k]);
    }
    const std::string label = std::to_string(i);
    if (i % 2 == 0) {
      quoted += label + ",\"" + p + "\",Training\r\n";  // only the pixels quoted (LibreOffice, Excel)
    } else {
      quoted += "\"" + label + "\",\"" + p + "\",\"Training\"\r\n";  // every field quoted
    }
  }
  write_csv(tmp / "plain.csv", plain);
  write_text(tmp / "quoted.csv", quoted);
  run_prep(quick_options(tmp / "plain.csv", tmp / "from_plain"), prep_config());
  const auto summary = run_prep(quick_options(tmp / "quoted.csv", tmp / "from_quoted"), prep_config());
  EXPECT_EQ(summary.samples, 7);
  EXPECT_EQ(summary.bad_skipped, 0);
  ShardDataset a(tmp / "from_plain", "train"), b(tmp / "from_quoted", "train");
  ASSERT_EQ(a.size(), 7);
  ASSERT_EQ(b.size(), 7);
  const auto ba = read_all(a), bb = read_all(b);
  EXPECT_TRUE(torch::equal(ba.images, bb.images));
  EXPECT_TRUE(torch::equal(ba.labels, bb.labels));
}

// Quoting decides what a field is: a comma inside quotes belongs to the field, a doubled quote is one quote
// character, and line numbers count the physical lines, also those inside a quoted field.
TEST(PrepBadInput, CsvQuotedFieldsAreParsedAsRfc4180Says) {
  TempDir tmp;
  std::string pixels;
  for (int k = 0; k < 48 * 48; ++k) pixels += (k ? " " : "") + std::to_string(k % 256);
  write_text(tmp / "comma.csv",
             "emotion,pixels,Usage\n0,\"" + pixels + "\",Training\n1,\"7 8,9\",Training\n");
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "comma.csv", tmp / "out"), prep_config()),
                   "comma.csv:3:", "pixel 1 is '8,9'");
  write_text(tmp / "doubled.csv",
             "emotion,pixels,Usage\n0,\"" + pixels + "\",Training\n1,\"" + pixels + "\",\"Train\"\"ing\"\n");
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "doubled.csv", tmp / "out"), prep_config()),
                   "doubled.csv:3:", "unknown Usage 'Train\"ing'");
  std::string split_pixels = pixels;
  split_pixels[split_pixels.find(' ')] = '\n';
  write_text(tmp / "lines.csv", "emotion,pixels,Usage\r\n0,\"" + split_pixels + "\",Training\r\n9,\"" +
                                    pixels + "\",Training\r\n");
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "lines.csv", tmp / "out"), prep_config()),
                   "lines.csv:4:", "unknown emotion label '9'");
  // A quote that is never closed would swallow the rest of the file: an error naming where it opened.
  write_text(tmp / "open.csv", "emotion,pixels,Usage\n0,\"" + pixels + "\",Training\n1,\"1 2 3,Training\n" +
                                   "2,\"" + pixels + "\",Training\n");
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "open.csv", tmp / "out"), prep_config()),
                   "open.csv:3:", "quot");
}

// An input whose every row is bad names the first bad row and what is wrong with it, instead of saying that
// it holds no samples.
TEST(PrepBadInput, CsvWithOnlyBadRowsNamesTheFirstOne) {
  TempDir tmp;
  write_csv(tmp / "usage.csv",
            {csv_row(0, test_pixels(1), "Holdout"), csv_row(1, test_pixels(2), "Holdout")});
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "usage.csv", tmp / "out"), prep_config()),
                   "usage.csv:2:", "unknown Usage 'Holdout'");
  write_text(tmp / "fields.csv", "emotion,pixels,Usage\n0,1 2 3\n");
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "fields.csv", tmp / "out"), prep_config()),
                   "fields.csv:2:", "expected 3 fields");
  auto o = quick_options(tmp / "usage.csv", tmp / "out");
  o.skip_bad = true;  // nothing left to skip to
  EXPECT_ERROR_HAS(run_prep(o, prep_config()), "usage.csv:2:", "unknown Usage 'Holdout'");
  write_csv(tmp / "empty.csv", {});
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "empty.csv", tmp / "out"), prep_config()), "empty.csv",
                   "holds no samples");
}

TEST(PrepBadInput, SkipBadSkipsBadCsvRowsAndCountsThem) {
  TempDir tmp;
  auto short_row = test_pixels(2);
  short_row.resize(100);
  write_csv(tmp / "in.csv", {csv_row(0, test_pixels(1), "Training"), csv_row(1, short_row, "Training"),
                             csv_row(8, test_pixels(3), "Training"), csv_row(2, test_pixels(4), "Training")});
  auto o = quick_options(tmp / "in.csv", tmp / "out");
  o.skip_bad = true;
  auto summary = run_prep(o, prep_config());
  EXPECT_EQ(summary.bad_skipped, 2);
  EXPECT_EQ(summary.samples, 2);
  ShardDataset ds(tmp / "out", "train");
  auto b = read_all(ds);
  EXPECT_EQ(image_of(b, 1), test_pixels(4));
  nlohmann::json m = nlohmann::json::parse(fs::read_file(tmp / "out/manifest.json"));
  EXPECT_EQ(m["bad_skipped"], 2);
}

TEST(PrepBadInput, EmptySplit) {
  TempDir tmp;
  write_csv(tmp / "in.csv", {csv_row(0, test_pixels(1), "Training")});
  auto o = quick_options(tmp / "in.csv", tmp / "out");
  o.splits = {"train", "validation"};
  EXPECT_ERROR_HAS(run_prep(o, prep_config()), "validation", "empty split");
  // A split whose every row is bad is empty too, even with --skip-bad.
  auto bad = test_pixels(1);
  bad.resize(10);
  write_csv(tmp / "in2.csv", {csv_row(0, test_pixels(1), "Training"), csv_row(0, bad, "PublicTest")});
  auto o2 = quick_options(tmp / "in2.csv", tmp / "out");
  o2.skip_bad = true;
  EXPECT_ERROR_HAS(run_prep(o2, prep_config()), "validation", "empty split");
  write_csv(tmp / "none.csv", {});
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "none.csv", tmp / "out"), prep_config()), "no samples");
  EXPECT_FALSE(stdfs::exists(tmp / "out"));
}

TEST(PrepBadInput, ExistingOutputIsRefusedAndOverwriteKeepsTheOldOneUntilDone) {
  TempDir tmp;
  write_csv(tmp / "a.csv", {csv_row(0, test_pixels(1), "Training"), csv_row(1, test_pixels(2), "Training")});
  run_prep(quick_options(tmp / "a.csv", tmp / "out"), prep_config());
  const std::string before = fs::read_file(tmp / "out/manifest.json");
  EXPECT_ERROR_HAS(run_prep(quick_options(tmp / "a.csv", tmp / "out"), prep_config()), "already holds shards",
                   "--overwrite");
  // A failing overwrite leaves the old dataset exactly as it was, and no staging directory behind.
  write_csv(tmp / "bad.csv", {csv_row(0, test_pixels(7), "Training"), "3,1 2 3,Training"});
  auto o = quick_options(tmp / "bad.csv", tmp / "out");
  o.overwrite = true;
  EXPECT_ERROR_HAS(run_prep(o, prep_config()), "bad.csv:3:");
  EXPECT_EQ(fs::read_file(tmp / "out/manifest.json"), before);
  EXPECT_EQ(ShardDataset(tmp / "out", "train", true).size(), 2);
  EXPECT_FALSE(stdfs::exists(tmp / "out.tmp-dir"));
  // A good overwrite replaces it.
  write_csv(tmp / "b.csv", {csv_row(4, test_pixels(8), "Training")});
  auto ok = quick_options(tmp / "b.csv", tmp / "out");
  ok.overwrite = true;
  run_prep(ok, prep_config());
  ShardDataset ds(tmp / "out", "train", true);
  EXPECT_EQ(ds.size(), 1);
  EXPECT_EQ(image_of(ds.get_batch({0}), 0), test_pixels(8));
  EXPECT_FALSE(stdfs::exists(tmp / "out.old-dir"));
}

TEST(PrepBadInput, FailedRunLeavesNoManifestNorTempShards) {
  TempDir tmp;
  std::vector<std::string> rows;
  for (int i = 0; i < 40; ++i) rows.push_back(csv_row(i % 7, test_pixels(i), "Training"));
  rows.push_back("2,oops,Training");  // fails after shards were already written
  write_csv(tmp / "in.csv", rows);
  auto o = quick_options(tmp / "in.csv", tmp / "out");
  o.samples_per_shard = 10;
  EXPECT_ERROR_HAS(run_prep(o, prep_config()), "in.csv:42:");
  EXPECT_FALSE(stdfs::exists(tmp / "out/manifest.json"));
  EXPECT_FALSE(stdfs::exists(tmp / "out.tmp-dir"));
  EXPECT_ERROR_HAS(read_manifest(tmp / "out"), "out");
}

TEST(PrepBadInput, NoEmbeddingsSourceListsTheThreeOptions) {
  TempDir tmp;
  write_csv(tmp / "in.csv", {csv_row(0, test_pixels(1), "Training")});
  auto o = quick_options(tmp / "in.csv", tmp / "out");
  o.random_embeddings = false;
  EXPECT_ERROR_HAS(run_prep(o, prep_config()), "--embeddings FILE", "--clip-weights", "--random-embeddings");
  o.random_embeddings = true;
  o.embeddings_file = tmp / "e.npy";
  EXPECT_ERROR_HAS(run_prep(o, prep_config()), "choose one");
}

TEST(Synth, DeterministicAndEmotionDependent) {
  EXPECT_EQ(draw_face(3, 42), draw_face(3, 42));
  EXPECT_NE(draw_face(3, 42), draw_face(3, 43));
  // Same seed (same pose and lighting draw), different emotion: the drawn features differ.
  const auto happy = draw_face(3, 42), sad = draw_face(4, 42);
  int differing = 0;
  for (size_t i = 0; i < happy.size(); ++i) differing += std::abs(happy[i] - sad[i]) > 30;
  EXPECT_GT(differing, 20);
}
