// JPEG (libjpeg) and PNG (libpng simplified API) decode/encode (see image_io.h).
//
// libjpeg reports fatal errors through longjmp; the C-only helpers below keep every C++ object outside
// the setjmp scope so nothing with a destructor is skipped, and turn the failure into a message.
#include "fergan/data/image_io.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"

namespace fergan::data {
namespace {

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  int warnings;
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// libjpeg reports corrupt or truncated data as warnings and fills in grey; we record the first one and
// treat the image as unreadable rather than training on invented pixels.
void jpeg_warning(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  if (level < 0 && err->warnings++ == 0) (*cinfo->err->format_message)(cinfo, err->message);
}

// Header pass: fills height/width; returns false with `message` on error.
bool jpeg_decode_gray(const unsigned char* data, size_t size, uint8_t* (*alloc)(void*, int, int),
                      void* alloc_ctx, char* message) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_warning;
  err.warnings = 0;
  if (setjmp(err.jump)) {
    std::strncpy(message, err.message, JMSG_LENGTH_MAX);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_GRAYSCALE;
  jpeg_start_decompress(&cinfo);
  uint8_t* out =
      alloc(alloc_ctx, static_cast<int>(cinfo.output_height), static_cast<int>(cinfo.output_width));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out + static_cast<size_t>(cinfo.output_scanline) * cinfo.output_width;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return err.warnings == 0;
}

bool jpeg_encode_gray(const uint8_t* pixels, int height, int width, int quality, unsigned char** out,
                      unsigned long* out_size, char* message) {
  jpeg_compress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  if (setjmp(err.jump)) {
    std::strncpy(message, err.message, JMSG_LENGTH_MAX);
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, out, out_size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = 1;
  cinfo.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels) + static_cast<size_t>(cinfo.next_scanline) * width;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

uint8_t* alloc_gray(void* ctx, int height, int width) {
  auto* image = static_cast<GrayImage*>(ctx);
  image->height = height;
  image->width = width;
  image->pixels.assign(static_cast<size_t>(height) * width, 0);
  return image->pixels.data();
}

void write_png_raw(const std::string& path, const uint8_t* pixels, int height, int width, int channels) {
  FG_CHECK(channels == 1 || channels == 2 || channels == 3 || channels == 4, "write_png '", path,
           "': channels must be 1..4, got ", channels);
  fs::write_atomically(path, [&](const std::string& tmp) {
    png_image image;
    std::memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = channels == 1   ? PNG_FORMAT_GRAY
                   : channels == 2 ? PNG_FORMAT_GA
                   : channels == 3 ? PNG_FORMAT_RGB
                                   : PNG_FORMAT_RGBA;
    if (!png_image_write_to_file(&image, tmp.c_str(), 0, pixels, 0, nullptr)) {
      std::string why = image.message;
      png_image_free(&image);
      fail(str("cannot write PNG '", path, "': ", why));
    }
  });
}

}  // namespace

GrayImage decode_image_bytes(const std::string& bytes, const std::string& name) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  GrayImage image;
  if (bytes.size() >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
    char message[JMSG_LENGTH_MAX] = {0};
    if (!jpeg_decode_gray(data, bytes.size(), alloc_gray, &image, message)) {
      fail(str("unreadable image '", name, "': JPEG error: ", message));
    }
    return image;
  }
  if (bytes.size() >= 8 && png_sig_cmp(data, 0, 8) == 0) {
    png_image png;
    std::memset(&png, 0, sizeof(png));
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&png, data, bytes.size())) {
      fail(str("unreadable image '", name, "': PNG error: ", png.message));
    }
    png.format = PNG_FORMAT_GRAY;
    image.height = static_cast<int>(png.height);
    image.width = static_cast<int>(png.width);
    image.pixels.assign(PNG_IMAGE_SIZE(png), 0);
    if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr)) {
      std::string why = png.message;
      png_image_free(&png);
      fail(str("unreadable image '", name, "': PNG error: ", why));
    }
    return image;
  }
  fail(str("unreadable image '", name, "': not a JPEG or PNG file (", bytes.size(), " bytes)"));
}

GrayImage decode_image(const std::string& path) {
  std::string bytes;
  try {
    bytes = fs::read_file(path);
  } catch (const Error& e) {
    fail(str("unreadable image '", path, "': ", e.what()));
  }
  return decode_image_bytes(bytes, path);
}

void write_png(const std::string& path, const torch::Tensor& image) {
  FG_CHECK(image.scalar_type() == torch::kUInt8, "write_png '", path, "': expected uint8, got ",
           image.scalar_type());
  FG_CHECK(image.dim() == 2 || image.dim() == 3, "write_png '", path, "': expected [H, W] or [H, W, C], got ",
           image.sizes());
  auto t = image.to(torch::kCPU).contiguous();
  const int channels = t.dim() == 2 ? 1 : static_cast<int>(t.size(2));
  write_png_raw(path, t.data_ptr<uint8_t>(), static_cast<int>(t.size(0)), static_cast<int>(t.size(1)),
                channels);
}

void write_png_gray(const std::string& path, const GrayImage& image) {
  write_png_raw(path, image.pixels.data(), image.height, image.width, 1);
}

void write_jpeg_gray(const std::string& path, const GrayImage& image, int quality) {
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  char message[JMSG_LENGTH_MAX] = {0};
  const bool ok =
      jpeg_encode_gray(image.pixels.data(), image.height, image.width, quality, &buffer, &size, message);
  std::string bytes;
  if (ok) bytes.assign(reinterpret_cast<char*>(buffer), size);
  std::free(buffer);
  if (!ok) fail(str("cannot encode JPEG '", path, "': ", message));
  fs::write_file_atomically(path, bytes);
}

}  // namespace fergan::data
