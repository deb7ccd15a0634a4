// Files that are either complete or absent.
//
// Every output fergan writes (shards, manifests, checkpoints, configs, PNGs) goes through
// write_atomically(): the content is produced under a temporary name in the same directory, fsync'ed,
// renamed over the final name, and the directory is fsync'ed, so a crash never leaves a half-written
// file under a name a reader would trust. The results of fsync and close are checked before the rename: on
// NFS and Lustre a full quota (EDQUOT) or a lost server (EIO) often shows only there, after every write
// succeeded, and must not let a truncated file take the name.
#pragma once

#include <functional>
#include <string>

namespace fergan::fs {

// Calls `produce(tmp_path)` to write the content, then fsyncs and renames tmp_path to `path`.
// On any exception the temporary file is removed and the exception propagates; `path` is untouched.
// A failed flush is an error naming `path`; so is a failed flush of the directory after the rename (then
// `path` already holds the new content, but a crash could still bring back the old one).
void write_atomically(const std::string& path,
                      const std::function<void(const std::string& tmp_path)>& produce);

// Convenience: atomically writes `bytes` to `path`.
void write_file_atomically(const std::string& path, const std::string& bytes);

// Reads a whole file; the error names the path.
std::string read_file(const std::string& path);

// Creates `dir` (and parents) and proves it is writable by creating and removing a probe file.
// Fails with a message naming the directory otherwise.
void ensure_writable_dir(const std::string& dir);

// Flushes a file or directory to disk; a failed open (of a file), fsync or close is an error naming it.
// Directories are best effort where the file system cannot open or fsync them (EINVAL, ENOTSUP).
void fsync_path(const std::string& path);

}  // namespace fergan::fs
