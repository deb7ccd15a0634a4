// Bucketed gradient all-reduce that overlaps communication with backward, as DDP does.
//
// BucketReducer plugs into the GAN steps through gan::GradSync: begin(params) before backward, end(params)
// after. Gradients are packed into flat buckets of about bucket_mb megabytes, filled in reverse parameter
// order, because backward produces the last layers' gradients first. A hook on every parameter (registered
// once, fired once per backward with that parameter's summed gradient) copies the gradient into its bucket;
// as soon as a bucket is full its asynchronous all-reduce starts while backward goes on. Buckets are started
// strictly in bucket order, which keeps the collective sequence identical on every rank. end() starts any
// bucket still pending (parameters that got no gradient on this rank contribute zeros), waits for all of
// them and writes the average over ranks into each parameter's .grad.
//
// A GAN step has two different parameter sets (the D step trains D, the G step trains G with D frozen), so
// layouts are cached per parameter set; begin() picks the one for the set it is given. Hooks on parameters
// outside the current set do nothing. With one rank, begin() and end() return at once (no copies, no hooks).
//
// Synchronized BatchNorm all-reduces its statistics in backward on the same communicator. Buckets started
// from hooks would interleave with those collectives in an order that depends on when each rank's
// gradients become ready, which differs between ranks as soon as a parameter is used on some ranks only:
// the ranks then pair different collectives, and MPI mixes buffers or NCCL hangs. With BucketLaunch::AtEnd
// every bucket starts in end(), after backward (and all its BatchNorm collectives) has finished, so every
// rank issues the same sequence; the price is that gradient communication no longer overlaps backward.
//
// `wire_dtype` (dist.grad_dtype): the buckets hold the gradients in this dtype (bfloat16 or float16 halve
// the bytes all-reduced); each gradient is rounded once into its bucket and the average is written back to
// .grad in the parameter's own dtype. Undefined: the parameters' dtype, no rounding.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "fergan/dist/communicator.h"
#include "fergan/gan/grad_sync.h"

namespace fergan::dist {

// When the buckets' all-reduces start: as soon as each bucket is full (overlapping backward), or all in
// end().
enum class BucketLaunch { DuringBackward, AtEnd };

class BucketReducer : public gan::GradSync {
 public:
  BucketReducer(Communicator& comm, double bucket_mb, BucketLaunch launch = BucketLaunch::DuringBackward,
                c10::optional<torch::ScalarType> wire_dtype = c10::nullopt);
  ~BucketReducer() override;

  // Replaces each param's .grad with the average of this backward's gradients over ranks (the GAN steps
  // zero gradients before backward, so this equals DDP's behaviour).
  void begin(const std::vector<torch::Tensor>& params) override;
  void end(const std::vector<torch::Tensor>& params) override;

  // Seconds spent blocked in end() waiting for all-reduces (the communication that did not overlap). On
  // NCCL, whose wait() orders the compute stream instead of blocking the host, this is near zero: the
  // GPU-side wait then shows up in the step time.
  double wait_seconds_total() const { return wait_seconds_total_; }
  double wait_seconds_last() const { return wait_seconds_last_; }
  int64_t bytes_reduced_total() const { return bytes_reduced_total_; }
  // Buckets of the last step whose all-reduce started during backward (from hooks) rather than in end():
  // the overlap actually achieved.
  size_t buckets_started_in_backward_last() const { return started_in_backward_last_; }
  void reset_stats();

  // The bucket count of the layout for `params` (builds it if new): for tests and logs.
  size_t bucket_count(const std::vector<torch::Tensor>& params);

 private:
  struct Slot {
    size_t param_index;  // index into the parameter set
    int64_t offset;      // element offset in the bucket
    int64_t numel;
  };
  struct Bucket {
    std::vector<Slot> slots;
    torch::Tensor flat;  // the packed gradients, reduced in place
    // per backward:
    size_t pending = 0;
    std::vector<bool> filled;
    std::unique_ptr<Work> work;
  };
  struct Layout {
    std::vector<torch::Tensor> params;
    std::vector<Bucket> buckets;
    // parameter TensorImpl -> (bucket, slot)
    std::unordered_map<const void*, std::pair<size_t, size_t>> where;
    size_t next_to_launch = 0;
  };

  Layout& layout_for(const std::vector<torch::Tensor>& params);
  void on_grad(const void* param_key, const torch::Tensor& grad);
  void launch_ready_buckets(Layout& layout);

  Communicator& comm_;
  int64_t bucket_bytes_;
  BucketLaunch launch_;
  c10::optional<torch::ScalarType> wire_dtype_;
  std::map<std::vector<const void*>, std::unique_ptr<Layout>> layouts_;
  Layout* active_ = nullptr;
  std::unordered_map<const void*, bool> hooked_;
  std::vector<std::pair<torch::Tensor, unsigned>> hooks_;  // (parameter, hook id), removed on destruction
  std::mutex mutex_;                                       // hooks may run on autograd device threads
  double wait_seconds_total_ = 0;
  double wait_seconds_last_ = 0;
  int64_t bytes_reduced_total_ = 0;
  size_t started_in_backward_last_ = 0;
};

}  // namespace fergan::dist
