// A minimal "--name value" / "--flag" command-line reader shared by fergan_infer and fergan_eval.
//
// Unknown options are errors naming the option and listing the valid ones (a typo must not silently run
// with defaults); numbers are parsed strictly.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fergan/core/check.h"

namespace fergan::eval {

class CliArgs {
 public:
  // `valued`: options taking a value (may repeat; last wins for get()); `flags`: options without one.
  CliArgs(int argc, char** argv, int first, const std::set<std::string>& valued,
          const std::set<std::string>& flags) {
    for (int i = first; i < argc; ++i) {
      const std::string a = argv[i];
      if (flags.count(a)) {
        values_[a].push_back("1");
      } else if (valued.count(a)) {
        FG_CHECK(i + 1 < argc, "option ", a, " needs a value");
        values_[a].push_back(argv[++i]);
      } else {
        std::string valid;
        for (const auto& v : valued) valid += " " + v;
        for (const auto& f : flags) valid += " " + f;
        fail(str("unknown option '", a, "'; valid options:", valid));
      }
    }
  }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second.back();
  }
  std::vector<std::string> all(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  int64_t get_int(const std::string& name, int64_t fallback) const {
    if (!has(name)) return fallback;
    const std::string v = get(name);
    size_t used = 0;
    int64_t out = 0;
    try {
      out = std::stoll(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    FG_CHECK(used == v.size() && !v.empty(), "option ", name, " expects an integer, got '", v, "'");
    return out;
  }
  double get_double(const std::string& name, double fallback) const {
    if (!has(name)) return fallback;
    const std::string v = get(name);
    size_t used = 0;
    double out = 0;
    try {
      out = std::stod(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    FG_CHECK(used == v.size() && !v.empty(), "option ", name, " expects a number, got '", v, "'");
    return out;
  }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace fergan::eval
