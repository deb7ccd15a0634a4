// The CUDA-only part of device selection (see runtime.h): a GPU's PCI bus id and name for the per-rank log.
// Built only with FERGAN_WITH_CUDA (fergan_library leaves *_cuda.cpp out of CPU builds).
#include <cuda_runtime.h>

#include <string>

#include "fergan/core/runtime.h"

namespace fergan::runtime {

std::string describe_cuda_device(int index) {
  char bus_id[32] = {0};
  if (cudaDeviceGetPCIBusId(bus_id, sizeof(bus_id), index) != cudaSuccess) {
    cudaGetLastError();  // clear it: the log line is not worth failing a run for
    return "PCI bus id unknown";
  }
  std::string text = std::string("PCI ") + bus_id;
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, index) == cudaSuccess) {
    text += std::string(", ") + prop.name;
  } else {
    cudaGetLastError();
  }
  return text;
}

}  // namespace fergan::runtime
