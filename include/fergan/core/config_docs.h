// The configuration reference generated from the key table: config/default.yaml and docs/config.md.
//
// Both files are outputs of the key table in config.cpp, kept in the repository so that people can read
// them; a test (tests/core/test_config_docs.cpp) fails while either differs from what these functions
// produce, and rewrites both when run with FERGAN_UPDATE_CONFIG_DOCS=1 (kConfigDocsCommand does that).
#pragma once

#include <string>

namespace fergan {

// The one command that regenerates both files, run from the repository root after a build.
constexpr const char* kConfigDocsCommand = "cmake --build build --target config_docs";

// config/default.yaml: every key at its default, sections in table order, each key's help as a comment.
std::string default_config_yaml();

// docs/config.md: per section a table of key, type, default, range / choices and meaning.
std::string config_reference_markdown();

}  // namespace fergan
