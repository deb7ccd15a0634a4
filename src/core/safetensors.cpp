// safetensors reader and writer (see safetensors.h).
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the byte buffer that follows the
// header) plus an optional "__metadata__" object of strings, then the raw little-endian data.
// The reader validates everything before trusting it (header size against the file size, dtype names,
// offsets inside the buffer and consistent with shape x element size) and reads each tensor straight into
// its own storage, so a 600 MB checkpoint is not held twice in memory.
#include "fergan/core/safetensors.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"

namespace fergan::safetensors {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; host must be too");

// The JSON header is capped like the reference implementation (100 MB) so a corrupt length cannot make us
// allocate the whole address space.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;

struct DtypeName {
  const char* name;
  torch::Dtype dtype;
};

const DtypeName kDtypes[] = {
    {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16}, {"F64", torch::kFloat64},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},     {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

torch::Dtype dtype_from_name(const std::string& name, const std::string& path, const std::string& key) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.dtype;
  fail(str("safetensors '", path, "': tensor '", key, "' has unsupported dtype '", name, "'"));
}

const char* name_from_dtype(torch::Dtype dtype, const std::string& path, const std::string& key) {
  for (const auto& d : kDtypes)
    if (dtype == d.dtype) return d.name;
  fail(fergan::str("safetensors '", path, "': cannot store tensor '", key, "' of dtype ",
                   c10::toString(dtype)));
}

struct Header {
  nlohmann::json json;
  uint64_t data_start = 0;  // file offset of the byte buffer
  uint64_t data_size = 0;   // bytes available after the header
};

Header read_header(std::ifstream& in, const std::string& path) {
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0, std::ios::beg);
  FG_CHECK(file_size >= 8, "safetensors '", path, "': file is truncated (", file_size,
           " bytes, less than the 8-byte header length)");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  FG_CHECK(header_len <= kMaxHeaderBytes, "safetensors '", path, "': header length ", header_len,
           " is implausible (corrupt file or not safetensors)");
  FG_CHECK(8 + header_len <= file_size, "safetensors '", path, "': file is truncated (header says ",
           header_len, " bytes of JSON, file has ", file_size - 8, " after the length)");
  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  FG_CHECK(in, "safetensors '", path, "': cannot read header: ", std::strerror(errno));
  Header h;
  try {
    h.json = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail(str("safetensors '", path, "': header is not valid JSON: ", e.what()));
  }
  FG_CHECK(h.json.is_object(), "safetensors '", path, "': header is not a JSON object");
  h.data_start = 8 + header_len;
  h.data_size = file_size - h.data_start;
  return h;
}

std::ifstream open_for_reading(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(str("safetensors: cannot open '", path, "': ", std::strerror(errno)));
  return in;
}

}  // namespace

std::map<std::string, torch::Tensor> load(const std::string& path) {
  auto in = open_for_reading(path);
  const Header h = read_header(in, path);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [key, info] : h.json.items()) {
    if (key == "__metadata__") continue;
    const std::string where = str("safetensors '", path, "': tensor '", key, "'");
    FG_CHECK(
        info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
        where, ": entry needs dtype, shape and data_offsets");
    FG_CHECK(info["dtype"].is_string(), where, ": dtype is not a string");
    const torch::Dtype dtype = dtype_from_name(info["dtype"].get<std::string>(), path, key);
    FG_CHECK(info["shape"].is_array(), where, ": shape is not an array");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const auto& dim : info["shape"]) {
      FG_CHECK(dim.is_number_unsigned() || (dim.is_number_integer() && dim.get<int64_t>() >= 0), where,
               ": shape entries must be non-negative integers");
      shape.push_back(dim.get<int64_t>());
      numel *= dim.get<uint64_t>();
    }
    const auto& offsets = info["data_offsets"];
    FG_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                 offsets[1].is_number_unsigned(),
             where, ": data_offsets must be two non-negative integers");
    const auto begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    FG_CHECK(begin <= end, where, ": data_offsets [", begin, ", ", end, "] are reversed");
    FG_CHECK(end <= h.data_size, where, ": data ends at byte ", end, " but the file holds only ", h.data_size,
             " bytes of data (file truncated?)");
    const uint64_t expected = numel * torch::elementSize(dtype);
    FG_CHECK(end - begin == expected, where, ": data_offsets span ", end - begin,
             " bytes but shape x dtype needs ", expected);
    auto tensor = torch::empty(shape, torch::TensorOptions().dtype(dtype));
    if (expected > 0) {
      in.seekg(static_cast<std::streamoff>(h.data_start + begin));
      in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(expected));
      FG_CHECK(in, where, ": read failed (file truncated?)");
    }
    tensors.emplace(key, std::move(tensor));
  }
  return tensors;
}

std::map<std::string, std::string> load_metadata(const std::string& path) {
  auto in = open_for_reading(path);
  const Header h = read_header(in, path);
  std::map<std::string, std::string> metadata;
  auto it = h.json.find("__metadata__");
  if (it == h.json.end() || it->is_null()) return metadata;
  FG_CHECK(it->is_object(), "safetensors '", path, "': __metadata__ is not an object");
  for (const auto& [key, value] : it->items()) {
    FG_CHECK(value.is_string(), "safetensors '", path, "': metadata '", key, "' is not a string");
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

void save(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
          const std::map<std::string, std::string>& metadata) {
  // Tensors are laid out in name order; each one's bytes follow the previous one's.
  std::vector<torch::Tensor> contiguous;
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [key, tensor] : tensors) {
    FG_CHECK(key != "__metadata__", "safetensors '", path, "': '__metadata__' is reserved as a tensor name");
    FG_CHECK(tensor.defined(), "safetensors '", path, "': tensor '", key, "' is undefined");
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[key] = {{"dtype", name_from_dtype(t.scalar_type(), path, key)},
                   {"shape", t.sizes().vec()},
                   {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(t));
  }
  std::string text = header.dump();
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  fs::write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) fail(str("safetensors: cannot write '", tmp, "': ", std::strerror(errno)));
    uint64_t len = text.size();
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>((len >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : contiguous)
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.flush();
    FG_CHECK(out, "safetensors: write to '", tmp, "' failed (disk full?)");
  });
}

}  // namespace fergan::safetensors
