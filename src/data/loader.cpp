// Loader: a background thread that assembles the epoch's batches ahead of the training step (see loader.h).
#include "fergan/data/loader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "fergan/core/check.h"

namespace fergan::data {

struct Loader::Impl {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Batch> ready;
  std::exception_ptr error;
  bool finished = false;  // the worker produced its last batch (or failed)
  bool stopping = false;  // the consumer is going away
  size_t capacity = 1;
  std::thread worker;
};

Loader::Loader(const ShardDataset& dataset, const DistributedSampler& sampler, int64_t epoch,
               int64_t start_sample, int prefetch)
    : impl_(std::make_unique<Impl>()) {
  FG_CHECK(start_sample >= 0 && start_sample <= sampler.dataset_size(), "loader: start sample ", start_sample,
           " is outside the epoch [0, ", sampler.dataset_size(), "]");
  const int64_t batches = sampler.batches_per_epoch(start_sample);
  impl_->capacity = static_cast<size_t>(std::max(1, prefetch));
  auto* d = impl_.get();
  const int64_t batch_size = sampler.options().batch_size;
  // The worker copies what it needs: the rank's order for the rest of this epoch, computed once.
  d->worker =
      std::thread([d, &dataset, order = sampler.rank_indices(epoch, start_sample), batches, batch_size] {
        try {
          for (int64_t b = 0; b < batches; ++b) {
            const int64_t begin = b * batch_size;
            const int64_t end = std::min<int64_t>(begin + batch_size, static_cast<int64_t>(order.size()));
            Batch batch = dataset.get_batch(std::vector<int64_t>(order.begin() + begin, order.begin() + end));
            std::unique_lock<std::mutex> lock(d->mutex);
            d->changed.wait(lock, [d] { return d->stopping || d->ready.size() < d->capacity; });
            if (d->stopping) return;
            d->ready.push_back(std::move(batch));
            d->changed.notify_all();
          }
        } catch (...) {
          std::lock_guard<std::mutex> lock(d->mutex);
          d->error = std::current_exception();
        }
        std::lock_guard<std::mutex> lock(d->mutex);
        d->finished = true;
        d->changed.notify_all();
      });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->changed.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

std::optional<Batch> Loader::next() {
  auto* d = impl_.get();
  std::unique_lock<std::mutex> lock(d->mutex);
  d->changed.wait(lock, [d] { return !d->ready.empty() || d->finished; });
  if (!d->ready.empty()) {
    Batch batch = std::move(d->ready.front());
    d->ready.pop_front();
    d->changed.notify_all();
    return batch;
  }
  if (d->error) {
    auto error = d->error;
    d->error = nullptr;  // report once; later calls see the end
    std::rethrow_exception(error);
  }
  return std::nullopt;
}

}  // namespace fergan::data
