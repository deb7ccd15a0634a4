// Metrics that tell a working text<->image GAN from a broken one, free of any model or trainer code.
//
// The original project's evaluation printed one CLIP number that ranked real images below its own collapsed
// outputs. These are the statistics that catch that kind of failure, each computed from plain tensors so that
// tests can feed them known answers:
//   - emotion retrieval: nearest caption embedding by cosine -> top-1 accuracy, per class, confusion matrix,
//     mean cosine to the true caption (Image->Text);
//   - diversity: mean pairwise RMS pixel distance among samples of one caption vs. among real images of that
//     emotion, with a mode-collapse flag (Text->Image);
//   - Fréchet distance between two feature sets (FID-style, on any features, computed in float64);
//   - CLIP score from CLIP image and text features (both L2-normalised).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fergan::eval {

// ---- Emotion retrieval ------------------------------------------------------------------------------------

struct RetrievalResult {
  int64_t num_samples = 0;
  double accuracy = 0.0;                   // top-1: label of the nearest caption == true label
  std::vector<double> per_class_accuracy;  // [K]; NaN for a class without samples
  std::vector<int64_t> per_class_count;    // [K]
  torch::Tensor confusion;                 // int64 [K, K]: rows = true label, columns = predicted label
  double mean_cosine_true = 0.0;  // mean cosine between each prediction and its own (true) caption embedding
  torch::Tensor similarities;     // float32 [N, C]: cosine of every prediction with every caption
  torch::Tensor predicted_caption;  // int64 [N]: argmax over captions
  torch::Tensor predicted_label;    // int64 [N]: caption_labels[predicted_caption]
};

// predictions [N, D] (e.g. Img2Text generator outputs), captions [C, D], caption_labels [C] in [0, K),
// true_labels [N], true_captions [N] (index of the caption each sample was paired with; used for the
// mean cosine). Cosine similarity is scale-free, so neither side needs to be normalised by the caller.
RetrievalResult emotion_retrieval(const torch::Tensor& predictions, const torch::Tensor& captions,
                                  const torch::Tensor& caption_labels, const torch::Tensor& true_labels,
                                  const torch::Tensor& true_captions, int64_t num_classes);

// ---- Diversity / mode collapse
// ------------------------------------------------------------------------------

// A caption's samples count as collapsed when their mean pairwise distance is below this fraction of the same
// statistic over real images of that emotion. Why 0.25: real FER2013 faces of one emotion differ by an RMS of
// roughly 0.5-0.6 (on the [-1, 1] scale) because pose, identity and lighting vary; a generator that honours
// its noise input keeps a large share of that. The original's collapsed generator scored ~0.001 of it
// (0.12/255 mean pixel difference). A quarter leaves room for a GAN that is merely less varied than the data,
// while still flagging the collapsed case by two orders of magnitude.
constexpr double kDefaultCollapseThreshold = 0.25;

// Mean over all unordered pairs (i < j) of the RMS difference between images i and j:
// sqrt(mean((x_i - x_j)^2)). images [N, ...] (N >= 2), any value scale; resolution-independent.
double mean_pairwise_distance(const torch::Tensor& images);

struct DiversityEntry {
  int64_t label = 0;
  double generated = 0.0;  // mean pairwise distance among generated samples of this caption/emotion
  double real = 0.0;       // the same among real images of this emotion
  double ratio = 0.0;      // generated / real
  bool collapsed = false;  // ratio < threshold
};

struct DiversityResult {
  std::vector<DiversityEntry> per_class;
  double mean_ratio = 0.0;
  bool any_collapsed = false;
  double threshold = kDefaultCollapseThreshold;
  // Pairwise distance between samples of different emotions divided by the within-emotion distance of the
  // samples: ~1 when the output ignores the emotion (NaN when fewer than two classes are present).
  double between_over_within = 0.0;
};

// generated [N, ...] with gen_labels [N]; real [M, ...] with real_labels [M]; both at the same resolution.
// Classes missing from either side are skipped; a class needs >= 2 images on both sides.
DiversityResult diversity(const torch::Tensor& generated, const torch::Tensor& gen_labels,
                          const torch::Tensor& real, const torch::Tensor& real_labels,
                          double threshold = kDefaultCollapseThreshold);

// ---- Fréchet distance
// ---------------------------------------------------------------------------------------

struct GaussianStats {
  torch::Tensor mean;        // float64 [D]
  torch::Tensor covariance;  // float64 [D, D], unbiased (N - 1)
};

// Mean and covariance of features [N, D] (N >= 2), in float64.
GaussianStats gaussian_stats(const torch::Tensor& features);

// ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), with tr((S1 S2)^(1/2)) computed as the sum of the
// square roots of the eigenvalues of the symmetric PSD matrix S1^(1/2) S2 S1^(1/2) (same spectrum as S1 S2),
// eigen-decompositions by torch::linalg_eigh in float64; tiny negative eigenvalues from rounding are clamped
// to 0.
double frechet_distance(const GaussianStats& a, const GaussianStats& b);
double frechet_distance(const torch::Tensor& features_a, const torch::Tensor& features_b);

// ---- CLIP score
// ---------------------------------------------------------------------------------------------

struct ClipScoreResult {
  // Per-sample: cos(image_i, text_{caption_i}) after L2-normalising both. Score = 100 * max(cos, 0), the
  // torchmetrics CLIPScore definition; "mean_cosine" keeps the raw cosine (the unit the original printed).
  double score = 0.0;
  double mean_cosine = 0.0;
  std::vector<double> per_caption_score;   // [C]; NaN for captions without samples
  std::vector<double> per_caption_cosine;  // [C]
  std::vector<int64_t> per_caption_count;  // [C]
};

// image_features [N, E] (CLIP image tower outputs of CLIP-preprocessed images), text_features [C, E],
// caption_of_image [N] in [0, C).
ClipScoreResult clip_score(const torch::Tensor& image_features, const torch::Tensor& text_features,
                           const torch::Tensor& caption_of_image);

}  // namespace fergan::eval
