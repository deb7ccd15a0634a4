// Choosing the checkpoint sets a run resumes from (see resume.h).
#include "fergan/train/resume.h"

#include <filesystem>

#include "fergan/core/check.h"

namespace fergan::train {
namespace stdfs = std::filesystem;

checkpoint::CheckpointSet set_from_path(const std::string& path) {
  checkpoint::CheckpointSet set;
  set.meta = checkpoint::read_meta(path);
  const std::string file = stdfs::path(path).filename().string();
  const std::string& phase = set.meta.phase;
  const std::string suffix = ".pth";
  std::string tag;
  for (const std::string network : {"generator", "discriminator"}) {
    const std::string prefix = phase + "_" + network + "_";
    if (file.size() > prefix.size() + suffix.size() && file.rfind(prefix, 0) == 0 &&
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0) {
      tag = file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
    }
  }
  FG_CHECK(!tag.empty(), "--resume ", path, ": expected a file named ", phase,
           "_{generator,discriminator}_<tag>.pth");
  const std::string dir = stdfs::path(path).parent_path().string();
  set.tag = tag;
  set.generator_path = checkpoint::checkpoint_path(dir, phase, "generator", tag);
  set.discriminator_path = checkpoint::checkpoint_path(dir, phase, "discriminator", tag);
  return set;
}

std::map<std::string, checkpoint::CheckpointSet> resume_sets(const std::string& resume,
                                                             const std::string& checkpoint_dir,
                                                             const std::vector<std::string>& phases) {
  std::map<std::string, checkpoint::CheckpointSet> sets;
  if (resume == "auto") {
    for (const auto& phase : phases) {
      if (auto set = checkpoint::latest_set(checkpoint_dir, phase)) {
        set->meta = checkpoint::read_meta(set->generator_path);
        sets[phase] = *set;
      }
    }
  } else if (!resume.empty()) {
    auto set = set_from_path(resume);
    sets[set.meta.phase] = set;
  }
  return sets;
}

bool set_is_final(const checkpoint::CheckpointSet& set, int epochs) {
  return set.meta.batch_in_epoch == 0 && set.meta.epoch >= epochs;
}

int64_t resume_sample_offset(const checkpoint::CheckpointSet& set, int world, int64_t batch_size) {
  const auto& meta = set.meta;
  if (meta.batch_in_epoch == 0) return 0;
  if (meta.samples_in_epoch >= 0) return meta.samples_in_epoch;
  FG_CHECK(meta.world == world, "checkpoint '", set.generator_path, "' was saved mid-epoch (batch ",
           meta.batch_in_epoch, " of epoch ", meta.epoch + 1, ") on ", meta.world,
           " rank(s) by a version that stored no global sample position, so it resumes only on ", meta.world,
           " rank(s), not ", world, "; or resume from an epoch-end checkpoint");
  return meta.batch_in_epoch * batch_size * world;
}

}  // namespace fergan::train
