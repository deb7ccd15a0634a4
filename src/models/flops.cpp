// FLOP counts of the networks and of a training step (see flops.h). The layer lists follow the constructors
// in img2text.cpp and text2img.cpp; tests/models/test_flops.cpp checks them against a hand count and the
// parameter counts of the built networks.
#include "fergan/models/flops.h"

#include <algorithm>

#include "fergan/core/check.h"

namespace fergan::models {

namespace {

// Must equal the image size step_inputs.cpp feeds the Image->Text networks.
constexpr int64_t kImg2TextImageSize = 64;

// A layer of `weights` weights applied at `positions` positions: 2 * weights * positions FLOPs. Conv: each
// output pixel reads every weight once. Transposed conv: each input pixel scatters through every weight once.
LayerFlops layer(std::string name, int64_t weights, int64_t positions, LayerRole role) {
  return {std::move(name), 2.0 * static_cast<double>(weights) * static_cast<double>(positions), role,
          weights};
}
LayerFlops conv(std::string name, int64_t in, int64_t out, int64_t k, int64_t out_size, LayerRole role) {
  return layer(std::move(name), in * out * k * k, out_size * out_size, role);
}
LayerFlops conv_transpose(std::string name, int64_t in, int64_t out, int64_t k, int64_t in_size,
                          LayerRole role) {
  return layer(std::move(name), in * out * k * k, in_size * in_size, role);
}
LayerFlops linear(std::string name, int64_t in, int64_t out, LayerRole role) {
  return layer(std::move(name), in * out, 1, role);
}

// Output size of a k4 s2 p1 conv: half.
void add_down_convs(std::vector<LayerFlops>& layers, const std::string& prefix,
                    const std::vector<int64_t>& widths, int64_t size, LayerRole first_role) {
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    size /= 2;
    const LayerRole role =
        i == 0 ? first_role : (first_role == LayerRole::SideEntry ? LayerRole::SideInner : LayerRole::Inner);
    layers.push_back(conv(prefix + std::to_string(i), widths[i], widths[i + 1], 4, size, role));
  }
}

}  // namespace

std::vector<LayerFlops> img2text_generator_flops(const Img2TextOptions& o, int64_t image_size) {
  std::vector<LayerFlops> layers;
  if (o.deep_encoder) {
    add_down_convs(layers, "features.conv", {3, 64, 128, 256, 256}, image_size, LayerRole::Entry);
    layers.push_back(linear("fc", 256 * 16, o.latent_dim, LayerRole::Inner));  // the pooled 4x4 map
  } else {
    add_down_convs(layers, "features.conv", {3, 64, 128, 256}, image_size, LayerRole::Entry);
    layers.push_back(linear("fc", 256, o.latent_dim, LayerRole::Inner));
  }
  return layers;
}

std::vector<LayerFlops> img2text_discriminator_flops(const Img2TextOptions& o, int64_t image_size) {
  std::vector<LayerFlops> layers{linear("trunk", o.latent_dim, o.hidden_dim, LayerRole::Entry),
                                 linear("head", o.hidden_dim, 1, LayerRole::Inner)};
  if (o.conditional) {
    const int64_t c = o.encoder_channels;
    add_down_convs(layers, "image_encoder.conv", {3, c, 2 * c, 4 * c}, image_size, LayerRole::SideEntry);
    layers.push_back(linear("projection", 4 * c, o.hidden_dim, LayerRole::SideInner));
  }
  return layers;
}

std::vector<LayerFlops> text2img_generator_flops(const Text2ImgOptions& o) {
  const int64_t input_dim = o.latent_dim + o.noise_dim;
  int64_t channels = o.ngf * 8, size = 8;
  std::vector<LayerFlops> layers{linear("fc", input_dim, channels * size * size, LayerRole::Entry)};
  for (int64_t b = 0; b < o.num_scale_blocks(); ++b) {
    const int64_t out = std::max<int64_t>(channels / 2, 16);
    layers.push_back(conv_transpose("up" + std::to_string(b), channels, out, 4, size, LayerRole::Inner));
    if (o.film)
      layers.push_back(linear("film" + std::to_string(b), input_dim, 2 * out, LayerRole::SideEntry));
    channels = out, size *= 2;
  }
  layers.push_back(conv_transpose("to_image", channels, o.channels, 3, size, LayerRole::Inner));
  return layers;
}

std::vector<LayerFlops> text2img_discriminator_flops(const Text2ImgOptions& o) {
  std::vector<LayerFlops> layers;
  int64_t in = o.channels, out = o.ndf, size = o.image_size;
  for (int64_t b = 0; b < o.num_scale_blocks(); ++b) {
    if (b > 0) out = std::max(o.ndf, std::min<int64_t>(in * 2, 512));
    size /= 2;
    layers.push_back(
        conv("down" + std::to_string(b), in, out, 4, size, b == 0 ? LayerRole::Entry : LayerRole::Inner));
    in = out;
  }
  FG_CHECK(size == 8 && in == o.discriminator_top_channels(),
           "text2img_discriminator_flops: channel rule mismatch");
  // The k4 s1 p0 head on the 8x8 map: 5x5 patch logits.
  layers.push_back(conv("head", in + (o.minibatch_std ? 1 : 0), 1, 4, 5, LayerRole::Inner));
  if (o.conditional) layers.push_back(linear("projection", o.latent_dim, in, LayerRole::SideEntry));
  return layers;
}

double forward_flops(const std::vector<LayerFlops>& layers) {
  double sum = 0;
  for (const auto& l : layers) sum += l.forward;
  return sum;
}

double backward_flops(const std::vector<LayerFlops>& layers, bool trained) {
  double sum = 0;
  for (const auto& l : layers) {
    const bool side = l.role == LayerRole::SideEntry || l.role == LayerRole::SideInner;
    const bool entry = l.role == LayerRole::Entry || l.role == LayerRole::SideEntry;
    if (trained) {
      sum += l.forward;              // weight gradient
      if (!entry) sum += l.forward;  // input gradient for the layer before
    } else if (!side) {
      sum += l.forward;  // input gradient back to the main input
    }
  }
  return sum;
}

StepFlops training_step_flops(const Config& config, const std::string& phase) {
  std::vector<LayerFlops> g, d;
  bool matching_aware = false, mode_seeking = false;
  if (phase == "img2text") {
    const auto o = Img2TextOptions::from(config);
    g = img2text_generator_flops(o, kImg2TextImageSize);
    d = img2text_discriminator_flops(o, kImg2TextImageSize);
    matching_aware = config.img2text.matching_aware;
  } else {
    FG_CHECK(phase == "text2img", "training_step_flops: unknown phase '", phase, "'");
    const auto o = Text2ImgOptions::from(config);
    g = text2img_generator_flops(o);
    d = text2img_discriminator_flops(o);
    matching_aware = config.text2img.matching_aware;
    mode_seeking = config.text2img.mode_seeking > 0;
  }
  StepFlops f;
  f.generator_forward = forward_flops(g);
  f.discriminator_forward = forward_flops(d);
  const double d_pass = f.discriminator_forward + backward_flops(d, /*trained=*/true);
  f.d_step = f.generator_forward + (matching_aware ? 3 : 2) * d_pass;
  const double g_pass = f.generator_forward + backward_flops(g, /*trained=*/true) + f.discriminator_forward +
                        backward_flops(d, /*trained=*/false);
  // Without the mode-seeking term the G step reuses the D step's generator output and graph: no second
  // forward.
  f.g_step = mode_seeking ? 2 * g_pass : g_pass - f.generator_forward;
  return f;
}

}  // namespace fergan::models
