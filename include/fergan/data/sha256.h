// SHA-256 of files and byte strings (OpenSSL EVP), as lowercase hex. The manifest records one per shard so
// a reader can prove on request that a shard is the one data_prep wrote.
#pragma once

#include <string>

namespace fergan::data {

std::string sha256_file(const std::string& path);  // streams the file; errors name the path
std::string sha256_bytes(const std::string& bytes);

}  // namespace fergan::data
