// Atomic writes when the disk says no: on NFS or Lustre a full quota (EDQUOT) or a lost server (EIO) is often
// reported only by fsync() or close(), after every write() succeeded. Such a failure must leave the
// destination exactly as it was (no truncated checkpoint or index renamed into place), remove the temporary
// file, and raise an error naming the destination.
//
// The failures are injected by symbol interposition: this test program defines fsync() and close() itself, so
// every call in the process (fg_core's included) reaches these, which forward to the C library's versions
// unless a fault is armed for a descriptor whose path contains a given text. No hook in the code under test.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"

namespace stdfs = std::filesystem;

namespace {

// The armed fault: which call fails, with which errno, for descriptors whose path contains `g_path_part`.
int g_fsync_errno = 0;
int g_close_errno = 0;
char g_path_part[PATH_MAX] = {0};
bool g_exact = false;  // g_path_part must equal the path, not just occur in it

bool fd_is_targeted(int fd) {
  if (g_path_part[0] == '\0') return false;
  char link[64], target[PATH_MAX];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, target, sizeof(target) - 1);
  if (n <= 0) return false;
  target[n] = '\0';
  return g_exact ? std::strcmp(target, g_path_part) == 0 : std::strstr(target, g_path_part) != nullptr;
}

struct Fault {
  Fault(const std::string& path_part, int fsync_errno, int close_errno, bool exact = false) {
    std::snprintf(g_path_part, sizeof(g_path_part), "%s", path_part.c_str());
    g_exact = exact;
    g_fsync_errno = fsync_errno;
    g_close_errno = close_errno;
  }
  ~Fault() {
    g_fsync_errno = g_close_errno = 0;
    g_path_part[0] = '\0';
  }
};

struct TempDir {
  TempDir() {
    std::string tmpl = (stdfs::temp_directory_path() / "fergan_fsutil_XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : stdfs::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  stdfs::path path;
};

std::string content(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The error message of `body`, or "" when it did not throw a fergan::Error.
template <typename Body>
std::string error_of(Body body) {
  try {
    body();
  } catch (const fergan::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

extern "C" int fsync(int fd) {
  using Fn = int (*)(int);
  static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "fsync"));
  if (g_fsync_errno != 0 && fd_is_targeted(fd)) {
    errno = g_fsync_errno;
    return -1;
  }
  return real(fd);
}

extern "C" int close(int fd) {
  using Fn = int (*)(int);
  static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "close"));
  if (g_close_errno != 0 && fd_is_targeted(fd)) {
    real(fd);  // as on NFS: the descriptor is released, the deferred write error is reported
    errno = g_close_errno;
    return -1;
  }
  return real(fd);
}

TEST(AtomicWrite, WritesAndReplaces) {
  TempDir dir;
  fergan::fs::write_file_atomically(dir / "index.json", "old");
  fergan::fs::write_file_atomically(dir / "index.json", "new");
  EXPECT_EQ(content(dir / "index.json"), "new");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"index.json"});
}

TEST(AtomicWrite, FailedFsyncLeavesTheDestinationUntouched) {
  for (int err : {EIO, EDQUOT, ENOSPC}) {
    TempDir dir;
    fergan::fs::write_file_atomically(dir / "index.json", "old");
    std::string message;
    {
      Fault fault(".index.json.tmp", err, 0);  // the temporary file's name
      message = error_of([&] { fergan::fs::write_file_atomically(dir / "index.json", "new content"); });
    }
    EXPECT_NE(message.find(dir / "index.json"), std::string::npos) << "error must name the file: " << message;
    EXPECT_NE(message.find(std::strerror(err)), std::string::npos) << message;
    EXPECT_EQ(content(dir / "index.json"), "old") << std::strerror(err);
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"index.json"}) << "temporary file left behind";
  }
}

TEST(AtomicWrite, FailedCloseLeavesTheDestinationUntouched) {
  TempDir dir;
  fergan::fs::write_file_atomically(dir / "index.json", "old");
  std::string message;
  {
    Fault fault(".index.json.tmp", 0, EDQUOT);
    message = error_of([&] { fergan::fs::write_file_atomically(dir / "index.json", "new content"); });
  }
  EXPECT_NE(message.find(dir / "index.json"), std::string::npos) << message;
  EXPECT_NE(message.find(std::strerror(EDQUOT)), std::string::npos) << message;
  EXPECT_EQ(content(dir / "index.json"), "old");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"index.json"});
}

// A producer that writes through a library (LibTorch's archive writer, HDF5) closes its own descriptor; the
// flush to disk before the rename is what must catch the error then.
TEST(AtomicWrite, FailedFlushAfterALibraryWriterLeavesTheDestinationUntouched) {
  TempDir dir;
  fergan::fs::write_file_atomically(dir / "net.pth", "old weights");
  std::string message;
  {
    Fault fault(".net.pth.tmp", EIO, EIO);
    message = error_of([&] {
      fergan::fs::write_atomically(dir / "net.pth", [](const std::string& tmp) {
        std::FILE* f = std::fopen(tmp.c_str(), "wb");
        std::fputs("truncated", f);
        std::fclose(f);  // its error is the library's business; fergan's own flush must still see it
      });
    });
  }
  EXPECT_NE(message.find(dir / "net.pth"), std::string::npos) << message;
  EXPECT_EQ(content(dir / "net.pth"), "old weights");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"net.pth"});
}

// After the rename the directory entry itself must reach the disk; a failure there is reported too.
TEST(AtomicWrite, FailedDirectoryFsyncIsAnError) {
  TempDir dir;
  std::string message;
  {
    Fault fault(dir.path.string(), EIO, 0, /*exact=*/true);
    message = error_of([&] { fergan::fs::write_file_atomically(dir / "index.json", "new"); });
  }
  EXPECT_NE(message.find(dir.path.string()), std::string::npos) << message;
  EXPECT_NE(message.find(std::strerror(EIO)), std::string::npos) << message;
}

// Filesystems that cannot fsync a directory at all (EINVAL) are not an error.
TEST(AtomicWrite, DirectoryWithoutFsyncSupportIsFine) {
  TempDir dir;
  {
    Fault fault(dir.path.string(), EINVAL, 0, /*exact=*/true);
    EXPECT_NO_THROW(fergan::fs::write_file_atomically(dir / "index.json", "new"));
  }
  EXPECT_EQ(content(dir / "index.json"), "new");
}
