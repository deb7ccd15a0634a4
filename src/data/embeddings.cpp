// Caption-embedding tables: import (.npy, .safetensors, HDF5), seeded random, encoder hook (see
// embeddings.h).
#include "fergan/data/embeddings.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>

#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"
#include "fergan/core/safetensors.h"
#include "fergan/data/rng.h"
#include "h5util.h"

namespace fergan::data {
namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// A minimal .npy reader: little-endian float32/float64, C order, 2-D.
torch::Tensor load_npy(const std::string& path) {
  const std::string bytes = fs::read_file(path);
  FG_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, "'", path, "' is not a .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else {
    FG_CHECK(bytes.size() >= 12, "'", path, "': truncated .npy header");
    uint32_t len;
    std::memcpy(&len, bytes.data() + 8, 4);
    header_len = len;
    offset = 12;
  }
  FG_CHECK(offset + header_len <= bytes.size(), "'", path, "': truncated .npy header");
  const std::string header = bytes.substr(offset, header_len);
  std::smatch m;
  FG_CHECK(std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'")), "'", path,
           "': .npy header has no descr");
  const std::string descr = m[1];
  FG_CHECK(descr == "<f4" || descr == "<f8", "'", path, "': expected float32 ('<f4') data, got '", descr,
           "'");
  FG_CHECK(std::regex_search(header, std::regex("'fortran_order':\\s*False")), "'", path,
           "': Fortran-ordered .npy is not supported (save with np.ascontiguousarray)");
  FG_CHECK(std::regex_search(header, m, std::regex("'shape':\\s*\\(\\s*(\\d+)\\s*,\\s*(\\d+)\\s*\\)")), "'",
           path, "': expected a 2-D table [captions, dim], header says ", header);
  const int64_t rows = std::stoll(m[1]), cols = std::stoll(m[2]);
  const size_t elem = descr == "<f4" ? 4 : 8;
  const size_t data_offset = offset + header_len;
  FG_CHECK(bytes.size() - data_offset == static_cast<size_t>(rows * cols) * elem, "'", path, "': holds ",
           bytes.size() - data_offset, " data bytes, expected ", rows * cols * elem, " for [", rows, ", ",
           cols, "]");
  auto table = torch::empty({rows, cols}, descr == "<f4" ? torch::kFloat32 : torch::kFloat64);
  std::memcpy(table.data_ptr(), bytes.data() + data_offset, static_cast<size_t>(rows * cols) * elem);
  return table.to(torch::kFloat32);
}

std::vector<std::string> npy_captions(const std::string& path) {
  const auto p = std::filesystem::path(path);
  const auto stem = (p.parent_path() / p.stem()).string();
  if (std::filesystem::exists(stem + ".captions.json")) {
    try {
      return nlohmann::json::parse(fs::read_file(stem + ".captions.json")).get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
      fail(str("'", stem, ".captions.json': expected a JSON list of strings: ", e.what()));
    }
  }
  if (std::filesystem::exists(stem + ".captions.txt")) {
    std::vector<std::string> out;
    std::istringstream in(fs::read_file(stem + ".captions.txt"));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) out.push_back(line);
    }
    return out;
  }
  fail(str("'", path, "': an .npy table needs its captions beside it, in '", stem,
           ".captions.json' (a JSON list) or '", stem, ".captions.txt' (one per line)"));
}

void check_table(const std::string& path, const torch::Tensor& table,
                 const std::vector<std::string>& file_captions, const std::vector<std::string>& captions,
                 int64_t expected_dim) {
  FG_CHECK(table.dim() == 2, "embeddings file '", path, "': expected a 2-D table [captions, dim], got ",
           table.sizes());
  FG_CHECK(static_cast<int64_t>(file_captions.size()) == table.size(0), "embeddings file '", path,
           "': ", table.size(0), " embedding rows but ", file_captions.size(), " captions");
  for (size_t i = 0; i < std::min(file_captions.size(), captions.size()); ++i) {
    FG_CHECK(file_captions[i] == captions[i], "embeddings file '", path, "': caption ", i, " is '",
             file_captions[i], "' but the caption table (config captions.templates) has '", captions[i], "'");
  }
  FG_CHECK(file_captions.size() == captions.size(), "embeddings file '", path, "' holds ",
           file_captions.size(), " captions but the caption table has ", captions.size(),
           " (check captions.templates in the config; the first ",
           std::min(file_captions.size(), captions.size()), " agree)");
  FG_CHECK(expected_dim <= 0 || table.size(1) == expected_dim, "embeddings file '", path, "' has dimension ",
           table.size(1), " but ", expected_dim,
           " is expected (--embed-dim, or the config's img2text.latent_dim / text2img.latent_dim)");
  FG_CHECK(torch::isfinite(table).all().item<bool>(), "embeddings file '", path,
           "' contains NaN or Inf values");
}

}  // namespace

torch::Tensor import_caption_embeddings(const std::string& path, const std::vector<std::string>& captions,
                                        int64_t expected_dim) {
  FG_CHECK(std::filesystem::exists(path), "embeddings file '", path, "' does not exist");
  const std::string ext = lower_extension(path);
  torch::Tensor table;
  std::vector<std::string> file_captions;
  if (ext == ".npy") {
    table = load_npy(path);
    file_captions = npy_captions(path);
  } else if (ext == ".safetensors") {
    auto tensors = safetensors::load(path);
    auto it = tensors.find("embeddings");
    FG_CHECK(it != tensors.end(), "embeddings file '", path, "' has no tensor named 'embeddings'");
    table = it->second.to(torch::kFloat32);
    auto meta = safetensors::load_metadata(path);
    FG_CHECK(meta.count("captions"), "embeddings file '", path,
             "' has no metadata entry 'captions' (a JSON list of the captions, one per row)");
    try {
      file_captions = nlohmann::json::parse(meta["captions"]).get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
      fail(str("embeddings file '", path,
               "': metadata 'captions' must be a JSON list of strings: ", e.what()));
    }
  } else if (ext == ".h5" || ext == ".hdf5") {
    h5::quiet();
    h5::Handle file(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "embeddings file '", path,
                             "' cannot be opened as HDF5"),
                    H5Fclose);
    auto dims = h5::dataset_shape(file, "embeddings", path);
    FG_CHECK(dims.size() == 2, "embeddings file '", path, "': dataset 'embeddings' must be 2-D");
    table = torch::empty({int64_t(dims[0]), int64_t(dims[1])}, torch::kFloat32);
    h5::Handle ds(H5_CHECK(H5Dopen2(file, "embeddings", H5P_DEFAULT), path), H5Dclose);
    H5_CHECK(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, table.data_ptr<float>()),
             "embeddings file '", path, "': reading 'embeddings'");
    file_captions = h5::read_strings(file, "captions", path);
  } else {
    fail(str("embeddings file '", path, "': unknown format '", ext,
             "' (expected .npy, .safetensors, .h5 or .hdf5)"));
  }
  check_table(path, table, file_captions, captions, expected_dim);
  return table.contiguous();
}

torch::Tensor random_caption_embeddings(int64_t count, int64_t dim, uint64_t seed) {
  FG_CHECK(count > 0 && dim > 0, "random embeddings: need count > 0 and dim > 0");
  auto table = torch::empty({count, dim}, torch::kFloat32);
  float* p = table.data_ptr<float>();
  Rng rng(seed ^ 0xE3BEDD1Cull);
  for (int64_t i = 0; i < count * dim; ++i) p[i] = static_cast<float>(rng.normal());
  return table;
}

torch::Tensor encode_caption_embeddings(const CaptionEncoder& encoder,
                                        const std::vector<std::string>& captions, int64_t expected_dim) {
  FG_CHECK(static_cast<bool>(encoder), "caption encoder is not set");
  torch::Tensor table = encoder(captions).to(torch::kCPU).to(torch::kFloat32).contiguous();
  check_table("<caption encoder>", table, captions, captions, expected_dim);
  return table;
}

void save_embeddings_npy(const std::string& path, const torch::Tensor& table_in) {
  auto table = table_in.to(torch::kCPU).to(torch::kFloat32).contiguous();
  FG_CHECK(table.dim() == 2, "save_embeddings_npy: expected a 2-D table");
  std::string header =
      str("{'descr': '<f4', 'fortran_order': False, 'shape': (", table.size(0), ", ", table.size(1), "), }");
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(table.data_ptr<float>()), table.numel() * sizeof(float));
  fs::write_file_atomically(path, bytes);
}

void save_embeddings_h5(const std::string& path, const torch::Tensor& table_in,
                        const std::vector<std::string>& captions) {
  auto table = table_in.to(torch::kCPU).to(torch::kFloat32).contiguous();
  FG_CHECK(table.dim() == 2, "save_embeddings_h5: expected a 2-D table");
  h5::quiet();
  fs::write_atomically(path, [&](const std::string& tmp) {
    h5::Handle file(
        H5_CHECK(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create '", tmp, "'"),
        H5Fclose);
    hsize_t dims[2] = {hsize_t(table.size(0)), hsize_t(table.size(1))};
    h5::Handle space(H5_CHECK(H5Screate_simple(2, dims, nullptr), tmp), H5Sclose);
    h5::Handle ds(
        H5_CHECK(H5Dcreate2(file, "embeddings", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                 tmp),
        H5Dclose);
    H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, table.data_ptr<float>()), tmp);
    h5::write_strings(file, "captions", captions, tmp);
  });
}

}  // namespace fergan::data
