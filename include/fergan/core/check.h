// Errors and checked calls.
//
// Every failure in fergan is a fergan::Error carrying a message that names the file, row or key at fault.
// The FG_CHECK family turns a failed condition into such an error; the library-specific macros
// (MPI_CHECK, NCCL_CHECK, CUDA_CHECK, H5_CHECK) live next to the code that uses them and build on
// fergan::fail(). Programs catch fergan::Error at the top (see run_main in logging.h) and exit non-zero.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace fergan {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

[[noreturn]] inline void fail(const std::string& message) {
  throw Error(message);
}

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
}  // namespace detail

// Concatenates its arguments with operator<<: str("row ", 12, ": bad").
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  return os.str();
}

}  // namespace fergan

#define FG_CHECK(cond, ...)                                  \
  do {                                                       \
    if (!(cond)) ::fergan::fail(::fergan::str(__VA_ARGS__)); \
  } while (0)
