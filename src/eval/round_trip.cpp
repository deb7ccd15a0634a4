// Round-trip images and their figure (see round_trip.h).
#include "fergan/eval/round_trip.h"

#include "fergan/core/check.h"
#include "fergan/data/image_grid.h"
#include "fergan/data/image_tensor.h"

namespace fergan::eval {

torch::Tensor round_trip_images(LoadedImg2Text& img2text, LoadedText2Img& text2img,
                                const torch::Tensor& images, int64_t batch_size, uint64_t seed) {
  auto back = generate_images(text2img, predict_embeddings(img2text, images, batch_size), batch_size, seed);
  return data::resize_bilinear(back, images.size(2));
}

torch::Tensor round_trip_grid(const torch::Tensor& real, const torch::Tensor& back, int64_t columns) {
  FG_CHECK(real.size(0) == back.size(0) && real.size(0) > 0 && columns > 0, "round_trip_grid: ", real.size(0),
           " images and ", back.size(0), " round trips in rows of ", columns);
  const int64_t n = real.size(0);
  auto real_u8 = data::to_uint8_nhwc(real), back_u8 = data::to_uint8_nhwc(back);
  auto blank = torch::full({columns, real_u8.size(1), real_u8.size(2), 3}, 255, torch::kUInt8);
  std::vector<torch::Tensor> rows;
  std::vector<std::string> labels;
  for (int64_t s = 0; s < n; s += columns) {
    const int64_t e = std::min(n, s + columns);
    for (const auto& images : {real_u8, back_u8}) {
      rows.push_back(images.slice(0, s, e));
      if (e - s < columns) rows.push_back(blank.slice(0, 0, columns - (e - s)));
    }
    labels.push_back("REAL");
    labels.push_back("ROUND TRIP");
  }
  return data::labeled_grid(torch::cat(rows), columns, labels);
}

}  // namespace fergan::eval
