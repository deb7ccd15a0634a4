// Where a run starts: `--resume auto` (the newest complete checkpoint set of each phase), `--resume PATH`
// (the set that one checkpoint file belongs to), or a fresh start.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "fergan/checkpoint/checkpoint.h"

namespace fergan::train {

// The set that a generator or discriminator checkpoint file belongs to, with its meta; the file must be
// named {phase}_{generator,discriminator}_<tag>.pth (error naming the file otherwise).
checkpoint::CheckpointSet set_from_path(const std::string& path);

// The set each phase resumes from: "" = none, "auto" = the newest complete set per phase in checkpoint_dir,
// else the set of that file (for its own phase only).
std::map<std::string, checkpoint::CheckpointSet> resume_sets(const std::string& resume,
                                                             const std::string& checkpoint_dir,
                                                             const std::vector<std::string>& phases);

// True when `set` marks the end of a phase of `epochs` epochs (nothing left to train).
bool set_is_final(const checkpoint::CheckpointSet& set, int epochs);

// The global sample position in its epoch where a run of `world` ranks with per-rank batch `batch_size`
// resumes `set` (0 at an epoch's end). A checkpoint that stores no position (written before it was stored)
// resumes from its batch_in_epoch at its own world size; mid-epoch at another world size it is an error
// naming the checkpoint, since its batches do not map onto the new split.
int64_t resume_sample_offset(const checkpoint::CheckpointSet& set, int world, int64_t batch_size);

}  // namespace fergan::train
