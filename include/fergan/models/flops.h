// Floating-point operations of the four networks and of one training step, counted from the architecture.
//
// A benchmark's images/s says how fast; FLOPs per image times images/s says how well the machine is used,
// next to its matrix-multiply rate. Only convolutions, transposed convolutions and linear layers are counted
// (2 FLOPs per multiply-add); normalisations, activations, pooling and the optimizer are a few percent and
// are left out, so the count is a slight underestimate of the work done.
//
// A training step (gan/step.h) is counted as it runs: every layer's forward, plus in backward a weight
// gradient (as costly as the forward) where the parameters train, and an input gradient (as costly again)
// where the layer's input needs one. A network's first layer on data needs no input gradient; a frozen
// discriminator in the G step computes input gradients only, and none at all in branches fed by the
// condition alone.
#pragma once

#include <string>
#include <vector>

#include "fergan/core/config.h"
#include "fergan/models/options.h"

namespace fergan::models {

// Where a layer sits, which decides what backward computes for it.
enum class LayerRole {
  Entry,      // reads the network's main input (the sample for D, the condition for G)
  Inner,      // reads an activation computed from the main input
  SideEntry,  // reads the condition in a branch that does not depend on the main input
  SideInner,  // further layers of such a branch
};

struct LayerFlops {
  std::string name;
  double forward = 0;  // FLOPs per sample
  LayerRole role = LayerRole::Inner;
  int64_t weights = 0;  // the layer's weight count (bias excluded): multiply-adds per position
};

// The layers of each network at the given input size, in order (Img2Text networks see 64x64 images).
std::vector<LayerFlops> img2text_generator_flops(const Img2TextOptions& options, int64_t image_size = 64);
std::vector<LayerFlops> img2text_discriminator_flops(const Img2TextOptions& options, int64_t image_size = 64);
std::vector<LayerFlops> text2img_generator_flops(const Text2ImgOptions& options);
std::vector<LayerFlops> text2img_discriminator_flops(const Text2ImgOptions& options);

double forward_flops(const std::vector<LayerFlops>& layers);
// Backward FLOPs: with `trained` the weight gradients plus the input gradients the chain needs (the
// network's input being data); without, only the input gradients back to the main input (a frozen network
// whose input needs a gradient).
double backward_flops(const std::vector<LayerFlops>& layers, bool trained);

// FLOPs per training sample of one step of a phase ("img2text" | "text2img") under `config`: the D step (G
// forward; D forward and backward on real, fake, and mismatched pairs when matching-aware) and the G step
// (G backward, D forward and input-gradient backward; the G forward is the D step's, reused; with the
// mode-seeking term a fresh G forward and all of it twice, for two noise draws per sample).
struct StepFlops {
  double generator_forward = 0, discriminator_forward = 0;  // one forward pass per sample
  double d_step = 0, g_step = 0;
  double total() const { return d_step + g_step; }
};
StepFlops training_step_flops(const Config& config, const std::string& phase);

}  // namespace fergan::models
