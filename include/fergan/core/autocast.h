// Mixed precision (`train.amp`): an RAII autocast region for the forward passes of a training step.
//
// Inside the region LibTorch's autocast runs matmuls and convolutions in bfloat16 while the parameters stay
// float32 (the "master weights" the optimizer updates): each parameter is cast on use, and the cast is cached
// for the region's lifetime, so the cache is cleared when the outermost region ends (otherwise the next
// region would read the bf16 copy of a weight the optimizer has since changed). Backward runs outside the
// region, as autocast prescribes; its ops follow the dtypes the forward chose.
//
// LibTorch changed the autocast API (1.13: set_cpu_enabled / set_enabled per device; 2.4+:
// set_autocast_enabled(device_type, ...)); this file is the one place that knows both.
#pragma once

#include <torch/torch.h>

#include <string>

namespace fergan::amp {

enum class Mode { None, Bf16 };

// "none" | "bf16" -> Mode; anything else throws, naming `key`.
Mode parse(const std::string& value, const std::string& key = "train.amp");

// Whether this CPU has native bfloat16 dot products (AVX512-BF16 or AMX); without them bf16 on the CPU is
// emulated and usually slower than float32.
bool cpu_has_native_bf16();

// Autocast to `mode` on `device_type` (CPU or CUDA) for the guard's lifetime; Mode::None does nothing.
// Restores the previous state on destruction, so regions nest.
class Region {
 public:
  Region(Mode mode, torch::DeviceType device_type);
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

 private:
  bool active_ = false;
  torch::DeviceType device_type_ = torch::kCPU;
  bool previous_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kBFloat16;
};

}  // namespace fergan::amp
