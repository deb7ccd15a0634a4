// The generated configuration reference: config/default.yaml and docs/config.md equal what the key table
// produces today. With FERGAN_UPDATE_CONFIG_DOCS=1 the test rewrites both files instead of comparing them
// (that is what `cmake --build build --target config_docs` runs).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "fergan/core/check.h"
#include "fergan/core/config.h"
#include "fergan/core/config_docs.h"
#include "fergan/core/fsutil.h"

namespace {
std::string source_dir() {
  const char* d = std::getenv("FERGAN_SOURCE_DIR");
  return d ? d : ".";
}

bool updating() {
  const char* u = std::getenv("FERGAN_UPDATE_CONFIG_DOCS");
  return u && std::string(u) == "1";
}

// "line N: expected '...', found '...'" for the first line where the two texts differ.
std::string first_difference(const std::string& expected, const std::string& found) {
  std::istringstream a(expected), b(found);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(a, la)),
               more_b = static_cast<bool>(std::getline(b, lb));
    if (!more_a && !more_b) return "they differ only in line endings";
    if (!more_a) la = "<end of file>";
    if (!more_b) lb = "<end of file>";
    if (la != lb || !more_a || !more_b) {
      return "line " + std::to_string(line) + ": expected '" + la + "', found '" + lb + "'";
    }
  }
}

void check_current(const std::string& relative_path, const std::string& generated) {
  const std::string path = source_dir() + "/" + relative_path;
  if (updating()) {
    fergan::fs::write_file_atomically(path, generated);
    std::cout << "wrote " << path << "\n";
    return;
  }
  std::string found;
  try {
    found = fergan::fs::read_file(path);
  } catch (const fergan::Error&) {
    found = "";  // a missing file is reported as a difference at line 1
  }
  EXPECT_TRUE(found == generated)
      << relative_path << " is not current with the key table in src/core/config.cpp ("
      << first_difference(generated, found)
      << "). Regenerate config/default.yaml and docs/config.md from the repository root with: "
      << fergan::kConfigDocsCommand;
}
}  // namespace

TEST(ConfigDocs, DefaultYamlIsCurrent) {
  check_current("config/default.yaml", fergan::default_config_yaml());
}

TEST(ConfigDocs, ReferenceMarkdownIsCurrent) {
  check_current("docs/config.md", fergan::config_reference_markdown());
}

// The generated YAML is the default configuration, whatever the files on disk say.
TEST(ConfigDocs, GeneratedYamlLoadsAsTheDefaults) {
  const auto parsed = fergan::parse_config(fergan::default_config_yaml(), "generated default.yaml");
  EXPECT_EQ(parsed.to_yaml(), fergan::Config().to_yaml());
}

// One table row per key, each with its type, default and help, and every section under its heading.
TEST(ConfigDocs, ReferenceHasOneRowPerKey) {
  const std::string md = fergan::config_reference_markdown();
  for (const auto& key : fergan::config_key_info()) {
    const std::string row = "| `" + key.name + "` | " + key.type + " | ";
    const auto at = md.find(row);
    ASSERT_NE(at, std::string::npos) << key.name;
    EXPECT_EQ(md.find(row, at + 1), std::string::npos) << key.name << " listed twice";
    const std::string line = md.substr(at, md.find('\n', at) - at);
    EXPECT_NE(line.find(key.default_value), std::string::npos) << key.name;
    EXPECT_NE(line.find(key.range), std::string::npos) << key.name;
    EXPECT_NE(line.find(key.help), std::string::npos) << key.name;
    const auto dot = key.name.find('.');
    if (dot != std::string::npos) {
      const std::string heading = "## `" + key.name.substr(0, dot) + "`";
      EXPECT_LT(md.find(heading), at) << key.name;
    }
  }
  EXPECT_NE(md.find(fergan::kConfigDocsCommand), std::string::npos);
}
