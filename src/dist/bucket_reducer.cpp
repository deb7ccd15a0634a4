// Bucketed, hook-driven gradient averaging (see bucket_reducer.h).
#include <chrono>

#include "fergan/core/check.h"
#include "fergan/dist/bucket_reducer.h"

namespace fergan::dist {

namespace {

std::vector<const void*> keys_of(const std::vector<torch::Tensor>& params) {
  std::vector<const void*> keys;
  keys.reserve(params.size());
  for (const auto& p : params) keys.push_back(p.unsafeGetTensorImpl());
  return keys;
}

}  // namespace

BucketReducer::BucketReducer(Communicator& comm, double bucket_mb, BucketLaunch launch,
                             c10::optional<torch::ScalarType> wire_dtype)
    : comm_(comm),
      bucket_bytes_(static_cast<int64_t>(bucket_mb * 1024.0 * 1024.0)),
      launch_(launch),
      wire_dtype_(wire_dtype) {
  FG_CHECK(bucket_mb > 0, "config key 'dist.bucket_mb' must be positive, got ", bucket_mb);
  if (bucket_bytes_ < 1) bucket_bytes_ = 1;
}

BucketReducer::~BucketReducer() {
  // The hooks capture `this`: remove them so a parameter that outlives the reducer does not call into it.
  for (auto& [param, hook_id] : hooks_) param.remove_hook(hook_id);
}

void BucketReducer::reset_stats() {
  wait_seconds_total_ = 0;
  wait_seconds_last_ = 0;
  bytes_reduced_total_ = 0;
}

BucketReducer::Layout& BucketReducer::layout_for(const std::vector<torch::Tensor>& params) {
  auto keys = keys_of(params);
  auto found = layouts_.find(keys);
  if (found != layouts_.end()) return *found->second;

  auto layout = std::make_unique<Layout>();
  layout->params = params;
  int64_t bucket_used_bytes = 0;
  // Reverse parameter order: backward reaches the last layers first, so their bucket fills first.
  for (size_t i = params.size(); i-- > 0;) {
    const torch::Tensor& p = params[i];
    FG_CHECK(p.defined(), "BucketReducer: parameter ", i, " of the set is undefined");
    FG_CHECK(p.requires_grad(), "BucketReducer: parameter ", i, " (shape ", p.sizes(),
             ") does not require grad; pass only the parameters this backward trains");
    FG_CHECK(!layout->where.count(p.unsafeGetTensorImpl()), "BucketReducer: parameter ", i,
             " appears twice in the set");
    const int64_t bytes =
        p.numel() * static_cast<int64_t>(c10::elementSize(wire_dtype_.value_or(p.scalar_type())));
    bool new_bucket = layout->buckets.empty();
    if (!new_bucket) {
      const Bucket& last = layout->buckets.back();
      const torch::Tensor& first = params[last.slots.front().param_index];
      new_bucket = first.scalar_type() != p.scalar_type() || first.device() != p.device() ||
                   bucket_used_bytes + bytes > bucket_bytes_;
    }
    if (new_bucket) {
      layout->buckets.emplace_back();
      bucket_used_bytes = 0;
    }
    Bucket& bucket = layout->buckets.back();
    const int64_t offset = bucket.slots.empty() ? 0 : bucket.slots.back().offset + bucket.slots.back().numel;
    bucket.slots.push_back({i, offset, p.numel()});
    layout->where[p.unsafeGetTensorImpl()] = {layout->buckets.size() - 1, bucket.slots.size() - 1};
    bucket_used_bytes += bytes;
  }
  for (Bucket& bucket : layout->buckets) {
    const torch::Tensor& first = params[bucket.slots.front().param_index];
    const int64_t numel = bucket.slots.back().offset + bucket.slots.back().numel;
    bucket.flat = torch::zeros(
        {numel}, first.options().dtype(wire_dtype_.value_or(first.scalar_type())).requires_grad(false));
    bucket.filled.assign(bucket.slots.size(), false);
  }
  return *layouts_.emplace(std::move(keys), std::move(layout)).first->second;
}

size_t BucketReducer::bucket_count(const std::vector<torch::Tensor>& params) {
  std::lock_guard<std::mutex> lock(mutex_);
  return layout_for(params).buckets.size();
}

void BucketReducer::begin(const std::vector<torch::Tensor>& params) {
  if (comm_.world() == 1) return;  // nothing to average: no hooks, no copies
  std::lock_guard<std::mutex> lock(mutex_);
  FG_CHECK(active_ == nullptr, "BucketReducer::begin called twice without end");
  Layout& layout = layout_for(params);
  for (Bucket& bucket : layout.buckets) {
    bucket.pending = bucket.slots.size();
    std::fill(bucket.filled.begin(), bucket.filled.end(), false);
    bucket.work.reset();
  }
  layout.next_to_launch = 0;
  for (const torch::Tensor& p : params) {
    const void* key = p.unsafeGetTensorImpl();
    if (hooked_.count(key)) continue;
    hooked_[key] = true;
    // One hook per parameter for the reducer's lifetime; it finds its bucket in whichever layout is active.
    const unsigned id = p.register_hook([this, key](const torch::Tensor& grad) { on_grad(key, grad); });
    hooks_.emplace_back(p, id);
  }
  active_ = &layout;
}

void BucketReducer::on_grad(const void* param_key, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (active_ == nullptr) return;  // a backward outside begin/end (e.g. single-process evaluation)
  auto found = active_->where.find(param_key);
  if (found == active_->where.end()) return;  // not trained by this step
  auto [bucket_index, slot_index] = found->second;
  Bucket& bucket = active_->buckets[bucket_index];
  const Slot& slot = bucket.slots[slot_index];
  torch::NoGradGuard no_grad;
  auto view = bucket.flat.narrow(0, slot.offset, slot.numel);
  if (bucket.filled[slot_index]) {
    // A second backward through the same parameter before end(): gradients accumulate, as in .grad.
    FG_CHECK(bucket_index >= active_->next_to_launch, "BucketReducer: parameter ", slot.param_index,
             " got a second gradient after its bucket was sent; bracket each backward with begin()/end()");
    view.add_(grad.reshape(-1));
    return;
  }
  view.copy_(grad.reshape(-1));
  bucket.filled[slot_index] = true;
  // AtEnd: the bucket waits for end(), so no gradient collective can come between BatchNorm's ones.
  if (--bucket.pending == 0 && launch_ == BucketLaunch::DuringBackward) launch_ready_buckets(*active_);
  // Let MPI move the buckets already in flight along while backward goes on.
  for (size_t i = 0; i < active_->next_to_launch; ++i) active_->buckets[i].work->is_completed();
}

void BucketReducer::launch_ready_buckets(Layout& layout) {
  // In bucket order only: every rank must issue the same sequence of collectives.
  while (layout.next_to_launch < layout.buckets.size() &&
         layout.buckets[layout.next_to_launch].pending == 0) {
    Bucket& bucket = layout.buckets[layout.next_to_launch++];
    bucket.work = comm_.allreduce_async(bucket.flat, ReduceOp::Avg);
    bytes_reduced_total_ += bucket.flat.numel() * bucket.flat.element_size();
  }
}

void BucketReducer::end(const std::vector<torch::Tensor>& params) {
  if (comm_.world() == 1) return;
  std::lock_guard<std::mutex> lock(mutex_);
  FG_CHECK(active_ != nullptr, "BucketReducer::end called without begin");
  Layout& layout = *active_;
  active_ = nullptr;
  FG_CHECK(&layout_for(params) == &layout, "BucketReducer::end: the parameter set differs from begin()'s");
  started_in_backward_last_ = layout.next_to_launch;
  torch::NoGradGuard no_grad;
  // Parameters that got no gradient on this rank (unused in this step) contribute zeros.
  for (Bucket& bucket : layout.buckets) {
    for (size_t s = 0; s < bucket.slots.size(); ++s) {
      if (bucket.filled[s]) continue;
      bucket.flat.narrow(0, bucket.slots[s].offset, bucket.slots[s].numel).zero_();
      bucket.filled[s] = true;
    }
    bucket.pending = 0;
  }
  launch_ready_buckets(layout);

  const auto start = std::chrono::steady_clock::now();
  for (Bucket& bucket : layout.buckets) bucket.work->wait();
  wait_seconds_last_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  wait_seconds_total_ += wait_seconds_last_;

  for (Bucket& bucket : layout.buckets) {
    bucket.work.reset();
    for (const Slot& slot : bucket.slots) {
      torch::Tensor param = layout.params[slot.param_index];
      auto averaged = bucket.flat.narrow(0, slot.offset, slot.numel).view(param.sizes());
      if (param.grad().defined()) {
        param.mutable_grad().copy_(averaged);
      } else {
        param.mutable_grad() = averaged.to(param.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
      }
    }
  }
}

}  // namespace fergan::dist
