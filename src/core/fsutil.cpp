// Atomic file writes and small file helpers (see fsutil.h).
#include "fergan/core/fsutil.h"

#include <fcntl.h>
#include <sys/stat.h>
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

namespace {

// Why a flush to disk fails on a cluster file system, for the error message.
std::string flush_error(int err) {
  std::string text = std::strerror(err);
  if (err == EIO || err == ENOSPC || err == EDQUOT) text += " (I/O error, disk full or quota exceeded?)";
  return text;
}

// Writes all of `bytes` to `fd`; false with errno set on failure.
bool write_all(int fd, const std::string& bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

void fsync_path(const std::string& path) {
  struct stat st;
  const bool is_dir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (is_dir ? O_DIRECTORY : 0));
  if (fd < 0) {
    if (is_dir) return;  // some file systems refuse to open directories; nothing to flush through then
    fail(str("cannot open '", path, "' to flush it to disk: ", std::strerror(errno)));
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    // A file system that cannot fsync a directory at all says EINVAL; that is not a lost write.
    if (is_dir && (err == EINVAL || err == ENOTSUP || err == EROFS)) return;
    fail(str("flushing '", path, "' to disk failed: ", flush_error(err)));
  }
  if (::close(fd) != 0) fail(str("closing '", path, "' after flushing it failed: ", flush_error(errno)));
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
    // On NFS and Lustre, write() often succeeds and the error (EIO, EDQUOT) comes only with the flush: the
    // rename must not happen before the data is known to be on disk, or a truncated file takes the name.
    try {
      fsync_path(tmp);
    } catch (const Error& e) {
      fail(str("cannot write '", path, "': ", e.what()));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      fail(str("cannot rename '", tmp, "' to '", path, "': ", std::strerror(errno)));
    }
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  // The new name reaches the disk with the directory; until then a crash may bring back the old file.
  try {
    fsync_path(dir.string());
  } catch (const Error& e) {
    fail(str("'", path, "' was written, but its directory could not be flushed: ", e.what()));
  }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  write_atomically(path, [&](const std::string& tmp) {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(str("cannot write '", path, "': cannot create '", tmp, "': ", std::strerror(errno)));
    if (!write_all(fd, bytes)) {
      const int err = errno;
      ::close(fd);
      fail(str("cannot write '", path, "': writing '", tmp, "' failed: ", flush_error(err)));
    }
    if (::fsync(fd) != 0) {
      const int err = errno;
      ::close(fd);
      fail(str("cannot write '", path, "': flushing '", tmp, "' to disk failed: ", flush_error(err)));
    }
    if (::close(fd) != 0) {
      fail(str("cannot write '", path, "': closing '", tmp, "' failed: ", flush_error(errno)));
    }
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
