// The two GANs behind the Gan interface (see gan.h).
#include "fergan/gan/gan.h"

#include "fergan/core/check.h"

namespace fergan::gan {

AdamSettings AdamSettings::from(const Config& config) {
  return AdamSettings{config.train.lr, config.train.beta1, config.train.beta2, config.train.adam_eps};
}

torch::optim::AdamOptions AdamSettings::options() const {
  return torch::optim::AdamOptions(lr).betas(std::make_tuple(beta1, beta2)).eps(eps);
}

GanOptions GanOptions::from(const Config& config, const std::string& phase) {
  GanOptions o;
  o.amp = amp::parse(config.train.amp);
  if (phase == "img2text") {
    const auto& c = config.img2text;
    o.matching_aware = c.matching_aware;
    o.loss = c.loss == "hinge" ? Loss::Hinge : Loss::Bce;
    o.supervised = c.supervised_weight;
    o.ema_decay = c.ema_decay;
  } else {
    FG_CHECK(phase == "text2img", "unknown phase '", phase, "' (expected img2text or text2img)");
    const auto& c = config.text2img;
    o.matching_aware = c.matching_aware;
    o.loss = c.loss == "hinge" ? Loss::Hinge : Loss::Bce;
    o.mode_seeking = c.mode_seeking;
    o.class_weight = c.class_weight;
    o.augment = AugmentPolicy::parse(c.augment, "text2img.augment");
    o.ema_decay = c.ema_decay;
    o.channels_last = config.train.channels_last;
  }
  return o;
}

std::pair<torch::Tensor, torch::Tensor> Gan::discriminate_with_classes(const torch::Tensor&,
                                                                       const torch::Tensor&) {
  FG_CHECK(false, "this GAN's discriminator has no emotion classifier");
  return {};
}

Gan::Gan(std::shared_ptr<torch::nn::Module> generator, std::shared_ptr<torch::nn::Module> discriminator,
         const GanOptions& options, const AdamSettings& adam, torch::Device device)
    : generator_(std::move(generator)), discriminator_(std::move(discriminator)), options_(options) {
  generator_->to(device);
  discriminator_->to(device);
  // Built after the move, so the optimizers hold the device tensors.
  generator_optimizer_ = std::make_unique<torch::optim::Adam>(generator_->parameters(), adam.options());
  discriminator_optimizer_ =
      std::make_unique<torch::optim::Adam>(discriminator_->parameters(), adam.options());
  if (options_.ema_decay > 0)
    average_ = std::make_unique<WeightAverage>(generator_->clone(device), options_.ema_decay);
}

namespace {
// An unconditional discriminator never sees which condition a sample belongs to, so a "wrong pair" would
// just be a real sample labelled fake.
template <typename Options>
const Options& check_matching_aware(const Options& networks, const GanOptions& options, const char* phase) {
  FG_CHECK(!options.matching_aware || networks.conditional, phase, ".matching_aware = true needs ", phase,
           ".conditional = true");
  return networks;
}
}  // namespace

// The generator is built (and initialised from LibTorch's global generator) before the discriminator, in
// statements rather than as arguments, whose order of evaluation C++ leaves open.
std::pair<models::Img2TextGenerator, models::Img2TextDiscriminator> Img2TextGan::make_networks(
    const models::Img2TextOptions& options) {
  models::Img2TextGenerator g(options);
  models::Img2TextDiscriminator d(options);
  return {g, d};
}

Img2TextGan::Img2TextGan(const models::Img2TextOptions& networks, const GanOptions& options,
                         const AdamSettings& adam, torch::Device device)
    : Img2TextGan(make_networks(check_matching_aware(networks, options, "img2text")), options, adam, device) {
}

Img2TextGan::Img2TextGan(std::pair<models::Img2TextGenerator, models::Img2TextDiscriminator> networks,
                         const GanOptions& options, const AdamSettings& adam, torch::Device device)
    : Gan(networks.first.ptr(), networks.second.ptr(), options, adam, device),
      G(networks.first),
      D(networks.second) {}

torch::Tensor Img2TextGan::run_generator(torch::nn::Module& generator, const torch::Tensor& images,
                                         const torch::Tensor& noise) {
  FG_CHECK(!noise.defined(), "Img2TextGan: the Image->Text generator takes no noise");
  return dynamic_cast<models::Img2TextGeneratorImpl&>(generator).forward(images);
}

torch::Tensor Img2TextGan::discriminate(const torch::Tensor& embeddings, const torch::Tensor& images) {
  return D->forward(embeddings, images);
}

std::pair<models::Text2ImageGenerator, models::Text2ImageDiscriminator> Text2ImgGan::make_networks(
    const models::Text2ImgOptions& options) {
  models::Text2ImageGenerator g(options);
  models::Text2ImageDiscriminator d(options);
  return {g, d};
}

Text2ImgGan::Text2ImgGan(const models::Text2ImgOptions& networks, const GanOptions& options,
                         const AdamSettings& adam, torch::Device device)
    : Text2ImgGan(make_networks(check_matching_aware(networks, options, "text2img")), options, adam, device) {
}

Text2ImgGan::Text2ImgGan(std::pair<models::Text2ImageGenerator, models::Text2ImageDiscriminator> networks,
                         const GanOptions& options, const AdamSettings& adam, torch::Device device)
    : Gan(networks.first.ptr(), networks.second.ptr(), options, adam, device),
      G(networks.first),
      D(networks.second) {
  if (options.channels_last) {
    // In place (set_data), so the optimizers built above keep the same parameter tensors. A convolution
    // whose weight is channels_last produces channels_last output, so the layout then carries through.
    torch::NoGradGuard no_grad;
    for (auto* net : {&generator(), &discriminator()})
      for (auto& p : net->parameters())
        if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

torch::Tensor Text2ImgGan::run_generator(torch::nn::Module& generator, const torch::Tensor& embeddings,
                                         const torch::Tensor& noise) {
  return dynamic_cast<models::Text2ImageGeneratorImpl&>(generator).forward(embeddings, noise);
}

torch::Tensor Text2ImgGan::discriminate(const torch::Tensor& images, const torch::Tensor& embeddings) {
  if (options().channels_last)
    return D->forward(images.contiguous(torch::MemoryFormat::ChannelsLast), embeddings);
  return D->forward(images, embeddings);
}

std::pair<torch::Tensor, torch::Tensor> Text2ImgGan::discriminate_with_classes(
    const torch::Tensor& images, const torch::Tensor& embeddings) {
  if (options().channels_last)
    return D->forward_with_classes(images.contiguous(torch::MemoryFormat::ChannelsLast), embeddings);
  return D->forward_with_classes(images, embeddings);
}

void Text2ImgGan::set_batch_stats_all_reduce(std::shared_ptr<models::BatchStatsAllReduce> all_reduce) {
  G->batch_stats_all_reduce = all_reduce;
  D->batch_stats_all_reduce = all_reduce;
}

std::unique_ptr<Gan> make_gan(const Config& config, const std::string& phase, torch::Device device) {
  const AdamSettings adam = AdamSettings::from(config);
  const GanOptions options = GanOptions::from(config, phase);
  if (phase == "img2text")
    return std::make_unique<Img2TextGan>(models::Img2TextOptions::from(config), options, adam, device);
  return std::make_unique<Text2ImgGan>(models::Text2ImgOptions::from(config), options, adam, device);
}

}  // namespace fergan::gan
