// Atomic file writes and small file helpers (see fsutil.h).
#include "fergan/core/fsutil.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "fergan/core/check.h"

namespace fergan::fs {
namespace stdfs = std::filesystem;

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;  // best effort: some filesystems refuse to open directories
  ::fsync(fd);
  ::close(fd);
}

void write_atomically(const std::string& path, const std::function<void(const std::string&)>& produce) {
  const stdfs::path final_path(path);
  const stdfs::path dir = final_path.has_parent_path() ? final_path.parent_path() : stdfs::path(".");
  std::error_code ec;
  stdfs::create_directories(dir, ec);
  if (ec) fail(str("cannot create directory '", dir.string(), "': ", ec.message()));
  std::random_device rd;
  const std::string tmp = (dir / ("." + final_path.filename().string() + ".tmp" + std::to_string(::getpid()) +
                                  "_" + std::to_string(rd() % 1000000)))
                              .string();
  try {
    produce(tmp);
    fsync_path(tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      fail(str("cannot rename '", tmp, "' to '", path, "': ", std::strerror(errno)));
    }
    fsync_path(dir.string());
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) fail(str("cannot write '", tmp, "': ", std::strerror(errno)));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) fail(str("write to '", tmp, "' failed (disk full?)"));
  });
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(str("cannot open '", path, "': ", std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ensure_writable_dir(const std::string& dir) {
  std::error_code ec;
  stdfs::create_directories(dir, ec);
  if (ec) fail(str("directory '", dir, "' cannot be created: ", ec.message()));
  const std::string probe =
      (stdfs::path(dir) / (".fergan_write_probe_" + std::to_string(::getpid()))).string();
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail(str("directory '", dir, "' is not writable: ", std::strerror(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace fergan::fs
