// The training driver behind fergan_dist: phase 1 Image->Text, then phase 2 Text->Image, data-parallel
// over all ranks of a dist::Context (one rank = the single-process development run).
//
// Per phase: open the shard split, build the GAN, restore a checkpoint or broadcast rank 0's fresh weights,
// then run epochs of (D step, G step) with gradients averaged across ranks by a bucketed all-reducer.
// Rank 0 alone prints the original's console lines (docs/original.md), writes metrics.jsonl, checkpoints
// and sample grids.
#pragma once

#include <string>

#include "fergan/core/config.h"

namespace fergan::dist {
class Context;
}

namespace fergan::train {

struct TrainOptions {
  std::string phase = "both";  // img2text | text2img | both (overrides train.phase when set on the CLI)
  std::string resume;  // "" = fresh start, "auto" = newest complete checkpoint, else a checkpoint path
};

// Returns the process exit code: 0 when every requested epoch is done, dist::kExitRequeue when a stop
// signal made all ranks checkpoint and stop early.
int run_training(const Config& config, const TrainOptions& options, dist::Context& context);

}  // namespace fergan::train
