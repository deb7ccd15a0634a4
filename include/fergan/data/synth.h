// `data_prep synth`: a synthetic FER-format dataset of 48x48 grayscale faces for demos and tests, drawn
// deterministically so that a test can rebuild exactly the images it trained on.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fergan::data {

struct SynthOptions {
  std::string out;
  int64_t per_class = 50;
  uint64_t seed = 1;
  std::map<std::string, int64_t> splits;  // split -> images per class; empty = train:N, validation/test: N/5
  std::string format = "png";             // png | jpg
  int threads = 0;
};

// Draws a synthetic FER-format folder dataset of 48x48 grayscale faces: <out>/<split>/<emotion>/*.png.
// Returns the number of images written.
int64_t synthesize_faces(const SynthOptions& options);
// One synthetic face (exposed for tests): deterministic from (seed, label).
std::vector<uint8_t> draw_face(int label, uint64_t seed, int size = 48);

}  // namespace fergan::data
