// The autocast region and bf16 capability check (see autocast.h).
#include "fergan/core/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "fergan/core/check.h"

// LibTorch 2.4 introduced the device-typed autocast API and deprecated the per-device functions.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define FERGAN_AUTOCAST_DEVICE_API 1
#endif

namespace fergan::amp {

namespace {

bool enabled(torch::DeviceType type) {
#ifdef FERGAN_AUTOCAST_DEVICE_API
  return at::autocast::is_autocast_enabled(type);
#else
  return type == torch::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

void set_enabled(torch::DeviceType type, bool on) {
#ifdef FERGAN_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_enabled(type, on);
#else
  if (type == torch::kCPU)
    at::autocast::set_cpu_enabled(on);
  else
    at::autocast::set_enabled(on);
#endif
}

torch::ScalarType dtype(torch::DeviceType type) {
#ifdef FERGAN_AUTOCAST_DEVICE_API
  return at::autocast::get_autocast_dtype(type);
#else
  return type == torch::kCPU ? at::autocast::get_autocast_cpu_dtype()
                             : at::autocast::get_autocast_gpu_dtype();
#endif
}

void set_dtype(torch::DeviceType type, torch::ScalarType t) {
#ifdef FERGAN_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_dtype(type, t);
#else
  if (type == torch::kCPU)
    at::autocast::set_autocast_cpu_dtype(t);
  else
    at::autocast::set_autocast_gpu_dtype(t);
#endif
}

}  // namespace

Mode parse(const std::string& value, const std::string& key) {
  if (value == "none") return Mode::None;
  if (value == "bf16") return Mode::Bf16;
  fail(str(key, ": expected none or bf16, got '", value, "'"));
}

bool cpu_has_native_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

Region::Region(Mode mode, torch::DeviceType device_type) : device_type_(device_type) {
  if (mode == Mode::None) return;
  FG_CHECK(device_type == torch::kCPU || device_type == torch::kCUDA,
           "train.amp: autocast supports cpu and cuda, not ", device_type);
  active_ = true;
  previous_enabled_ = enabled(device_type);
  previous_dtype_ = dtype(device_type);
  set_enabled(device_type, true);
  set_dtype(device_type, torch::kBFloat16);
  at::autocast::increment_nesting();
}

Region::~Region() {
  if (!active_) return;
  // The outermost region drops the cached bf16 copies of the weights: the optimizer changes them next.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(device_type_, previous_enabled_);
  set_dtype(device_type_, previous_dtype_);
}

}  // namespace fergan::amp
