// Image decode/encode and sha256: round trips against the source pixels and known digests.
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "fergan/data/image_io.h"
#include "fergan/data/sha256.h"

using namespace fergan::data;
using namespace fergan::data::testing;

TEST(ImageIo, PngRoundTripIsExact) {
  TempDir tmp;
  GrayImage image;
  image.height = 37;
  image.width = 53;
  image.pixels = test_pixels(5, 1);
  image.pixels.resize(37 * 53);
  Rng rng(9);
  for (auto& v : image.pixels) v = static_cast<uint8_t>(rng.below(256));
  write_png_gray(tmp / "a.png", image);
  const auto back = decode_image(tmp / "a.png");
  EXPECT_EQ(back.height, 37);
  EXPECT_EQ(back.width, 53);
  EXPECT_EQ(back.pixels, image.pixels);
}

TEST(ImageIo, WritePngFromTensorAndRgbDecodesToGray) {
  TempDir tmp;
  // Equal R, G, B -> the grey value back exactly.
  auto gray = torch::randint(0, 256, {8, 9, 1}, torch::kUInt8);
  write_png(tmp / "rgb.png", gray.repeat({1, 1, 3}));
  const auto back = decode_image(tmp / "rgb.png");
  ASSERT_EQ(back.height, 8);
  ASSERT_EQ(back.width, 9);
  auto t = torch::from_blob(const_cast<uint8_t*>(back.pixels.data()), {8, 9, 1}, torch::kUInt8);
  EXPECT_LE((t.to(torch::kInt) - gray.to(torch::kInt)).abs().max().item<int>(), 1);
}

TEST(ImageIo, JpegRoundTripWithinQuantisation) {
  TempDir tmp;
  GrayImage image;
  image.height = image.width = 48;
  image.pixels = draw_face(3, 11);
  write_jpeg_gray(tmp / "a.jpg", image, 100);
  const auto back = decode_image(tmp / "a.jpg");
  ASSERT_EQ(back.pixels.size(), image.pixels.size());
  int worst = 0;
  for (size_t i = 0; i < back.pixels.size(); ++i)
    worst = std::max(worst, std::abs(back.pixels[i] - image.pixels[i]));
  EXPECT_LE(worst, 8);  // quality 100: only rounding of the DCT
}

TEST(ImageIo, GarbageAndTruncatedFilesAreErrorsNamingTheFile) {
  TempDir tmp;
  write_text(tmp / "junk.png", "this is not an image");
  EXPECT_ERROR_HAS(decode_image(tmp / "junk.png"), "junk.png", "not a JPEG or PNG");
  GrayImage image;
  image.height = image.width = 48;
  image.pixels = draw_face(1, 2);
  write_jpeg_gray(tmp / "full.jpg", image, 90);
  const std::string bytes = fergan::fs::read_file(tmp / "full.jpg");
  write_text(tmp / "cut.jpg", bytes.substr(0, bytes.size() / 2));
  EXPECT_ERROR_HAS(decode_image(tmp / "cut.jpg"), "cut.jpg", "JPEG");
  write_png_gray(tmp / "full.png", image);
  const std::string png = fergan::fs::read_file(tmp / "full.png");
  write_text(tmp / "cut.png", png.substr(0, png.size() / 2));
  EXPECT_ERROR_HAS(decode_image(tmp / "cut.png"), "cut.png", "PNG");
  EXPECT_ERROR_HAS(decode_image(tmp / "missing.png"), "missing.png");
}

TEST(Sha256, KnownDigestsAndFileAgreesWithBytes) {
  EXPECT_EQ(sha256_bytes("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_bytes(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  TempDir tmp;
  std::string big(3 << 20, 'x');  // crosses the 1 MiB read buffer
  big[12345] = 'y';
  write_text(tmp / "f.bin", big);
  EXPECT_EQ(sha256_file(tmp / "f.bin"), sha256_bytes(big));
  EXPECT_ERROR_HAS(sha256_file(tmp / "nope.bin"), "nope.bin");
}
