// safetensors reader/writer: round trip of every dtype, byte layout against a hand-built file, and the
// errors for truncated or corrupt files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fergan/core/check.h"
#include "fergan/core/safetensors.h"

namespace {

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("fergan_st_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string expect_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const fergan::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected fergan::Error";
  return "";
}

// A file written by hand following the published format, independent of our writer.
std::string handmade_file() {
  const std::string json =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"I16","shape":[1,1],"data_offsets":[8,10]}})";
  std::string bytes;
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  bytes += json;
  const float a[2] = {1.5f, -2.0f};
  bytes.append(reinterpret_cast<const char*>(a), 8);
  const int16_t b = -7;
  bytes.append(reinterpret_cast<const char*>(&b), 2);
  return bytes;
}

}  // namespace

TEST(Safetensors, RoundTripEveryDtype) {
  torch::manual_seed(0);
  std::map<std::string, torch::Tensor> in = {
      {"f32", torch::randn({3, 4})},
      {"f16", torch::randn({5}).to(torch::kFloat16)},
      {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"f64", torch::randn({1, 2, 3}, torch::kFloat64)},
      {"i64", torch::arange(-5, 5, torch::kInt64)},
      {"i32", torch::arange(0, 7, torch::kInt32)},
      {"i16", torch::tensor({-300, 300}, torch::kInt16)},
      {"i8", torch::tensor({-1, 1}, torch::kInt8)},
      {"u8", torch::tensor({0, 255}, torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(3.25f)},
      {"empty", torch::zeros({0, 4})},
      {"strided", torch::randn({4, 6}).t()},  // non-contiguous: must be written in logical order
  };
  const std::string path = temp_path("roundtrip.safetensors");
  fergan::safetensors::save(path, in, {{"model", "unit-test"}, {"dim", "32"}});
  auto out = fergan::safetensors::load(path);
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [key, t] : in) {
    ASSERT_TRUE(out.count(key)) << key;
    EXPECT_EQ(out[key].scalar_type(), t.scalar_type()) << key;
    EXPECT_EQ(out[key].sizes(), t.sizes()) << key;
    EXPECT_TRUE(torch::equal(out[key], t)) << key;
  }
  auto meta = fergan::safetensors::load_metadata(path);
  EXPECT_EQ(meta.size(), 2u);
  EXPECT_EQ(meta["model"], "unit-test");
  EXPECT_EQ(meta["dim"], "32");
  // Header padded so the data is 8-byte aligned.
  const std::string bytes = slurp(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ((8 + n) % 8, 0u);
}

TEST(Safetensors, ReadsHandmadeFile) {
  const std::string path = temp_path("handmade.safetensors");
  spit(path, handmade_file());
  auto t = fergan::safetensors::load(path);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_TRUE(torch::equal(t["a"], torch::tensor({1.5f, -2.0f})));
  EXPECT_EQ(t["b"].scalar_type(), torch::kInt16);
  EXPECT_EQ(t["b"].sizes(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(t["b"].item<int16_t>(), -7);
  EXPECT_EQ(fergan::safetensors::load_metadata(path).at("format"), "pt");
}

TEST(Safetensors, WriterMatchesHandmadeBytesForData) {
  // Our writer's data section for the same tensors must be the same raw bytes.
  const std::string path = temp_path("written.safetensors");
  fergan::safetensors::save(
      path, {{"a", torch::tensor({1.5f, -2.0f})}, {"b", torch::full({1, 1}, -7, torch::kInt16)}});
  const std::string bytes = slurp(path);
  const std::string hand = handmade_file();
  EXPECT_EQ(bytes.substr(bytes.size() - 10), hand.substr(hand.size() - 10));
}

TEST(Safetensors, TruncatedFileIsAnErrorNamingTheFile) {
  const std::string good = temp_path("good.safetensors");
  fergan::safetensors::save(good, {{"weight", torch::randn({16, 16})}});
  const std::string bytes = slurp(good);
  const std::string cut = temp_path("cut.safetensors");
  spit(cut, bytes.substr(0, bytes.size() - 100));
  auto msg = expect_error([&] { fergan::safetensors::load(cut); });
  EXPECT_NE(msg.find(cut), std::string::npos) << msg;
  EXPECT_NE(msg.find("weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  spit(cut, bytes.substr(0, 5));
  msg = expect_error([&] { fergan::safetensors::load(cut); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  spit(cut, bytes.substr(0, 20));  // header length says more than the file holds
  msg = expect_error([&] { fergan::safetensors::load(cut); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(Safetensors, CorruptHeadersAreErrors) {
  auto file_with_header = [](const std::string& json) {
    std::string bytes;
    uint64_t n = json.size();
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    return bytes + json + std::string(16, '\0');
  };
  const std::string path = temp_path("corrupt.safetensors");
  struct Case {
    std::string json, expect;
  };
  const Case cases[] = {
      {"{not json", "not valid JSON"},
      {R"({"x":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}})", "unsupported dtype"},
      {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "needs 8"},
      {R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", "reversed"},
      {R"({"x":{"dtype":"F32","shape":[1]}})", "data_offsets"},
  };
  for (const auto& c : cases) {
    spit(path, file_with_header(c.json));
    auto msg = expect_error([&] { fergan::safetensors::load(path); });
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.json << " -> " << msg;
  }
  std::string huge(8, '\xff');
  spit(path, huge);
  EXPECT_NE(expect_error([&] { fergan::safetensors::load(path); }).find("implausible"), std::string::npos);
  EXPECT_NE(expect_error([&] { fergan::safetensors::load(temp_path("does_not_exist")); }).find("cannot open"),
            std::string::npos);
}

TEST(Safetensors, ReadsSharedTinyClip) {
  const char* shared = std::getenv("FERGAN_SHARED_DIR");
  const std::string dir = shared ? shared : "../shared";
  auto t = fergan::safetensors::load(dir + "/clip/tiny/io.safetensors");
  ASSERT_TRUE(t.count("tokens"));
  EXPECT_EQ(t["tokens"].sizes(), (std::vector<int64_t>{8, 77}));
  EXPECT_EQ(t["tokens"][0][0].item<float>(), 49406.0f);
}
