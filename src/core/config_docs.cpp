// The generated configuration reference (see config_docs.h): config/default.yaml and docs/config.md,
// both written from config_key_info() so that neither can hold a default or a help line of its own.
#include "fergan/core/config_docs.h"

#include <yaml-cpp/yaml.h>

#include "fergan/core/config.h"

namespace fergan {
namespace {

// "train.lr" -> {"train", "lr"}; a top-level key has the section "".
std::pair<std::string, std::string> split_name(const std::string& name) {
  const auto dot = name.find('.');
  if (dot == std::string::npos) return {"", name};
  return {name.substr(0, dot), name.substr(dot + 1)};
}

std::string double_quoted(const std::string& text) {
  YAML::Emitter out;
  out << YAML::DoubleQuoted << text;
  return out.c_str();
}

// The default as YAML at the given indent: strings quoted, lists as block sequences, the rest verbatim.
std::string yaml_value(const ConfigKeyInfo& key, const std::string& indent) {
  if (key.type == "string") return " " + double_quoted(key.default_value);
  if (key.type != "list of strings") return " " + key.default_value;
  const YAML::Node items = YAML::Load(key.default_value);
  if (items.size() == 0) return " []";  // an empty block sequence would read back as null
  std::string out;
  for (const auto& item : items) {
    out += "\n" + indent + "  - " + double_quoted(item.as<std::string>());
  }
  return out;
}

std::string table_cell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

// The default in backticks; an empty string shows as "".
std::string default_cell(const ConfigKeyInfo& key) {
  return "`" + table_cell(key.default_value.empty() ? "\"\"" : key.default_value) + "`";
}

}  // namespace

std::string default_config_yaml() {
  std::string out =
      std::string() +
      "# fergan's default configuration: every key at its default, with its help. fergan_dist without\n"
      "# --config runs exactly this. Any key can be overridden: --set text2img.image_size=64.\n"
      "# Generated from the key table in src/core/config.cpp (edit the table, not this file); regenerate\n"
      "# with `" +
      kConfigDocsCommand + "`. Reference: docs/config.md.\n";
  std::string section = "\x01";  // no section yet
  for (const auto& key : config_key_info()) {
    const auto [head, leaf] = split_name(key.name);
    const std::string indent = head.empty() ? "" : "  ";
    if (head != section) {
      out += "\n";
      if (!head.empty()) out += head + ":\n";
      section = head;
    }
    out += indent + "# " + key.help + "\n";
    out += indent + leaf + ":" + yaml_value(key, indent) + "\n";
  }
  return out;
}

std::string config_reference_markdown() {
  std::string out =
      std::string() +
      "# Configuration keys\n"
      "\n"
      "<!-- Generated from the key table in src/core/config.cpp; edit the table, not this file. -->\n"
      "This file and `config/default.yaml` are generated from the key table in `src/core/config.cpp`.\n"
      "After changing the table, regenerate both from the repository root (after a build):\n"
      "\n"
      "```bash\n" +
      kConfigDocsCommand +
      "\n"
      "```\n"
      "\n"
      "(It runs `test_core` with `FERGAN_UPDATE_CONFIG_DOCS=1`; without that variable the same test fails\n"
      "while either file is out of date.)\n"
      "\n"
      "A run's configuration is the defaults below, then the YAML file given with `--config`, then each\n"
      "`--set key=value` in order. Unknown keys, wrong types and values outside the range or choices are\n"
      "errors naming the key. `config/default.yaml` lists every key at its default: `fergan_dist` without\n"
      "`--config` runs that configuration. `config/original.yaml` reproduces the original `train.py`;\n"
      "`config/demo.yaml` is the README demo. `fergan_dist --print-config` prints a resolved\n"
      "configuration, and every run writes it to `run_dir/config.yaml`.\n";
  std::string section = "\x01";
  for (const auto& key : config_key_info()) {
    const std::string head = split_name(key.name).first;
    if (head != section) {
      out += "\n## " + (head.empty() ? std::string("Top level") : "`" + head + "`") + "\n\n";
      out += "| key | type | default | range / choices | meaning |\n";
      out += "|---|---|---|---|---|\n";
      section = head;
    }
    out += "| `" + key.name + "` | " + key.type + " | " + default_cell(key) + " | " + table_cell(key.range) +
           " | " + table_cell(key.help) + " |\n";
  }
  return out;
}

}  // namespace fergan
