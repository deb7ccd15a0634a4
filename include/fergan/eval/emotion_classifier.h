// A small emotion classifier that fergan_eval trains itself, for Classification Accuracy Scores (CAS).
//
// CAS (Ravuri & Vinyals 2019) asks whether generated images carry the class they were conditioned on:
//   - train on real, test on generated: do the samples look like their emotion to a model of real faces?
//   - train on generated, test on real: do the samples hold enough of each emotion to teach it?
// Both are read next to the same classifier's accuracy on real test images (the ceiling). The network is a
// tiny CNN on grayscale 48x48 (FER2013's native size), small enough to train for a few epochs on a CPU.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace fergan::eval {

struct ClassifierOptions {
  int64_t image_size = 48;  // inputs are converted to grayscale and resized to this
  int64_t num_classes = 7;
  int epochs = 8;
  int64_t batch_size = 64;
  double lr = 1e-3;
  bool flip_augment = true;  // random horizontal flips while training (faces are roughly symmetric)
  uint64_t seed = 0;
  torch::Device device = torch::kCPU;
};

// conv3x3(1->32)+BN+ReLU+pool -> conv(32->64)+BN+ReLU+pool -> conv(64->128)+BN+ReLU+pool -> global avg ->
// dropout -> linear(128 -> classes).
struct EmotionClassifierImpl : torch::nn::Module {
  explicit EmotionClassifierImpl(int64_t num_classes = 7);
  torch::Tensor forward(torch::Tensor x);  // [B, 1, S, S] in [-1, 1] -> logits [B, classes]

  torch::nn::Sequential features{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(EmotionClassifier);

// [B, C, H, W] images in [-1, 1] (C = 1 or 3) -> float32 [B, 1, size, size] grayscale, bilinear resize.
torch::Tensor classifier_input(const torch::Tensor& images, int64_t size);

// Trains a fresh classifier on images [N, C, H, W] in [-1, 1] with labels [N]; returns it in eval mode.
EmotionClassifier train_classifier(const torch::Tensor& images, const torch::Tensor& labels,
                                   const ClassifierOptions& options);

// Predicted labels [N] (int64, CPU).
torch::Tensor classifier_predict(EmotionClassifier& model, const torch::Tensor& images,
                                 const ClassifierOptions& options);

// Penultimate features [N, 128] (after global pooling): a domain-specific embedding for Fréchet distance.
torch::Tensor classifier_features(EmotionClassifier& model, const torch::Tensor& images,
                                  const ClassifierOptions& options);

// Fraction of images whose predicted label equals labels.
double classifier_accuracy(EmotionClassifier& model, const torch::Tensor& images, const torch::Tensor& labels,
                           const ClassifierOptions& options);

struct CasResult {
  double real_accuracy = 0.0;        // train real -> test real (the reference)
  double train_real_test_gen = 0.0;  // CAS, one way
  double train_gen_test_real = 0.0;  // CAS, the other way
  int64_t real_train = 0, real_test = 0, generated = 0;
};

// One classifier on real_train answers real_accuracy and train_real_test_gen; a second one trained on the
// generated images answers train_gen_test_real.
CasResult classification_accuracy_scores(
    const torch::Tensor& real_train, const torch::Tensor& real_train_labels, const torch::Tensor& real_test,
    const torch::Tensor& real_test_labels, const torch::Tensor& generated,
    const torch::Tensor& generated_labels, const ClassifierOptions& options);

}  // namespace fergan::eval
