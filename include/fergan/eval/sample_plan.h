// How many images fergan_eval's Text->Image scores use, fitted to the data at hand.
//
// The scores compare, per emotion, m generated images with m real images of the training split (the
// reference set: the "real images" baseline, scored exactly like the samples) and learn an emotion classifier
// from other real images of that split, disjoint from the reference set. The defaults (m = 100, 6,000
// classifier images) suit FER2013's 28,709 training faces; a small run (the README demo trains on 60 faces
// per emotion) cannot supply them. Rather than stop, the sizes shrink to what the split holds, each change is
// recorded as a SizeNote (printed, and kept in metrics.json under "adjustments"), and the scores are computed
// on the smaller sets. On FER2013 nothing changes: the plan is then exactly the requested sizes.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fergan::eval {

// One size fergan_eval used instead of the one asked for, and why.
struct SizeNote {
  std::string setting;  // the option or figure it concerns, e.g. "samples_per_emotion"
  int64_t requested = 0, used = 0;
  std::string reason;
};

struct SamplePlan {
  int64_t per_emotion = 0;          // generated and reference images per emotion
  int64_t grid_columns = 0;         // images per emotion row in the sample figures
  std::vector<int64_t> reference;   // indices into the split: per_emotion of every emotion it holds
  std::vector<int64_t> classifier;  // the classifier's training images, disjoint from `reference`
  std::vector<SizeNote> notes;      // every size that differs from the request
};

// labels: int64 [N] of the split named `split`, in [0, emotion_names.size()). Walks a seeded permutation of
// the split: an image joins the reference set while its emotion has fewer than per_emotion there, otherwise
// the classifier's set while that has fewer than classifier_train_samples. per_emotion is
// samples_per_emotion, capped at half the images of the split's smallest emotion (the other half, at least,
// teaches the classifier). grid_columns is grid_columns capped at per_emotion. Emotions the split lacks get
// no reference images (a note says so). Error, naming the split and the emotion, when an emotion has fewer
// than 4 images (2 for each side).
SamplePlan plan_samples(const torch::Tensor& labels, const std::vector<std::string>& emotion_names,
                        const std::string& split, int64_t samples_per_emotion,
                        int64_t classifier_train_samples, int64_t grid_columns, uint64_t seed);

// "samples_per_emotion 100 -> 30: <reason>", the line fergan_eval prints for a note.
std::string describe(const SizeNote& note);

}  // namespace fergan::eval
