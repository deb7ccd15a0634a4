// Checkpoint files and the per-phase checkpoint index (see checkpoint.h).
//
// A .pth file is a LibTorch serialize archive with "model/<name>" for every parameter and buffer,
// "optimizer" (a nested archive from Optimizer::save), "meta/<field>" values and "extra/<name>" tensors.
// Loading checks every name and shape before touching the module, so a mismatch leaves the module intact
// and the error lists every offending tensor.
#include "fergan/checkpoint/checkpoint.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <type_traits>

#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"

namespace fergan::checkpoint {
namespace stdfs = std::filesystem;
using nlohmann::json;

namespace {

std::vector<std::pair<std::string, torch::Tensor>> module_state(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) state.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) state.emplace_back(b.key(), b.value());
  return state;
}

std::string shape_str(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}

void write_meta(torch::serialize::OutputArchive& archive, const CheckpointMeta& meta) {
  archive.write("meta/phase", c10::IValue(meta.phase));
  archive.write("meta/epoch", c10::IValue(meta.epoch));
  archive.write("meta/step", c10::IValue(meta.step));
  archive.write("meta/batch_in_epoch", c10::IValue(meta.batch_in_epoch));
  archive.write("meta/samples_in_epoch", c10::IValue(meta.samples_in_epoch));
  archive.write("meta/world", c10::IValue(meta.world));
  archive.write("meta/seed", c10::IValue(static_cast<int64_t>(meta.seed)));
  archive.write("meta/config_yaml", c10::IValue(meta.config_yaml));
}

CheckpointMeta read_meta_from(torch::serialize::InputArchive& archive, const std::string& path) {
  CheckpointMeta meta;
  c10::IValue v;
  auto get = [&](const char* key) -> c10::IValue& {
    FG_CHECK(archive.try_read(key, v), "checkpoint '", path, "' has no '", key,
             "' (not a fergan checkpoint?)");
    return v;
  };
  meta.phase = get("meta/phase").toStringRef();
  meta.epoch = get("meta/epoch").toInt();
  meta.step = get("meta/step").toInt();
  meta.batch_in_epoch = get("meta/batch_in_epoch").toInt();
  // Absent from checkpoints written before the global sample offset was stored.
  meta.samples_in_epoch = archive.try_read("meta/samples_in_epoch", v) ? v.toInt() : -1;
  meta.world = get("meta/world").toInt();
  meta.seed = static_cast<uint64_t>(get("meta/seed").toInt());
  meta.config_yaml = get("meta/config_yaml").toStringRef();
  return meta;
}

void open_archive(torch::serialize::InputArchive& archive, const std::string& path) {
  FG_CHECK(stdfs::exists(path), "checkpoint '", path, "' does not exist");
  try {
    archive.load_from(path);
  } catch (const std::exception& e) {
    fail(str("checkpoint '", path, "' cannot be read (truncated or not a LibTorch archive): ",
             std::string(e.what()).substr(0, 300)));
  }
}

std::string index_path(const std::string& dir, const std::string& phase) {
  return (stdfs::path(dir) / (phase + "_checkpoints.json")).string();
}

json set_to_json(const CheckpointSet& s) {
  return {{"tag", s.tag},
          {"generator", stdfs::path(s.generator_path).filename().string()},
          {"discriminator", stdfs::path(s.discriminator_path).filename().string()},
          {"epoch", s.meta.epoch},
          {"step", s.meta.step},
          {"batch_in_epoch", s.meta.batch_in_epoch},
          {"samples_in_epoch", s.meta.samples_in_epoch},
          {"world", s.meta.world},
          {"seq", s.seq}};
}

// Optimizer::load() restores state tensors on the CPU; on a GPU run they must live beside their parameters.
void move_optimizer_state_to_params(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    for (auto& param : group.params()) {
      auto it = optimizer.state().find(optimizer_state_key(optimizer.state(), param));
      if (it == optimizer.state().end()) continue;
      if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(it->second.get())) {
        adam->exp_avg(adam->exp_avg().to(param.device()));
        adam->exp_avg_sq(adam->exp_avg_sq().to(param.device()));
        if (adam->max_exp_avg_sq().defined()) adam->max_exp_avg_sq(adam->max_exp_avg_sq().to(param.device()));
      }
    }
  }
}

}  // namespace

std::string checkpoint_path(const std::string& dir, const std::string& phase, const std::string& network,
                            const std::string& tag) {
  return (stdfs::path(dir) / (phase + "_" + network + "_" + tag + ".pth")).string();
}

void save_network(const std::string& path, torch::nn::Module& module, torch::optim::Optimizer* optimizer,
                  const CheckpointMeta& meta, const std::map<std::string, torch::Tensor>& extra) {
  torch::serialize::OutputArchive archive;
  for (const auto& [name, tensor] : module_state(module)) {
    archive.write("model/" + name, tensor.detach().to(torch::kCPU), /*is_buffer=*/true);
  }
  if (optimizer) {
    torch::serialize::OutputArchive opt_archive;
    optimizer->save(opt_archive);
    archive.write("optimizer", opt_archive);
  }
  for (const auto& [name, tensor] : extra)
    archive.write("extra/" + name, tensor.detach().to(torch::kCPU), true);
  write_meta(archive, meta);
  fs::write_atomically(path, [&](const std::string& tmp) { archive.save_to(tmp); });
}

void add_module_to_extra(std::map<std::string, torch::Tensor>& extra, const std::string& prefix,
                         const torch::nn::Module& module) {
  for (const auto& [name, tensor] : module_state(module)) extra[prefix + "/" + name] = tensor;
}

bool load_module_from_extra(const std::string& path, const std::string& prefix, torch::nn::Module& module) {
  torch::serialize::InputArchive archive;
  open_archive(archive, path);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  std::vector<std::string> problems;
  bool any = false;
  for (auto& [name, target] : module_state(module)) {
    torch::Tensor stored;
    if (!archive.try_read("extra/" + prefix + "/" + name, stored)) {
      problems.push_back("missing " + name);
    } else {
      any = true;
      if (stored.sizes() != target.sizes()) {
        problems.push_back(name + ": checkpoint " + shape_str(stored) + " vs model " + shape_str(target));
      } else {
        copies.emplace_back(target, stored);
      }
    }
  }
  if (!any) return false;
  if (!problems.empty()) {
    std::string list;
    for (const auto& p : problems) list += "\n  " + p;
    fail(str("checkpoint '", path, "': its '", prefix, "' copy does not match the model:", list));
  }
  torch::NoGradGuard no_grad;
  for (auto& [target, stored] : copies) target.copy_(stored);
  return true;
}

std::optional<torch::Tensor> read_extra(const std::string& path, const std::string& name) {
  torch::serialize::InputArchive archive;
  open_archive(archive, path);
  torch::Tensor t;
  if (!archive.try_read("extra/" + name, t)) return std::nullopt;
  return t;
}

CheckpointMeta read_meta(const std::string& path) {
  torch::serialize::InputArchive archive;
  open_archive(archive, path);
  return read_meta_from(archive, path);
}

CheckpointMeta load_network(const std::string& path, torch::nn::Module& module,
                            torch::optim::Optimizer* optimizer, std::map<std::string, torch::Tensor>* extra) {
  torch::serialize::InputArchive archive;
  open_archive(archive, path);
  CheckpointMeta meta = read_meta_from(archive, path);

  // Check every tensor before copying any, so a mismatch never leaves a half-loaded module.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  std::vector<std::string> problems;
  for (auto& [name, target] : module_state(module)) {
    torch::Tensor stored;
    if (!archive.try_read("model/" + name, stored)) {
      problems.push_back("missing " + name + " " + shape_str(target));
    } else if (stored.sizes() != target.sizes()) {
      problems.push_back(name + ": checkpoint " + shape_str(stored) + " vs model " + shape_str(target));
    } else {
      copies.emplace_back(target, stored);
    }
  }
  if (!problems.empty()) {
    std::string list;
    for (const auto& p : problems) list += "\n  " + p;
    fail(str(
        "checkpoint '", path, "' does not match the configured model (", problems.size(),
        " tensor(s)); was it written with a different config (image_size, ngf, ndf, noise_dim, conditional)?",
        list));
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& [target, stored] : copies) target.copy_(stored);
  }
  if (optimizer) {
    torch::serialize::InputArchive opt_archive;
    FG_CHECK(archive.try_read("optimizer", opt_archive), "checkpoint '", path, "' holds no optimizer state");
    try {
      optimizer->load(opt_archive);
      move_optimizer_state_to_params(*optimizer);
    } catch (const std::exception& e) {
      fail(str("checkpoint '", path,
               "': optimizer state does not match: ", std::string(e.what()).substr(0, 300)));
    }
  }
  if (extra) {
    for (auto& [name, tensor] : *extra) {
      FG_CHECK(archive.try_read("extra/" + name, tensor), "checkpoint '", path, "' has no '", name, "'");
    }
  }
  return meta;
}

std::vector<CheckpointSet> list_sets(const std::string& dir, const std::string& phase) {
  std::vector<CheckpointSet> sets;
  const std::string path = index_path(dir, phase);
  if (!stdfs::exists(path)) return sets;
  json index;
  try {
    index = json::parse(fs::read_file(path));
  } catch (const json::exception& e) {
    fail(str("checkpoint index '", path, "' is not valid JSON: ", e.what()));
  }
  for (const auto& entry : index.value("sets", json::array())) {
    CheckpointSet s;
    s.tag = entry.at("tag").get<std::string>();
    s.generator_path = (stdfs::path(dir) / entry.at("generator").get<std::string>()).string();
    s.discriminator_path = (stdfs::path(dir) / entry.at("discriminator").get<std::string>()).string();
    s.meta.phase = phase;
    s.meta.epoch = entry.at("epoch").get<int64_t>();
    s.meta.step = entry.at("step").get<int64_t>();
    s.meta.batch_in_epoch = entry.value("batch_in_epoch", int64_t{0});
    s.meta.samples_in_epoch = entry.value("samples_in_epoch", int64_t{-1});
    s.meta.world = entry.value("world", int64_t{1});
    s.seq = entry.value("seq", int64_t{0});
    // A set is complete only if both files are still there.
    if (stdfs::exists(s.generator_path) && stdfs::exists(s.discriminator_path)) sets.push_back(s);
  }
  // Commit order, not step order: a run resumed from an older set commits sets with lower steps than the
  // run it abandoned, and those are the newest. Entries of an index written before sequence numbers
  // (seq 0) come first, by step, as they were ordered then.
  std::stable_sort(sets.begin(), sets.end(), [](const CheckpointSet& a, const CheckpointSet& b) {
    return a.seq != b.seq ? a.seq < b.seq : (a.seq == 0 && a.meta.step < b.meta.step);
  });
  return sets;
}

std::optional<CheckpointSet> latest_set(const std::string& dir, const std::string& phase) {
  auto sets = list_sets(dir, phase);
  if (sets.empty()) return std::nullopt;
  return sets.back();
}

void commit_set(const std::string& dir, const CheckpointSet& set, int keep_last) {
  auto sets = list_sets(dir, set.meta.phase);
  int64_t last_seq = 0;
  for (const auto& s : sets) last_seq = std::max(last_seq, s.seq);
  sets.erase(
      std::remove_if(sets.begin(), sets.end(), [&](const CheckpointSet& s) { return s.tag == set.tag; }),
      sets.end());
  sets.push_back(set);
  sets.back().seq = last_seq + 1;
  std::vector<CheckpointSet> removed;
  if (keep_last > 0 && static_cast<int>(sets.size()) > keep_last) {
    removed.assign(sets.begin(), sets.end() - keep_last);
    sets.erase(sets.begin(), sets.end() - keep_last);
  }
  json index = {{"phase", set.meta.phase}, {"sets", json::array()}};
  for (const auto& s : sets) index["sets"].push_back(set_to_json(s));
  fs::write_file_atomically(index_path(dir, set.meta.phase), index.dump(2) + "\n");
  // Files of dropped sets go only after the index no longer names them.
  for (const auto& s : removed) {
    std::error_code ec;
    stdfs::remove(s.generator_path, ec);
    stdfs::remove(s.discriminator_path, ec);
    for (const char* ext : {".safetensors", ".png"}) {
      stdfs::remove(stdfs::path(s.generator_path).replace_extension(ext), ec);
    }
  }
}

double max_abs_difference(const std::string& path_a, const std::string& path_b, bool relative,
                          std::string* worst_tensor, const std::string& ignore) {
  const std::regex ignored(ignore.empty() ? "$^" : ignore);
  torch::serialize::InputArchive a, b;
  open_archive(a, path_a);
  open_archive(b, path_b);
  auto model_keys = [](torch::serialize::InputArchive& archive) {
    std::vector<std::string> keys;
    for (const auto& k : archive.keys()) {
      if (k.rfind("model/", 0) == 0) keys.push_back(k);
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  };
  const auto keys_a = model_keys(a), keys_b = model_keys(b);
  FG_CHECK(keys_a == keys_b, "checkpoints '", path_a, "' and '", path_b, "' hold different tensors (",
           keys_a.size(), " vs ", keys_b.size(), " model tensors)");
  double worst = 0;
  for (const auto& key : keys_a) {
    torch::Tensor ta, tb;
    a.read(key, ta, true);
    b.read(key, tb, true);
    FG_CHECK(ta.sizes() == tb.sizes(), key, ": shapes ", shape_str(ta), " vs ", shape_str(tb));
    if (ta.numel() == 0) continue;
    if (std::regex_search(key.substr(std::string("model/").size()), ignored)) continue;
    const torch::Tensor b64 = tb.to(torch::kFloat64), delta = ta.to(torch::kFloat64) - b64;
    double diff = delta.abs().max().item<double>();
    if (relative) {
      const double scale = b64.norm().item<double>();
      diff = scale > 0 ? delta.norm().item<double>() / scale : diff;
    }
    if (diff > worst || (worst_tensor && worst_tensor->empty())) {
      worst = std::max(worst, diff);
      if (worst_tensor) *worst_tensor = key.substr(std::string("model/").size());
    }
  }
  return worst;
}

}  // namespace fergan::checkpoint
