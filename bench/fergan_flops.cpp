// fergan_flops: FLOPs per image of a training step of each GAN under a config (models/flops.h).
//
//   fergan_flops --config FILE [--set key=value]...
//
// Prints one line of JSON: per phase, the generator's and discriminator's forward FLOPs per sample and the
// D step's, G step's and whole step's FLOPs per training sample. bench/compare.sh divides the step's count by
// the measured seconds per image to get the achieved GFLOP/s.
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fergan/core/check.h"
#include "fergan/core/config.h"
#include "fergan/core/logging.h"
#include "fergan/models/flops.h"

using namespace fergan;

int main(int argc, char** argv) {
  return logging::run_main([&] {
    std::string config_path;
    std::vector<std::string> overrides;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      FG_CHECK(i + 1 < argc && (a == "--config" || a == "--set"),
               "fergan_flops: usage: --config FILE [--set key=value]...");
      (a == "--config" ? config_path = argv[++i] : overrides.emplace_back(argv[++i]));
    }
    FG_CHECK(!config_path.empty(), "fergan_flops: --config FILE is required");
    const Config config = load_config(config_path, overrides);
    nlohmann::json out;
    for (const std::string phase : {"img2text", "text2img"}) {
      const models::StepFlops f = models::training_step_flops(config, phase);
      out[phase] = {{"generator_forward", f.generator_forward},
                    {"discriminator_forward", f.discriminator_forward},
                    {"d_step", f.d_step},
                    {"g_step", f.g_step},
                    {"step", f.total()}};
    }
    std::cout << out.dump() << std::endl;
    return 0;
  });
}
