// safetensors files: read and write (https://github.com/huggingface/safetensors, format "8-byte LE header
// length, JSON header, raw little-endian data"). Used for CLIP weights, caption-embedding imports and the
// generator exports that Python users load with safetensors.torch.load_file.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

namespace fergan::safetensors {

// Every tensor in the file (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL), on the CPU.
// Errors name the file and what is wrong (truncated, bad header, offsets out of range).
std::map<std::string, torch::Tensor> load(const std::string& path);

// Optional string metadata ("__metadata__").
std::map<std::string, std::string> load_metadata(const std::string& path);

// Writes atomically; tensors are made contiguous and moved to the CPU.
void save(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
          const std::map<std::string, std::string>& metadata = {});

}  // namespace fergan::safetensors
