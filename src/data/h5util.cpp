// HDF5 helpers private to fg_data (see h5util.h).
#include "h5util.h"

#include <algorithm>
#include <cstring>

namespace fergan::data::h5 {

void quiet() {
  // The thread-safe HDF5 build keeps the error-printing setting per thread (the loader reads on its own).
  thread_local bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

std::string last_error() {
  std::string innermost;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned n, const H5E_error2_t* err, void* out) -> herr_t {
        if (n == 0 && err->desc) *static_cast<std::string*>(out) = err->desc;
        return 0;
      },
      &innermost);
  H5Eclear2(H5E_DEFAULT);
  return innermost;
}

bool has_dataset(hid_t file, const char* name) {
  return H5Lexists(file, name, H5P_DEFAULT) > 0;
}

std::vector<hsize_t> dataset_shape(hid_t file, const char* name, const std::string& where) {
  FG_CHECK(has_dataset(file, name), where, ": dataset '", name, "' is missing");
  Handle ds(H5_CHECK(H5Dopen2(file, name, H5P_DEFAULT), where, ": open dataset '", name, "'"), H5Dclose);
  Handle space(H5_CHECK(H5Dget_space(ds), where, ": dataset '", name, "'"), H5Sclose);
  const int rank = H5_CHECK(H5Sget_simple_extent_ndims(space), where, ": dataset '", name, "'");
  std::vector<hsize_t> dims(rank);
  H5_CHECK(H5Sget_simple_extent_dims(space, dims.data(), nullptr), where, ": dataset '", name, "'");
  return dims;
}

std::vector<std::string> read_strings(hid_t file, const char* name, const std::string& where) {
  FG_CHECK(has_dataset(file, name), where, ": dataset '", name, "' is missing");
  Handle ds(H5_CHECK(H5Dopen2(file, name, H5P_DEFAULT), where, ": open dataset '", name, "'"), H5Dclose);
  Handle type(H5_CHECK(H5Dget_type(ds), where, ": dataset '", name, "'"), H5Tclose);
  FG_CHECK(H5Tget_class(type) == H5T_STRING, where, ": dataset '", name, "' does not hold strings");
  Handle space(H5_CHECK(H5Dget_space(ds), where, ": dataset '", name, "'"), H5Sclose);
  const hssize_t n = H5_CHECK(H5Sget_simple_extent_npoints(space), where, ": dataset '", name, "'");
  std::vector<std::string> out;
  if (H5Tis_variable_str(type) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5_CHECK(H5Tset_size(mem, H5T_VARIABLE), where);
    H5_CHECK(H5Tset_cset(mem, H5Tget_cset(type)), where);
    std::vector<char*> ptrs(n, nullptr);
    H5_CHECK(H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), where, ": read '", name, "'");
    for (auto* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data());
  } else {
    const size_t len = H5Tget_size(type);
    Handle mem(H5Tcopy(type), H5Tclose);
    std::vector<char> buf(static_cast<size_t>(n) * len + 1, 0);
    H5_CHECK(H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), where, ": read '", name, "'");
    for (hssize_t i = 0; i < n; ++i) {
      const char* p = buf.data() + i * len;
      out.emplace_back(p, strnlen(p, len));
    }
  }
  return out;
}

void write_strings(hid_t file, const char* name, const std::vector<std::string>& values,
                   const std::string& where) {
  size_t len = 1;
  for (const auto& v : values) len = std::max(len, v.size());
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5_CHECK(H5Tset_size(type, len), where);
  H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLPAD), where);
  H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), where);
  hsize_t dims[1] = {values.size()};
  Handle space(H5_CHECK(H5Screate_simple(1, dims, nullptr), where), H5Sclose);
  Handle ds(H5_CHECK(H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), where,
                     ": create dataset '", name, "'"),
            H5Dclose);
  std::vector<char> buf(values.size() * len + 1, 0);
  for (size_t i = 0; i < values.size(); ++i)
    std::memcpy(buf.data() + i * len, values[i].data(), values[i].size());
  if (!values.empty()) {
    H5_CHECK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), where, ": write '", name, "'");
  }
}

std::string read_string_attr(hid_t obj, const char* name, const std::string& where) {
  FG_CHECK(H5Aexists(obj, name) > 0, where, ": attribute '", name, "' is missing");
  Handle attr(H5_CHECK(H5Aopen(obj, name, H5P_DEFAULT), where, ": attribute '", name, "'"), H5Aclose);
  Handle type(H5_CHECK(H5Aget_type(attr), where, ": attribute '", name, "'"), H5Tclose);
  FG_CHECK(H5Tget_class(type) == H5T_STRING, where, ": attribute '", name, "' is not a string");
  if (H5Tis_variable_str(type) > 0) {
    char* p = nullptr;
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem, H5T_VARIABLE);
    H5_CHECK(H5Aread(attr, mem, &p), where, ": attribute '", name, "'");
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  const size_t len = H5Tget_size(type);
  std::vector<char> buf(len + 1, 0);
  H5_CHECK(H5Aread(attr, type, buf.data()), where, ": attribute '", name, "'");
  return std::string(buf.data(), strnlen(buf.data(), len));
}

void write_string_attr(hid_t obj, const char* name, const std::string& value, const std::string& where) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5_CHECK(H5Tset_size(type, std::max<size_t>(1, value.size())), where);
  H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), where);
  Handle space(H5_CHECK(H5Screate(H5S_SCALAR), where), H5Sclose);
  Handle attr(H5_CHECK(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), where, ": attribute '",
                       name, "'"),
              H5Aclose);
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  H5_CHECK(H5Awrite(attr, type, padded.data()), where, ": attribute '", name, "'");
}

void write_int_attr(hid_t obj, const char* name, int64_t value, const std::string& where) {
  Handle space(H5_CHECK(H5Screate(H5S_SCALAR), where), H5Sclose);
  Handle attr(H5_CHECK(H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT), where,
                       ": attribute '", name, "'"),
              H5Aclose);
  H5_CHECK(H5Awrite(attr, H5T_NATIVE_INT64, &value), where, ": attribute '", name, "'");
}

}  // namespace fergan::data::h5
