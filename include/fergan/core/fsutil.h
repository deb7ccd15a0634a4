// Files that are either complete or absent.
//
// Every output fergan writes (shards, manifests, checkpoints, configs, PNGs) goes through
// write_atomically(): the content is produced under a temporary name in the same directory, fsync'ed,
// renamed over the final name, and the directory is fsync'ed, so a crash never leaves a half-written
// file under a name a reader would trust.
#pragma once

#include <functional>
#include <string>

namespace fergan::fs {

// Calls `produce(tmp_path)` to write the content, then fsyncs and renames tmp_path to `path`.
// On any exception the temporary file is removed and the exception propagates; `path` is untouched.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string& tmp_path)>& produce);

// Convenience: atomically writes `bytes` to `path`.
void write_file_atomically(const std::string& path, const std::string& bytes);

// Reads a whole file; the error names the path.
std::string read_file(const std::string& path);

// Creates `dir` (and parents) and proves it is writable by creating and removing a probe file.
// Fails with a message naming the directory otherwise.
void ensure_writable_dir(const std::string& dir);

void fsync_path(const std::string& path);

}  // namespace fergan::fs
