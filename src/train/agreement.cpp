// Cross-rank agreement on dataset, configuration and resumed state (see agreement.h).
#include "fergan/train/agreement.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <type_traits>

#include "fergan/checkpoint/checkpoint.h"
#include "fergan/core/check.h"
#include "fergan/data/sha256.h"
#include "fergan/train/resume.h"

namespace fergan::train {
namespace stdfs = std::filesystem;

namespace {

bool same(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

double weighted_sum(const torch::Tensor& t) {
  auto flat = t.detach().to(torch::kCPU, torch::kFloat64).reshape({-1});
  auto element_weight = 1.0 + torch::arange(flat.numel(), torch::kFloat64).fmod(97.0) / 97.0;
  return (flat * element_weight).sum().item<double>();
}

}  // namespace

RootComparison compare_with_root(dist::Communicator& comm, const std::vector<double>& values) {
  RootComparison result;
  result.root = values;
  result.value_differs.assign(values.size(), false);
  if (comm.world() == 1) return result;
  // Rank 0's values plus zeros from everyone else: rank 0's values, exactly.
  if (comm.rank() != 0) std::fill(result.root.begin(), result.root.end(), 0.0);
  comm.allreduce_host(result.root, dist::ReduceOp::Sum);
  // One flag per rank (its values differ), then one per value (it differs on this rank); summed.
  const auto world = static_cast<size_t>(comm.world());
  std::vector<double> flags(world + values.size(), 0.0);
  for (size_t i = 0; i < values.size(); ++i) {
    if (same(values[i], result.root[i])) continue;
    flags[static_cast<size_t>(comm.rank())] = 1.0;
    flags[world + i] = 1.0;
  }
  comm.allreduce_host(flags, dist::ReduceOp::Sum);
  for (size_t r = 0; r < world; ++r)
    if (flags[r] != 0) result.differing.push_back(static_cast<int>(r));
  for (size_t i = 0; i < values.size(); ++i) result.value_differs[i] = flags[world + i] != 0;
  return result;
}

std::string text_from_root(dist::Communicator& comm, const std::string& text) {
  if (comm.world() == 1) return text;
  std::vector<double> size{comm.rank() == 0 ? static_cast<double>(text.size()) : 0.0};
  comm.allreduce_host(size, dist::ReduceOp::Sum);
  std::vector<double> bytes(static_cast<size_t>(size[0]), 0.0);
  if (comm.rank() == 0)
    for (size_t i = 0; i < text.size(); ++i) bytes[i] = static_cast<unsigned char>(text[i]);
  if (!bytes.empty()) comm.allreduce_host(bytes, dist::ReduceOp::Sum);
  std::string root(bytes.size(), '\0');
  for (size_t i = 0; i < bytes.size(); ++i) root[i] = static_cast<char>(static_cast<unsigned char>(bytes[i]));
  return root;
}

double text_digest(const std::string& text) {
  return static_cast<double>(std::stoull(data::sha256_bytes(text).substr(0, 12), nullptr, 16));
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string list;
  for (int r : ranks) list += (list.empty() ? "" : ", ") + std::to_string(r);
  return list;
}

std::vector<std::string> comparable_config_lines(const Config& config) {
  // to_yaml() writes top-level keys unindented and a section's keys indented under "section:".
  std::vector<std::string> lines;
  std::istringstream yaml(config.to_yaml());
  std::string line, section;
  while (std::getline(yaml, line)) {
    if (line.empty()) continue;
    const bool indented = line[0] == ' ';
    const auto start = line.find_first_not_of(' ');
    const std::string body = line.substr(start);
    if (!indented && body.back() == ':') {
      section = body.substr(0, body.size() - 1);
      continue;
    }
    if (!indented) section.clear();
    const std::string key = (section.empty() ? "" : section + ".") + body.substr(0, body.find(':'));
    if (key == "run_dir" || key == "checkpoint_dir" || key == "data.shards") continue;
    lines.push_back((section.empty() ? "" : section + ".") + body);
  }
  return lines;
}

void check_startup_agreement(dist::Communicator& comm, const Config& config,
                             const data::ShardDataset& dataset) {
  if (comm.world() == 1) return;
  const std::string manifest = (stdfs::path(dataset.manifest().dir) / "manifest.json").string();
  const std::string manifest_sha = data::sha256_file(manifest);
  const auto data = compare_with_root(comm, {text_digest(manifest_sha), static_cast<double>(dataset.size())});
  if (!data.differing.empty()) {
    fail(str("rank(s) ", rank_list(data.differing),
             " see another dataset than rank 0 (manifest.json sha256 or", " the size of split '",
             config.data.split, "' differ); this rank, ", comm.rank(), ", reads ", manifest, " (sha256 ",
             manifest_sha, ", ", dataset.size(), " samples): every rank must read the same shards"));
  }
  const auto lines = comparable_config_lines(config);
  std::vector<double> digests{static_cast<double>(lines.size())};
  for (const auto& line : lines) digests.push_back(text_digest(line));
  // The same binary on every rank writes the same keys; a rank with another count differs in its first value.
  const auto count = compare_with_root(comm, {digests[0]});
  FG_CHECK(
      count.differing.empty(), "rank(s) ", rank_list(count.differing),
      " write another set of configuration keys than rank 0: are all ranks running the same fergan_dist?");
  const auto cfg = compare_with_root(comm, digests);
  if (cfg.differing.empty()) return;
  std::string keys, mine;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!cfg.value_differs[i + 1]) continue;
    keys += (keys.empty() ? "" : ", ") + lines[i].substr(0, lines[i].find(':'));
    if (!same(digests[i + 1], cfg.root[i + 1])) mine += "\n  " + lines[i];
  }
  fail(str("rank(s) ", rank_list(cfg.differing), " run with another configuration than rank 0, in: ", keys,
           mine.empty() ? "" : str(" (rank ", comm.rank(), " has:", mine, ")"),
           "; every rank must get the same --config and --set arguments"));
}

std::map<std::string, checkpoint::CheckpointSet> agreed_resume_sets(dist::Communicator& comm,
                                                                    const std::string& resume,
                                                                    const std::string& checkpoint_dir,
                                                                    const std::vector<std::string>& phases) {
  if (comm.world() == 1 || resume != "auto") return resume_sets(resume, checkpoint_dir, phases);
  // Rank 0 lists its checkpoint_dir; the tags of its choice go to every rank as "phase tag" lines.
  std::string choice;
  std::map<std::string, checkpoint::CheckpointSet> sets;
  if (comm.rank() == 0) {
    sets = resume_sets(resume, checkpoint_dir, phases);
    for (const auto& [phase, set] : sets) choice += phase + " " + set.tag + "\n";
  }
  choice = text_from_root(comm, choice);
  std::string problem;
  if (comm.rank() != 0) {
    std::istringstream lines(choice);
    std::string phase, tag;
    while (lines >> phase >> tag) {
      try {
        sets[phase] = set_from_path(checkpoint::checkpoint_path(checkpoint_dir, phase, "generator", tag));
      } catch (const Error& e) {
        problem = e.what();
      }
    }
  }
  const auto missing = compare_with_root(comm, {problem.empty() ? 0.0 : 1.0});
  if (!missing.differing.empty()) {
    fail(str("--resume auto: rank(s) ", rank_list(missing.differing),
             " cannot open the checkpoint set(s) rank 0", " chose (",
             choice.empty() ? "none" : choice.substr(0, choice.size() - 1), ") in their checkpoint_dir",
             problem.empty() ? "" : str(" (rank ", comm.rank(), ": ", problem, ")"),
             "; is checkpoint_dir node-local, or its listing stale?"));
  }
  return sets;
}

double optimizer_checksum(torch::optim::Optimizer& optimizer) {
  torch::NoGradGuard no_grad;
  double total = 0, index = 1;
  for (auto& group : optimizer.param_groups()) {
    for (auto& param : group.params()) {
      auto it = optimizer.state().find(checkpoint::optimizer_state_key(optimizer.state(), param));
      if (it != optimizer.state().end()) {
        if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(it->second.get())) {
          total += index * (weighted_sum(adam->exp_avg()) + 3.0 * weighted_sum(adam->exp_avg_sq()) +
                            static_cast<double>(adam->step()));
        }
      }
      index += 1;
    }
  }
  return total;
}

void check_restored_agreement(dist::Communicator& comm, const RestoredState& s) {
  if (comm.world() == 1) return;
  const std::vector<double> values{static_cast<double>(s.meta.epoch),
                                   static_cast<double>(s.meta.step),
                                   static_cast<double>(s.meta.samples_in_epoch),
                                   s.generator,
                                   s.discriminator,
                                   s.generator_optimizer,
                                   s.discriminator_optimizer};
  const auto cmp = compare_with_root(comm, values);
  if (cmp.differing.empty()) return;
  const char* names[] = {"epoch",
                         "step",
                         "position in the epoch",
                         "generator weights",
                         "discriminator weights",
                         "generator optimizer state",
                         "discriminator optimizer state"};
  std::string what, mine;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!cmp.value_differs[i]) continue;
    what += (what.empty() ? "" : ", ") + std::string(names[i]);
    if (i < 3 && !same(values[i], cmp.root[i]))
      mine += str(", ", names[i], " ", static_cast<int64_t>(values[i]), " vs rank 0's ",
                  static_cast<int64_t>(cmp.root[i]));
  }
  fail(str("rank(s) ", rank_list(cmp.differing),
           " resumed from another checkpoint state than rank 0, in: ", what, " (rank ", comm.rank(),
           " loaded ", s.path, mine, "); every rank must load the same checkpoint set:",
           " is checkpoint_dir node-local, or its listing stale?"));
}

}  // namespace fergan::train
