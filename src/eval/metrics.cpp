// Retrieval, diversity, Fréchet distance and CLIP score on plain tensors (see metrics.h for the definitions).
#include "fergan/eval/metrics.h"

#include <cmath>
#include <limits>

#include "fergan/core/check.h"

namespace fergan::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

torch::Tensor as_int64_cpu(const torch::Tensor& t) {
  return t.to(torch::kCPU, torch::kLong).contiguous();
}

// Pairwise RMS distances [N, N] of the flattened images, in float64.
torch::Tensor pairwise_rms(const torch::Tensor& images) {
  auto flat = images.reshape({images.size(0), -1}).to(torch::kCPU, torch::kDouble);
  const double dims = static_cast<double>(flat.size(1));
  return torch::cdist(flat, flat) / std::sqrt(dims);
}

}  // namespace

RetrievalResult emotion_retrieval(const torch::Tensor& predictions, const torch::Tensor& captions,
                                  const torch::Tensor& caption_labels, const torch::Tensor& true_labels,
                                  const torch::Tensor& true_captions, int64_t num_classes) {
  FG_CHECK(predictions.dim() == 2 && captions.dim() == 2,
           "emotion_retrieval: predictions [N, D] and captions [C, D] ", "expected, got ",
           predictions.sizes(), " and ", captions.sizes());
  FG_CHECK(predictions.size(1) == captions.size(1), "emotion_retrieval: prediction dim ", predictions.size(1),
           " != caption embedding dim ", captions.size(1));
  const int64_t n = predictions.size(0), c = captions.size(0);
  FG_CHECK(n > 0 && c > 0, "emotion_retrieval: empty input (", n, " predictions, ", c, " captions)");
  FG_CHECK(caption_labels.numel() == c, "emotion_retrieval: ", caption_labels.numel(), " caption labels for ",
           c, " captions");
  FG_CHECK(true_labels.numel() == n && true_captions.numel() == n, "emotion_retrieval: ", true_labels.numel(),
           " labels / ", true_captions.numel(), " caption indices for ", n, " predictions");

  auto pred = torch::nn::functional::normalize(predictions.to(torch::kCPU, torch::kFloat),
                                               torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto caps = torch::nn::functional::normalize(captions.to(torch::kCPU, torch::kFloat),
                                               torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto cap_labels = as_int64_cpu(caption_labels);
  auto labels = as_int64_cpu(true_labels);
  auto true_caps = as_int64_cpu(true_captions);
  FG_CHECK(cap_labels.min().item<int64_t>() >= 0 && cap_labels.max().item<int64_t>() < num_classes,
           "emotion_retrieval: caption labels outside [0, ", num_classes, ")");
  FG_CHECK(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < num_classes,
           "emotion_retrieval: true labels outside [0, ", num_classes, ")");
  FG_CHECK(true_caps.min().item<int64_t>() >= 0 && true_caps.max().item<int64_t>() < c,
           "emotion_retrieval: true caption indices outside [0, ", c, ")");

  RetrievalResult r;
  r.num_samples = n;
  r.similarities = pred.matmul(caps.t());  // [N, C]
  r.predicted_caption = r.similarities.argmax(1);
  r.predicted_label = cap_labels.index_select(0, r.predicted_caption);
  r.confusion = torch::zeros({num_classes, num_classes}, torch::kLong);
  auto conf = r.confusion.accessor<int64_t, 2>();
  auto t = labels.accessor<int64_t, 1>();
  auto p = r.predicted_label.accessor<int64_t, 1>();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    conf[t[i]][p[i]] += 1;
    correct += (t[i] == p[i]);
  }
  r.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  for (int64_t k = 0; k < num_classes; ++k) {
    int64_t row = 0;
    for (int64_t j = 0; j < num_classes; ++j) row += conf[k][j];
    r.per_class_count.push_back(row);
    r.per_class_accuracy.push_back(row > 0 ? static_cast<double>(conf[k][k]) / static_cast<double>(row)
                                           : kNaN);
  }
  r.mean_cosine_true =
      r.similarities.gather(1, true_caps.unsqueeze(1)).to(torch::kDouble).mean().item<double>();
  return r;
}

double mean_pairwise_distance(const torch::Tensor& images) {
  FG_CHECK(images.dim() >= 1 && images.size(0) >= 2, "mean_pairwise_distance: need at least 2 images, got ",
           images.dim() >= 1 ? images.size(0) : 0);
  const int64_t n = images.size(0);
  auto d = pairwise_rms(images);
  // The diagonal is zero; every unordered pair appears twice in the full matrix.
  return d.sum().item<double>() / static_cast<double>(n * (n - 1));
}

DiversityResult diversity(const torch::Tensor& generated, const torch::Tensor& gen_labels,
                          const torch::Tensor& real, const torch::Tensor& real_labels, double threshold) {
  FG_CHECK(generated.size(0) == gen_labels.numel(), "diversity: ", generated.size(0),
           " generated images but ", gen_labels.numel(), " labels");
  FG_CHECK(real.size(0) == real_labels.numel(), "diversity: ", real.size(0), " real images but ",
           real_labels.numel(), " labels");
  FG_CHECK(generated.sizes().slice(1) == real.sizes().slice(1), "diversity: generated ", generated.sizes(),
           " and real ", real.sizes(), " images must have the same shape (resize first)");
  DiversityResult result;
  result.threshold = threshold;
  auto gl = as_int64_cpu(gen_labels), rl = as_int64_cpu(real_labels);
  const int64_t max_label =
      std::max(gl.numel() ? gl.max().item<int64_t>() : -1, rl.numel() ? rl.max().item<int64_t>() : -1);
  double ratio_sum = 0.0;
  for (int64_t k = 0; k <= max_label; ++k) {
    auto gi = (gl == k).nonzero().squeeze(1), ri = (rl == k).nonzero().squeeze(1);
    if (gi.numel() < 2 || ri.numel() < 2) continue;
    DiversityEntry e;
    e.label = k;
    e.generated = mean_pairwise_distance(generated.index_select(0, gi.to(generated.device())));
    e.real = mean_pairwise_distance(real.index_select(0, ri.to(real.device())));
    e.ratio =
        e.real > 0 ? e.generated / e.real : (e.generated > 0 ? std::numeric_limits<double>::infinity() : 1.0);
    e.collapsed = e.ratio < threshold;
    result.any_collapsed = result.any_collapsed || e.collapsed;
    ratio_sum += e.ratio;
    result.per_class.push_back(e);
  }
  FG_CHECK(!result.per_class.empty(), "diversity: no emotion has at least 2 generated and 2 real images");
  result.mean_ratio = ratio_sum / static_cast<double>(result.per_class.size());

  // Between- vs. within-emotion distance among the generated samples.
  auto d = pairwise_rms(generated);
  auto same = gl.unsqueeze(0) == gl.unsqueeze(1);
  auto off_diag = torch::ones_like(same) ^ torch::eye(gl.numel(), torch::kBool);
  auto within_mask = same & off_diag, between_mask = ~same;
  const int64_t n_within = within_mask.sum().item<int64_t>(), n_between = between_mask.sum().item<int64_t>();
  if (n_within > 0 && n_between > 0) {
    const double within = d.masked_select(within_mask).mean().item<double>();
    const double between = d.masked_select(between_mask).mean().item<double>();
    // Identical samples everywhere (0 / 0): the output ignores the emotion, which is what a ratio of 1 says.
    result.between_over_within =
        within > 0 ? between / within : (between > 0 ? std::numeric_limits<double>::infinity() : 1.0);
  } else {
    result.between_over_within = kNaN;
  }
  return result;
}

GaussianStats gaussian_stats(const torch::Tensor& features) {
  FG_CHECK(features.dim() == 2 && features.size(0) >= 2,
           "gaussian_stats: features [N >= 2, D] expected, got ", features.sizes());
  auto x = features.to(torch::kCPU, torch::kDouble);
  GaussianStats s;
  s.mean = x.mean(0);
  auto centred = x - s.mean;
  s.covariance = centred.t().matmul(centred) / static_cast<double>(x.size(0) - 1);
  return s;
}

namespace {
// Symmetric PSD square root via eigh: V diag(sqrt(max(l, 0))) V^T.
torch::Tensor sqrtm_psd(const torch::Tensor& sym) {
  auto [values, vectors] = torch::linalg_eigh((sym + sym.t()) / 2.0, "L");
  return vectors.matmul(torch::diag(values.clamp_min(0).sqrt())).matmul(vectors.t());
}
}  // namespace

double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  FG_CHECK(a.mean.numel() == b.mean.numel(), "frechet_distance: feature dims differ (", a.mean.numel(),
           " vs ", b.mean.numel(), ")");
  auto s1 = a.covariance.to(torch::kDouble), s2 = b.covariance.to(torch::kDouble);
  auto diff = (a.mean - b.mean).to(torch::kDouble);
  auto root1 = sqrtm_psd(s1);
  auto middle = root1.matmul(s2).matmul(root1);
  auto middle_values = torch::linalg_eigvalsh((middle + middle.t()) / 2.0, "L");
  const double tr_sqrt = middle_values.clamp_min(0).sqrt().sum().item<double>();
  const double value =
      diff.dot(diff).item<double>() + s1.trace().item<double>() + s2.trace().item<double>() - 2.0 * tr_sqrt;
  return std::max(0.0, value);  // rounding can push an exact 0 slightly negative
}

double frechet_distance(const torch::Tensor& features_a, const torch::Tensor& features_b) {
  return frechet_distance(gaussian_stats(features_a), gaussian_stats(features_b));
}

ClipScoreResult clip_score(const torch::Tensor& image_features, const torch::Tensor& text_features,
                           const torch::Tensor& caption_of_image) {
  FG_CHECK(image_features.dim() == 2 && text_features.dim() == 2 &&
               image_features.size(1) == text_features.size(1),
           "clip_score: image features [N, E] and text features [C, E] expected, got ",
           image_features.sizes(), " and ", text_features.sizes());
  FG_CHECK(caption_of_image.numel() == image_features.size(0), "clip_score: ", caption_of_image.numel(),
           " caption indices for ", image_features.size(0), " images");
  FG_CHECK(image_features.size(0) > 0, "clip_score: no images");
  namespace F = torch::nn::functional;
  auto img = F::normalize(image_features.to(torch::kCPU, torch::kDouble), F::NormalizeFuncOptions().dim(1));
  auto txt = F::normalize(text_features.to(torch::kCPU, torch::kDouble), F::NormalizeFuncOptions().dim(1));
  auto caps = as_int64_cpu(caption_of_image);
  const int64_t c = txt.size(0);
  FG_CHECK(caps.min().item<int64_t>() >= 0 && caps.max().item<int64_t>() < c,
           "clip_score: caption index outside [0, ", c, ")");
  auto cosine = (img * txt.index_select(0, caps)).sum(1);  // [N]
  auto score = (cosine * 100.0).clamp_min(0);
  ClipScoreResult r;
  r.score = score.mean().item<double>();
  r.mean_cosine = cosine.mean().item<double>();
  for (int64_t k = 0; k < c; ++k) {
    auto mask = caps == k;
    const int64_t count = mask.sum().item<int64_t>();
    r.per_caption_count.push_back(count);
    r.per_caption_score.push_back(count ? score.masked_select(mask).mean().item<double>() : kNaN);
    r.per_caption_cosine.push_back(count ? cosine.masked_select(mask).mean().item<double>() : kNaN);
  }
  return r;
}

}  // namespace fergan::eval
