// Command-line conventions shared by every fergan program, on top of CLI11.
//
// One exit-code table (each program's --help ends with the rows that apply to it), one help layout, strict
// base-10 numbers with their allowed range checked while parsing, and one way to end on a usage error: the
// message names the flag, is printed once, and the program exits with kExitUsage. CLI11's own integer
// conversion accepts "0x10" and reads "010" as octal; integer() below accepts only decimal digits.
#pragma once

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace fergan::cli {

constexpr int kExitDone = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct ExitCode {
  int code;
  std::string meaning;
};

// The rows every program has: 0 done, 1 error, 2 usage error.
std::vector<ExitCode> common_exit_codes();

// The help footer listing `codes`.
std::string exit_code_footer(const std::vector<ExitCode>& codes);

// Gives `app` (a program or one of its subcommands) the shared help layout and the exit-code footer, and
// makes a repeated option take its last value (as `--out a --out b` always did). Call it before adding
// options.
void configure(CLI::App& app, const std::vector<ExitCode>& codes);

// Parses `text` as a base-10 integer ("12", "-3", "+7"; not "12x", "0x10", " 1" or ""). False when it is not
// one or does not fit in T.
template <typename T>
bool parse_integer(const std::string& text, T* value) {
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+' && last - first > 1 && first[1] >= '0' && first[1] <= '9') ++first;
  T parsed{};
  const auto [end, error] = std::from_chars(first, last, parsed);
  if (first == last || error != std::errc() || end != last) return false;
  *value = parsed;
  return true;
}

// A validator for an integer option of type T: base 10, at least `min`. It rewrites the value to plain
// decimal, so that CLI11's conversion that follows reads it the same way.
template <typename T>
CLI::Validator integer(T min) {
  std::string description = min == 1 ? "POSITIVE" : min == 0 ? "NONNEGATIVE" : ">=" + std::to_string(min);
  if (min == std::numeric_limits<T>::min()) description.clear();  // no bound beyond the type's own
  return CLI::Validator(
      [min](std::string& value) -> std::string {
        T parsed{};
        if (!parse_integer(value, &parsed)) {
          return "expected an integer, got '" + value + "'";
        }
        if (parsed < min) return "expected an integer >= " + std::to_string(min) + ", got '" + value + "'";
        value = std::to_string(parsed);
        return "";
      },
      description);
}

// A validator for a floating-point option: a finite number in plain notation ("1e-5", "0.25"), at least `min`
// (above `min` when `exclusive`).
CLI::Validator number(double min, bool exclusive = false);

// A validator for "key=value" with a non-empty key (--set).
CLI::Validator key_value();

// Parses argv into `app`. Returns nothing when the program should go on, else the exit code to end with:
// kExitDone after --help (printed to stdout), kExitUsage after a usage error ("error: <message naming the
// flag>" and a hint to stderr). Checks of option combinations belong in an App callback that throws
// CLI::ValidationError or CLI::RequiredError: they are reported the same way. With `print` false nothing is
// printed (the other ranks of an MPI job, which reach the same verdict on the same argv as rank 0).
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv, bool print = true);

}  // namespace fergan::cli
