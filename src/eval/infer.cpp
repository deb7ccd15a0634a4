// fergan_infer's modes (see infer.h).
#include "fergan/eval/infer.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <optional>
#include <sstream>

#include "fergan/core/check.h"
#include "fergan/core/config.h"
#include "fergan/core/fsutil.h"
#include "fergan/core/runtime.h"
#include "fergan/data/image_grid.h"
#include "fergan/data/image_io.h"
#include "fergan/data/image_tensor.h"
#include "fergan/eval/checkpoint_models.h"
#include "fergan/eval/clip_features.h"
#include "fergan/eval/metrics.h"
#include "fergan/eval/round_trip.h"
#include "fergan/eval/split_data.h"

namespace fergan::eval {
namespace stdfs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int64_t kColumns = 8;

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string slug(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.substr(0, 60);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string shards_of(const InferOptions& o, const Config& config) {
  return o.shards.empty() ? config.data.shards : o.shards;
}

// Images to run through the Img2Text generator: a folder (labels from emotion-named parent folders) or a
// split.
struct Sources {
  torch::Tensor images;  // float [N, 3, 64, 64] in [-1, 1]
  std::vector<std::string> names;
  std::vector<int64_t> labels;  // -1 = unknown
};

Sources read_sources(const InferOptions& o, const std::string& shards,
                     const std::vector<std::string>& emotion_names, int64_t limit) {
  Sources s;
  if (!o.images_dir.empty()) {
    FG_CHECK(stdfs::is_directory(o.images_dir), "image folder '", o.images_dir, "' does not exist");
    std::vector<stdfs::path> files;
    for (const auto& entry : stdfs::recursive_directory_iterator(o.images_dir)) {
      if (!entry.is_regular_file()) continue;
      auto ext = entry.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
      if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    FG_CHECK(!files.empty(), "image folder '", o.images_dir, "' holds no .png/.jpg/.jpeg files");
    if (limit > 0 && static_cast<int64_t>(files.size()) > limit) files.resize(static_cast<size_t>(limit));
    std::vector<torch::Tensor> images;
    for (const auto& f : files) {
      auto img = data::decode_image(f.string());
      auto u8 = torch::from_blob(img.pixels.data(), {1, img.height, img.width, 1}, torch::kUInt8).clone();
      images.push_back(data::to_model_input(u8, 64));
      s.names.push_back(f.string());
      const auto parent = f.parent_path().filename().string();
      auto it = std::find(emotion_names.begin(), emotion_names.end(), parent);
      s.labels.push_back(it == emotion_names.end() ? -1 : static_cast<int64_t>(it - emotion_names.begin()));
    }
    s.images = torch::cat(images);
    return s;
  }
  const SplitData split = load_split(shards, o.split, limit);
  s.images = split.model_input(64);
  for (int64_t i = 0; i < split.size(); ++i) {
    s.names.push_back(str(o.split, "#", i));
    s.labels.push_back(split.labels[i].item<int64_t>());
  }
  return s;
}

// The captions fergan_infer text2img renders: the text, its grid row label and its embedding.
struct Captions {
  std::vector<std::string> texts, row_names;
  std::vector<std::string> folders;  // --per-image: the emotion's FER2013 folder name (a slug without one)
  torch::Tensor embeddings;   // [C, D]
  std::string embedded_with;  // the CLIP model id, or the shard caption table
};

// --emotion and --caption (every emotion when neither is given), embedded by CLIP with --clip-weights or
// looked up in the shards' caption table.
Captions resolve_captions(const InferOptions& o, const LoadedText2Img& model, torch::Device device) {
  Captions out;
  auto& texts = out.texts;
  auto& row_names = out.row_names;
  std::vector<torch::Tensor> embeddings;
  const bool use_clip = !o.clip_weights.empty();
  std::optional<SplitData> table;
  auto caption_table = [&]() -> const SplitData& {
    if (!table) table = load_split(shards_of(o, model.config), o.split, /*max_samples=*/1);
    return *table;
  };
  std::vector<std::string> emotions = o.emotions;
  if (o.captions.empty() && emotions.empty()) {
    for (int k = 0; k < kNumEmotions; ++k) emotions.push_back(kEmotionNames[k]);
  }
  std::optional<ClipFeatures> clip;
  if (use_clip) {
    FG_CHECK(!o.clip_vocab.empty(), "--clip-weights needs --clip-vocab");
    clip = load_clip_features(o.clip_weights, o.clip_vocab, device, o.batch_size);
  }
  for (const auto& e : emotions) {
    auto it = std::find(kEmotionNames, kEmotionNames + kNumEmotions, e);
    FG_CHECK(it != kEmotionNames + kNumEmotions, "unknown emotion '", e,
             "' (expected one of angry, disgust, fear, happy, sad, surprise, neutral)");
    const int label = static_cast<int>(it - kEmotionNames);
    if (use_clip) {
      texts.push_back(captions_for_label(model.config.captions, label).front());
    } else {
      const auto& t = caption_table();
      const auto first = t.first_caption_of_label();
      FG_CHECK(label < static_cast<int>(first.size()) && first[label] >= 0, "the caption table of '",
               t.shards, "' has no caption for emotion '", e, "'");
      texts.push_back(t.caption_strings[first[label]]);
      embeddings.push_back(t.caption_embeddings[first[label]]);
    }
    row_names.push_back(upper(e));
    out.folders.push_back(e);
  }
  for (const auto& c : o.captions) {
    texts.push_back(c);
    if (!use_clip) {
      const auto& t = caption_table();
      auto it = std::find(t.caption_strings.begin(), t.caption_strings.end(), c);
      if (it == t.caption_strings.end()) {
        std::string known;
        for (const auto& s : t.caption_strings) known += "\n  " + s;
        fail(str("caption '", c, "' is not in the caption table of '", t.shards,
                 "' and no --clip-weights were given to embed it; known captions:", known));
      }
      const auto idx = it - t.caption_strings.begin();
      embeddings.push_back(t.caption_embeddings[idx]);
      const auto& emotion = t.emotion_names[t.caption_labels[idx].item<int64_t>()];
      row_names.push_back(upper(emotion));
      out.folders.push_back(emotion);
    } else {
      row_names.push_back(upper(c.size() > 28 ? c.substr(0, 26) + ".." : c));
      out.folders.push_back(slug(c));
    }
  }
  out.embeddings = use_clip ? clip->encode_text(texts) : torch::stack(embeddings);
  out.embedded_with = use_clip ? clip->model_id : std::string("shard caption table");
  return out;
}

}  // namespace

void run_text2img(const InferOptions& o) {
  const auto device = runtime::select_device(o.device);
  const auto path = resolve_generator_checkpoint(o.checkpoint, o.run_dir, "text2img");
  FG_CHECK(path, "no text2img generator checkpoint found for '", o.checkpoint, "'");
  auto model = load_text2img_generator(*path, device, o.weights == "average", o.truncation);
  FG_CHECK(o.samples > 0, "--samples must be positive");
  fs::ensure_writable_dir(o.out);
  const Captions captions = resolve_captions(o, model, device);
  const auto& texts = captions.texts;
  const auto& row_names = captions.row_names;
  const torch::Tensor& table_emb = captions.embeddings;
  FG_CHECK(table_emb.size(1) == model.generator->options.latent_dim, "caption embeddings are ",
           table_emb.size(1), "-d but the generator of '", *path, "' takes ",
           model.generator->options.latent_dim, "-d");

  const int64_t n = o.samples, preview = std::min<int64_t>(n, kColumns);
  std::vector<torch::Tensor> preview_rows;
  json listing = json::array();
  std::map<std::string, int64_t> written;  // --per-image: files per folder so far
  for (size_t i = 0; i < texts.size(); ++i) {
    auto emb = table_emb[static_cast<int64_t>(i)].unsqueeze(0).expand({n, table_emb.size(1)});
    auto images = data::to_uint8_nhwc(generate_images(model, emb, o.batch_size, o.seed + i));
    if (o.per_image) {
      // Native resolution and channels (FER2013's layout: grayscale PNGs in emotion folders), for tools
      // that score folders of images.
      const auto native = model.generator->options.channels == 1 ? images.narrow(3, 0, 1) : images;
      const auto dir = stdfs::path(o.out) / captions.folders[i];
      fs::ensure_writable_dir(dir.string());
      for (int64_t k = 0; k < n; ++k)
        data::write_png((dir / fmt::format("{:05d}.png", written[captions.folders[i]]++)).string(),
                        native[k].contiguous());
    }
    const int64_t rows = (n + kColumns - 1) / kColumns;
    const auto file = (stdfs::path(o.out) / (slug(texts[i]) + ".png")).string();
    data::write_png(
        file, data::labeled_grid(images, kColumns, std::vector<std::string>(rows, row_names[i]), texts[i]));
    preview_rows.push_back(images.slice(0, 0, preview));
    listing.push_back({{"caption", texts[i]},
                       {"label", row_names[i]},
                       {"samples", n},
                       {"grid", file},
                       {"folder", o.per_image ? json((stdfs::path(o.out) / captions.folders[i]).string())
                                              : json(nullptr)}});
    spdlog::info("{}: {} samples -> {}", texts[i], n, file);
  }
  const auto overview = (stdfs::path(o.out) / "samples.png").string();
  data::write_png(overview, data::labeled_grid(torch::cat(preview_rows), preview, row_names));
  fs::write_file_atomically((stdfs::path(o.out) / "samples.json").string(),
                            json{{"checkpoint", *path},
                                 {"weights", model.weight_average ? "average" : "trained"},
                                 {"truncation", model.truncation},
                                 {"captions", listing},
                                 {"overview", overview},
                                 {"embedded_with", captions.embedded_with}}
                                    .dump(2) +
                                "\n");
  spdlog::info("overview -> {}", overview);
}

void run_img2text(const InferOptions& o) {
  const auto device = runtime::select_device(o.device);
  const auto path = resolve_generator_checkpoint(o.checkpoint, o.run_dir, "img2text");
  FG_CHECK(path, "no img2text generator checkpoint found for '", o.checkpoint, "'");
  auto model = load_img2text_generator(*path, device, o.weights == "average");
  fs::ensure_writable_dir(o.out);
  const std::string shards = shards_of(o, model.config);

  // The caption table the generator was trained against (the shards'), or CLIP-encoded config captions.
  std::vector<std::string> caption_strings, emotion_names(kEmotionNames, kEmotionNames + kNumEmotions);
  torch::Tensor caption_emb, caption_labels;
  if (!o.clip_weights.empty()) {
    FG_CHECK(!o.clip_vocab.empty(), "--clip-weights needs --clip-vocab");
    auto clip = load_clip_features(o.clip_weights, o.clip_vocab, device, o.batch_size);
    std::vector<int64_t> labels;
    for (int k = 0; k < kNumEmotions; ++k) {
      for (const auto& c : captions_for_label(model.config.captions, k))
        caption_strings.push_back(c), labels.push_back(k);
    }
    caption_emb = clip.encode_text(caption_strings);
    caption_labels = torch::tensor(labels, torch::kLong);
  } else {
    const SplitData t = load_split(shards, o.split, 1);
    caption_strings = t.caption_strings;
    caption_emb = t.caption_embeddings;
    caption_labels = t.caption_labels;
    emotion_names = t.emotion_names;
  }
  const int64_t classes = static_cast<int64_t>(emotion_names.size());
  const Sources src = read_sources(o, shards, emotion_names, o.max_samples);
  auto predictions = predict_embeddings(model, src.images, o.batch_size);
  // Labels unknown for some images: score against label 0 / caption 0 and report accuracy only over known
  // ones.
  std::vector<int64_t> known_labels;
  for (auto l : src.labels) known_labels.push_back(std::max<int64_t>(l, 0));
  auto r =
      emotion_retrieval(predictions, caption_emb, caption_labels, torch::tensor(known_labels, torch::kLong),
                        torch::zeros({src.images.size(0)}, torch::kLong), classes);
  // Per emotion: the best cosine among that emotion's captions.
  auto per_emotion = torch::full({src.images.size(0), classes}, -2.0f);
  for (int64_t c = 0; c < caption_labels.numel(); ++c) {
    const int64_t k = caption_labels[c].item<int64_t>();
    per_emotion.select(1, k).copy_(torch::max(per_emotion.select(1, k), r.similarities.select(1, c)));
  }
  std::ostringstream csv;
  csv << "source,true_emotion,predicted_emotion,predicted_caption";
  for (const auto& e : emotion_names) csv << ",cos_" << e;
  csv << "\n";
  json rows = json::array();
  int64_t known = 0, correct = 0;
  for (int64_t i = 0; i < src.images.size(0); ++i) {
    const int64_t pred = r.predicted_label[i].item<int64_t>();
    const std::string truth = src.labels[i] >= 0 ? emotion_names[src.labels[i]] : "";
    const std::string caption = caption_strings[r.predicted_caption[i].item<int64_t>()];
    csv << csv_field(src.names[i]) << "," << truth << "," << emotion_names[pred] << "," << csv_field(caption);
    json scores = json::object();
    for (int64_t k = 0; k < classes; ++k) {
      const double v = per_emotion[i][k].item<double>();
      csv << "," << std::fixed << std::setprecision(5) << v;
      scores[emotion_names[k]] = v;
    }
    csv << "\n";
    rows.push_back({{"source", src.names[i]},
                    {"true_emotion", truth.empty() ? json(nullptr) : json(truth)},
                    {"predicted_emotion", emotion_names[pred]},
                    {"predicted_caption", caption},
                    {"scores", scores}});
    if (src.labels[i] >= 0) ++known, correct += (pred == src.labels[i]);
  }
  fs::write_file_atomically((stdfs::path(o.out) / "predictions.csv").string(), csv.str());
  json summary = {{"checkpoint", *path},
                  {"images", src.images.size(0)},
                  {"captions", caption_strings},
                  {"labelled_images", known},
                  {"accuracy", known ? json(static_cast<double>(correct) / known) : json(nullptr)},
                  {"predictions", rows}};
  fs::write_file_atomically((stdfs::path(o.out) / "predictions.json").string(), summary.dump(2) + "\n");
  spdlog::info(
      "{} images -> {}/predictions.csv, predictions.json{}", src.images.size(0), o.out,
      known ? str(" (accuracy ", static_cast<double>(correct) / known, " over ", known, " labelled)") : "");
}

void run_roundtrip(const InferOptions& o) {
  const auto device = runtime::select_device(o.device);
  const auto i2t_path = resolve_generator_checkpoint(o.checkpoint, o.run_dir, "img2text");
  const auto t2i_path = resolve_generator_checkpoint(o.checkpoint, o.run_dir, "text2img");
  FG_CHECK(i2t_path && t2i_path,
           "the round trip needs both generators; found img2text: ", i2t_path ? *i2t_path : "none",
           ", text2img: ", t2i_path ? *t2i_path : "none");
  auto i2t = load_img2text_generator(*i2t_path, device, o.weights == "average");
  auto t2i = load_text2img_generator(*t2i_path, device, o.weights == "average", o.truncation);
  fs::ensure_writable_dir(o.out);
  const std::string shards = shards_of(o, t2i.config);
  const Sources src = read_sources(
      o, shards, std::vector<std::string>(kEmotionNames, kEmotionNames + kNumEmotions), o.samples);
  auto back = round_trip_images(i2t, t2i, src.images, o.batch_size, o.seed);
  const auto file = (stdfs::path(o.out) / "round_trip.png").string();
  data::write_png(file, round_trip_grid(src.images, back, kColumns));
  spdlog::info("{} round trips -> {}", src.images.size(0), file);
}

}  // namespace fergan::eval
