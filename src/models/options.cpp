// Network options from the run configuration, and the size rule for 128/256 outputs (docs/original.md).
#include "fergan/models/options.h"

#include <algorithm>

#include "fergan/core/check.h"

namespace fergan::models {

Img2TextOptions Img2TextOptions::from(const Config& config) {
  Img2TextOptions o;
  o.latent_dim = config.img2text.latent_dim;
  o.conditional = config.img2text.conditional;
  o.deep_encoder = config.img2text.encoder == "deep";
  FG_CHECK(o.latent_dim > 0, "img2text.latent_dim: must be positive, got ", o.latent_dim);
  return o;
}

Text2ImgOptions Text2ImgOptions::from(const Config& config) {
  Text2ImgOptions o;
  o.latent_dim = config.text2img.latent_dim;
  o.ngf = config.text2img.ngf;
  o.ndf = config.text2img.ndf;
  o.image_size = config.text2img.image_size;
  o.noise_dim = config.text2img.noise_dim;
  o.conditional = config.text2img.conditional;
  o.channels = config.text2img.channels;
  o.spectral_norm = config.text2img.spectral_norm;
  o.minibatch_std = config.text2img.minibatch_std;
  o.film = config.text2img.film;
  o.num_classes = config.text2img.class_weight > 0 ? kNumEmotions : 0;
  o.subpixel = config.text2img.upsample == "subpixel";
  o.validate();
  return o;
}

void Text2ImgOptions::validate() const {
  FG_CHECK(image_size == 64 || image_size == 128 || image_size == 256,
           "text2img.image_size: must be 64, 128 or 256, got ", image_size);
  FG_CHECK(latent_dim > 0, "text2img.latent_dim: must be positive, got ", latent_dim);
  FG_CHECK(ngf > 0, "text2img.ngf: must be positive, got ", ngf);
  FG_CHECK(ndf > 0, "text2img.ndf: must be positive, got ", ndf);
  FG_CHECK(noise_dim >= 0, "text2img.noise_dim: must be >= 0, got ", noise_dim);
  FG_CHECK(channels == 1 || channels == 3, "text2img.channels: must be 1 or 3, got ", channels);
  FG_CHECK(num_classes >= 0, "text2img: the discriminator's class count must be >= 0, got ", num_classes);
}

int64_t Text2ImgOptions::num_scale_blocks() const {
  int64_t blocks = 0;
  for (int64_t s = 8; s < image_size; s *= 2) ++blocks;
  return blocks;
}

int64_t Text2ImgOptions::discriminator_top_channels() const {
  // First block: 3 -> ndf; each further block doubles, capped at 512 (but never below ndf itself, so a
  // user's ndf > 512 still builds).
  int64_t channels = ndf;
  for (int64_t b = 1; b < num_scale_blocks(); ++b)
    channels = std::max(ndf, std::min<int64_t>(channels * 2, 512));
  return channels;
}

}  // namespace fergan::models
