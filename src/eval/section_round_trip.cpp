// fergan_eval, round trip: the first evaluated images beside Text2Img(Img2Text(image)).
#include "eval_run.h"
#include "fergan/eval/round_trip.h"

namespace fergan::eval {

void round_trip(EvalRun& run, LoadedImg2Text& i2t, LoadedText2Img& t2i) {
  const int64_t n = std::min<int64_t>(kGridColumns * 2, run.test.size());
  auto real = run.real_images.slice(0, 0, n);
  auto back = round_trip_images(i2t, t2i, real, run.options.batch_size, run.options.seed + 8);
  const auto path = write_figure(run, "round_trip.png", round_trip_grid(real, back, kGridColumns));
  run.report.heading("Round trip: image -> Img2Text embedding -> Text2Img image");
  run.report.png_file(path, "round trip");
}

}  // namespace fergan::eval
