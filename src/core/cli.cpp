// The shared command-line conventions of the fergan programs (see cli.h).
#include "fergan/core/cli.h"

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace fergan::cli {

std::vector<ExitCode> common_exit_codes() {
  return {{kExitDone, "done"},
          {kExitError, "error: bad input or a failed check (the message names the file, row, key or flag)"},
          {kExitUsage, "usage error: unknown flag, bad or missing value (the message names the flag)"}};
}

std::string exit_code_footer(const std::vector<ExitCode>& codes) {
  std::ostringstream out;
  out << "Exit codes:\n";
  for (const auto& row : codes) out << "  " << row.code << "  " << row.meaning << "\n";
  return out.str();
}

void configure(CLI::App& app, const std::vector<ExitCode>& codes) {
  app.get_formatter()->column_width(36);
  app.footer(exit_code_footer(codes));
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

CLI::Validator number(double min, bool exclusive) {
  std::ostringstream bound;
  bound << (exclusive ? "> " : ">= ") << min;
  const std::string bound_text = bound.str();
  return CLI::Validator(
      [min, exclusive, bound_text](std::string& value) -> std::string {
        char* end = nullptr;
        const double parsed = value.empty() ? 0.0 : std::strtod(value.c_str(), &end);
        // strtod also reads "inf", "nan" and hexadecimal floats: only plain decimal notation is a number
        // here.
        const bool plain = value.find_first_not_of("0123456789+-.eE") == std::string::npos;
        if (value.empty() || !plain || end != value.c_str() + value.size() || !std::isfinite(parsed)) {
          return "expected a number, got '" + value + "'";
        }
        if (exclusive ? parsed <= min : parsed < min) {
          return "expected a number " + bound_text + ", got '" + value + "'";
        }
        return "";
      },
      min == 0 && !exclusive ? "NONNEGATIVE"
      : min == 0             ? "POSITIVE"
                             : bound_text);
}

CLI::Validator key_value() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        const auto eq = value.find('=');
        if (eq == std::string::npos || eq == 0) return "expected key=value, got '" + value + "'";
        return "";
      },
      "");
}

namespace {

// The subcommand the user reached ("data_prep synth"): where --help would explain the failed option.
std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* sub : app.get_subcommands()) return path + " " + command_path(*sub);
  return path;
}

// "unknown option '--bogus'" / "unexpected argument 'foo'" for the arguments no option or subcommand took.
std::string describe_unexpected(const std::vector<std::string>& extras) {
  std::string message;
  for (const auto& arg : extras) {
    message += message.empty() ? "" : "; ";
    message += (arg.size() > 1 && arg[0] == '-' ? "unknown option '" : "unexpected argument '") + arg + "'";
  }
  return message;
}

}  // namespace

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv, bool print) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp&) {
    // app.help() is the help of the subcommand it was asked for, when there is one.
    if (print) std::cout << app.help() << std::flush;
    return kExitDone;
  } catch (const CLI::CallForAllHelp&) {
    if (print) std::cout << app.help("", CLI::AppFormatMode::All) << std::flush;
    return kExitDone;
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    // An argument nobody took is the likelier cause of a missing one (a misspelt subcommand or flag).
    const auto extras = app.remaining(/*recurse=*/true);
    const bool extras_error = dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr;
    if ((extras_error || dynamic_cast<const CLI::RequiredError*>(&e)) && !extras.empty()) {
      message = describe_unexpected(extras);
    }
    if (print) {
      std::cerr << "error: " << message << "\nRun '" << command_path(app) << " --help' for the options.\n"
                << std::flush;
    }
    return kExitUsage;
  }
}

}  // namespace fergan::cli
