// fergan_eval, training curves: losses and discriminator outputs from the trainer's metrics.jsonl.
#include <filesystem>

#include "eval_run.h"

namespace fergan::eval {

void training_curves(EvalRun& run, const std::string& run_dir) {
  const auto log_path = (std::filesystem::path(run_dir) / "metrics.jsonl").string();
  if (run_dir.empty() || !std::filesystem::exists(log_path)) return;
  const auto log = read_training_log(log_path);
  run.report.heading("Training curves (" + log_path + ")");
  for (const std::string phase : {"img2text", "text2img"}) {
    Series d{"d_loss", {}, {}}, g{"g_loss", {}, {}}, dr{"D(real)", {}, {}}, df{"D(fake)", {}, {}};
    for (const auto& r : log) {
      if (r.phase != phase || r.event != "interval") continue;
      d.x.push_back(r.step), d.y.push_back(r.d_loss), g.x.push_back(r.step), g.y.push_back(r.g_loss);
      dr.x.push_back(r.step), dr.y.push_back(r.d_real), df.x.push_back(r.step), df.y.push_back(r.d_fake);
    }
    if (d.x.empty()) continue;
    run.report.raw(line_chart_svg({d, g}, phase + " losses", "step"));
    run.report.raw(line_chart_svg({dr, df}, phase + " discriminator outputs", "step"));
  }
  run.result["training_log"] = log_path;
}

}  // namespace fergan::eval
