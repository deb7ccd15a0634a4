// HDF5 helpers private to fg_data: the H5_CHECK macro, RAII handles and small read/write helpers.
//
// HDF5's automatic error printing is switched off (h5_quiet()); a failed call becomes a fergan::Error that
// names our context (file, dataset) plus the innermost message from HDF5's error stack.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fergan/core/check.h"

namespace fergan::data::h5 {

// Silences HDF5's stderr dump of its error stack (once per process).
void quiet();
// The innermost description on HDF5's current error stack ("" when empty).
std::string last_error();

// A handle closed by the matching H5?close on scope exit.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      closer_ = o.closer_;
      o.id_ = -1;
    }
    return *this;
  }
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// Read helpers; `where` names the file for error messages.
std::vector<hsize_t> dataset_shape(hid_t file, const char* name, const std::string& where);
bool has_dataset(hid_t file, const char* name);
std::vector<std::string> read_strings(hid_t file, const char* name, const std::string& where);
void write_strings(hid_t file, const char* name, const std::vector<std::string>& values,
                   const std::string& where);
std::string read_string_attr(hid_t obj, const char* name, const std::string& where);
void write_string_attr(hid_t obj, const char* name, const std::string& value, const std::string& where);
void write_int_attr(hid_t obj, const char* name, int64_t value, const std::string& where);

}  // namespace fergan::data::h5

// Checks an HDF5 call's return value (negative = failure); the message names the call and the context.
#define H5_CHECK(call, ...)                                                          \
  ([&]() {                                                                           \
    auto h5_check_result_ = (call);                                                  \
    if (h5_check_result_ < 0) {                                                      \
      ::fergan::fail(::fergan::str(__VA_ARGS__, ": HDF5 call " #call " failed", [] { \
        auto m = ::fergan::data::h5::last_error();                                   \
        return m.empty() ? std::string() : " (" + m + ")";                           \
      }()));                                                                         \
    }                                                                                \
    return h5_check_result_;                                                         \
  }())
