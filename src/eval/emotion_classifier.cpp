// The CAS emotion classifier: a tiny CNN, its training loop and the two-way scores (see
// emotion_classifier.h).
#include "fergan/eval/emotion_classifier.h"

#include <functional>

#include "fergan/core/check.h"
#include "fergan/data/image_tensor.h"

namespace fergan::eval {

namespace {
// conv3x3 + BatchNorm + ReLU + 2x2 max-pool, appended to one flat Sequential (LibTorch cannot nest them).
void add_conv_block(torch::nn::Sequential& seq, int64_t in, int64_t out) {
  seq->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
  seq->push_back(torch::nn::BatchNorm2d(out));
  seq->push_back(torch::nn::ReLU());
  seq->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
}
}  // namespace

EmotionClassifierImpl::EmotionClassifierImpl(int64_t num_classes) {
  torch::nn::Sequential seq;
  add_conv_block(seq, 1, 32);
  add_conv_block(seq, 32, 64);
  add_conv_block(seq, 64, 128);
  seq->push_back(torch::nn::AdaptiveAvgPool2d(1));
  features = register_module("features", seq);
  dropout = register_module("dropout", torch::nn::Dropout(0.3));
  head = register_module("head", torch::nn::Linear(128, num_classes));
}

torch::Tensor EmotionClassifierImpl::forward(torch::Tensor x) {
  return head(dropout(features->forward(x).flatten(1)));
}

torch::Tensor classifier_input(const torch::Tensor& images, int64_t size) {
  FG_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3),
           "classifier_input: images [B, 1|3, H, W] expected, got ", images.sizes());
  return data::resize_bilinear(data::with_channels(images.to(torch::kFloat), 1), size);
}

EmotionClassifier train_classifier(const torch::Tensor& images, const torch::Tensor& labels,
                                   const ClassifierOptions& options) {
  FG_CHECK(images.size(0) == labels.numel() && images.size(0) > 0, "train_classifier: ", images.size(0),
           " images and ", labels.numel(), " labels");
  torch::manual_seed(options.seed);
  EmotionClassifier model(options.num_classes);
  model->to(options.device);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(options.lr));
  auto inputs = classifier_input(images.to(torch::kCPU), options.image_size);
  auto targets = labels.to(torch::kCPU, torch::kLong);
  const int64_t n = inputs.size(0);
  model->train();
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    auto order = torch::randperm(n, torch::kLong);
    for (int64_t start = 0; start < n; start += options.batch_size) {
      auto idx = order.slice(0, start, std::min(n, start + options.batch_size));
      if (idx.numel() < 2) continue;  // BatchNorm needs more than one sample
      auto x = inputs.index_select(0, idx);
      if (options.flip_augment) {
        auto flip = torch::rand({x.size(0)}) < 0.5;
        x = torch::where(flip.view({-1, 1, 1, 1}), x.flip({3}), x);
      }
      auto logits = model->forward(x.to(options.device));
      auto loss =
          torch::nn::functional::cross_entropy(logits, targets.index_select(0, idx).to(options.device));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    }
  }
  model->eval();
  return model;
}

namespace {

// Runs `head` over the classifier inputs of `images` in batches of options.batch_size, results on the CPU.
torch::Tensor map_batches(EmotionClassifier& model, const torch::Tensor& images,
                          const ClassifierOptions& options,
                          const std::function<torch::Tensor(const torch::Tensor&)>& head,
                          const torch::Tensor& if_empty) {
  torch::NoGradGuard no_grad;
  model->eval();
  auto inputs = classifier_input(images.to(torch::kCPU), options.image_size);
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start < inputs.size(0); start += options.batch_size) {
    auto x = inputs.slice(0, start, std::min(inputs.size(0), start + options.batch_size)).to(options.device);
    out.push_back(head(x).to(torch::kCPU));
  }
  return out.empty() && if_empty.defined() ? if_empty : torch::cat(out);
}

}  // namespace

torch::Tensor classifier_predict(EmotionClassifier& model, const torch::Tensor& images,
                                 const ClassifierOptions& options) {
  return map_batches(
      model, images, options, [&](const torch::Tensor& x) { return model->forward(x).argmax(1); },
      torch::empty({0}, torch::kLong));
}

torch::Tensor classifier_features(EmotionClassifier& model, const torch::Tensor& images,
                                  const ClassifierOptions& options) {
  return map_batches(
      model, images, options, [&](const torch::Tensor& x) { return model->features->forward(x).flatten(1); },
      torch::Tensor());
}

double classifier_accuracy(EmotionClassifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                           const ClassifierOptions& options) {
  FG_CHECK(images.size(0) == labels.numel() && images.size(0) > 0, "classifier_accuracy: ", images.size(0),
           " images and ", labels.numel(), " labels");
  auto predicted = classifier_predict(model, images, options);
  return (predicted == labels.to(torch::kCPU, torch::kLong)).to(torch::kDouble).mean().item<double>();
}

CasResult classification_accuracy_scores(
    const torch::Tensor& real_train, const torch::Tensor& real_train_labels, const torch::Tensor& real_test,
    const torch::Tensor& real_test_labels, const torch::Tensor& generated,
    const torch::Tensor& generated_labels, const ClassifierOptions& options) {
  CasResult r;
  r.real_train = real_train.size(0);
  r.real_test = real_test.size(0);
  r.generated = generated.size(0);
  auto on_real = train_classifier(real_train, real_train_labels, options);
  r.real_accuracy = classifier_accuracy(on_real, real_test, real_test_labels, options);
  r.train_real_test_gen = classifier_accuracy(on_real, generated, generated_labels, options);
  auto on_generated = train_classifier(generated, generated_labels, options);
  r.train_gen_test_real = classifier_accuracy(on_generated, real_test, real_test_labels, options);
  return r;
}

}  // namespace fergan::eval
