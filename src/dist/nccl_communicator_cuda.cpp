// The NCCL backend of Communicator: GPU tensors, one GPU per rank (see communicator.h).
//
// Built only with -DFERGAN_WITH_CUDA=ON (CMake drops *_cuda.cpp otherwise). The communicator is made from an
// ncclUniqueId that rank 0 creates and sends over MPI_Bcast; with NCCL >= 2.14 it is non-blocking, so its
// set-up (and any call that NCCL leaves in progress) is polled against dist.timeout_s like every wait.
// Collectives run on a stream of their own so that they overlap the backward kernels; each one is ordered
// after the work already queued on the compute stream by an event (gradients are ready), and the compute
// stream is ordered after it again in wait().
//
// NCCL has no timeouts of its own: a dead peer leaves the kernel spinning forever. A watchdog thread
// therefore polls each waited-for collective's completion event and ncclCommGetAsyncError against a
// deadline (config dist.timeout_s) and calls ncclCommAbort on timeout or error; the next call on the
// communicator throws a CommunicationError. Context::abort also aborts the communicator (abort hook).
//
// LibTorch-CUDA-specific code is one function, compute_stream(): everything else is plain CUDA runtime and
// NCCL, so it builds against any CUDA LibTorch >= 1.13.
#ifdef FERGAN_WITH_CUDA

#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 10, 0)
#error "fergan needs NCCL >= 2.10 (ncclAvg)"
#endif

#include "fergan/dist/communicator.h"
#include "fergan/dist/context.h"
#include "wait_deadline.h"

#define CUDA_CHECK(call)                                                                                     \
  do {                                                                                                       \
    cudaError_t fg_cuda_rc_ = (call);                                                                        \
    if (fg_cuda_rc_ != cudaSuccess)                                                                          \
      ::fergan::fail(::fergan::str("CUDA call failed: ", #call, ": ", cudaGetErrorString(fg_cuda_rc_), " (", \
                                   __FILE__, ":", __LINE__, ")"));                                           \
  } while (0)

#define NCCL_CHECK(call)                                                                               \
  do {                                                                                                 \
    ncclResult_t fg_nccl_rc_ = (call);                                                                 \
    if (fg_nccl_rc_ != ncclSuccess) ::fergan::dist::nccl_fail(fg_nccl_rc_, #call, __FILE__, __LINE__); \
  } while (0)

namespace fergan::dist {
namespace {

// A failed NCCL call. ncclSystemError (a socket or network call failed) and ncclRemoteError (a peer failed;
// NCCL >= 2.13, value 6) are communication failures; anything else is a plain error (a bug, a bad argument).
[[noreturn]] void nccl_fail(ncclResult_t rc, const char* call, const char* file, int line) {
  const std::string message =
      fergan::str("NCCL call failed: ", call, ": ", ncclGetErrorString(rc), " (", file, ":", line, ")");
  if (rc == ncclSystemError || static_cast<int>(rc) == 6) throw CommunicationError(message);
  fail(message);
}

// The one LibTorch-CUDA-specific call: the stream this thread's LibTorch kernels are queued on.
cudaStream_t compute_stream(int device) {
  return c10::cuda::getCurrentCUDAStream(device).stream();
}

ncclDataType_t nccl_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return ncclFloat32;
    case torch::kFloat64:
      return ncclFloat64;
    case torch::kFloat16:
      return ncclFloat16;
    case torch::kBFloat16:
      return ncclBfloat16;  // NCCL >= 2.10
    case torch::kInt32:
      return ncclInt32;
    case torch::kInt64:
      return ncclInt64;
    default:
      fail(fergan::str("NCCL all-reduce: unsupported dtype ", type));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return ncclSum;
    case ReduceOp::Avg:
      return ncclAvg;  // NCCL >= 2.10
    case ReduceOp::Max:
      return ncclMax;
    case ReduceOp::Min:
      return ncclMin;
  }
  return ncclSum;
}

// Shared by the communicator, its in-flight Works, the watchdog thread and the abort hook.
//
// wait() does not block the host: it orders the compute stream after the collective's completion event and
// hands the event to the watchdog, a thread that checks every few milliseconds whether each watched
// collective has completed, whether NCCL reported an asynchronous error, and whether a collective has
// passed its deadline (dist.timeout_s after its wait()). On an error or a missed deadline it aborts the
// communicator (which also ends the kernels the compute stream waits for) and records why; the next call
// on the communicator throws that reason as a CommunicationError.
struct NcclState {
  using clock = std::chrono::steady_clock;
  struct Watched {
    cudaEvent_t done;
    torch::Tensor keep_alive;  // the buffer NCCL writes into stays allocated until the collective is done
    std::string what;
    clock::time_point deadline;
  };

  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  int device = 0;
  double timeout_s = 600;
  std::atomic<bool> aborted{false};

  std::mutex mutex;  // guards failure, watched and stopping
  std::condition_variable wake;
  std::string failure;  // why the communicator was aborted, for the next call to report
  std::vector<Watched> watched;
  bool stopping = false;
  std::thread watchdog;

  ~NcclState() {
    stop_watchdog();
    for (Watched& w : watched) cudaEventDestroy(w.done);  // released by CUDA once the work completes
  }

  void abort() {
    if (!aborted.exchange(true) && comm != nullptr) ncclCommAbort(comm);
  }

  // Throws the reason the communicator was aborted, if it was.
  void throw_if_aborted() {
    if (!aborted) return;
    std::lock_guard<std::mutex> lock(mutex);
    throw CommunicationError(failure.empty() ? std::string("NCCL communicator was aborted") : failure);
  }

  // Polls the communicator until its state leaves ncclInProgress, which a non-blocking communicator reports
  // after set-up and after any call that still has work to finish on the host; aborts and throws on an
  // error or at the deadline. `what` names the call in the messages.
  void settle(const std::string& what, int rank) {
    detail::poll_until(
        [&] {
          ncclResult_t async = ncclInProgress;
          NCCL_CHECK(ncclCommGetAsyncError(comm, &async));
          if (async == ncclSuccess) return true;
          if (async == ncclInProgress) return false;
          abort();
          throw CommunicationError(fergan::str("NCCL ", what, " on rank ", rank, " failed: ",
                                               ncclGetErrorString(async), "; communicator aborted"));
        },
        timeout_s,
        [&] {
          abort();
          throw CommunicationError(fergan::str(
              "NCCL ", what, " on rank ", rank, " did not complete within dist.timeout_s = ", timeout_s,
              " s (a peer rank died or never joined); communicator aborted"));
        });
  }

  // The return code of a call on the (possibly non-blocking) communicator: ncclInProgress is settled
  // against the deadline, any other failure is an error.
  void finish_call(ncclResult_t rc, const char* call, const char* file, int line, int rank) {
    if (rc == ncclInProgress) return settle(call, rank);
    if (rc != ncclSuccess) nccl_fail(rc, call, file, line);
  }

  void start_watchdog() {
    watchdog = std::thread([this] { watch_loop(); });
  }

  // Joins the watchdog; the communicator calls it before destroying the NCCL communicator it polls.
  void stop_watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (watchdog.joinable()) watchdog.join();
  }

  // Hands a queued collective's completion event (owned from now on) to the watchdog.
  void watch(cudaEvent_t done, torch::Tensor keep_alive, const std::string& what) {
    const auto deadline =
        clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout_s));
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping) {
        cudaEventDestroy(done);
        fail(fergan::str("NCCL ", what, " waited for after its communicator was destroyed"));
      }
      watched.push_back({done, std::move(keep_alive), what, deadline});
    }
    wake.notify_all();
  }

  void watch_loop() {
    cudaSetDevice(device);
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      if (watched.empty()) {
        wake.wait(lock);
        continue;
      }
      const auto now = clock::now();
      std::string why;
      for (auto it = watched.begin(); it != watched.end();) {
        const cudaError_t rc = cudaEventQuery(it->done);
        if (rc == cudaSuccess) {
          cudaEventDestroy(it->done);
          it = watched.erase(it);
          continue;
        }
        if (why.empty() && rc != cudaErrorNotReady) {
          why = fergan::str("CUDA error while NCCL ", it->what, " was in flight: ", cudaGetErrorString(rc));
        } else if (why.empty() && now > it->deadline) {
          why = fergan::str("NCCL ", it->what, " did not complete within dist.timeout_s = ", timeout_s,
                            " s (a peer rank died or is stuck); communicator aborted");
        }
        ++it;
      }
      if (why.empty() && !watched.empty() && !aborted) {
        ncclResult_t async = ncclSuccess;
        if (ncclCommGetAsyncError(comm, &async) == ncclSuccess && async != ncclSuccess &&
            async != ncclInProgress) {
          why = fergan::str("NCCL asynchronous error: ", ncclGetErrorString(async), "; communicator aborted");
        }
      }
      if (!why.empty() && !aborted) {
        if (failure.empty()) failure = why;
        lock.unlock();  // ncclCommAbort can take a while; waits may queue meanwhile
        abort();
        lock.lock();
      }
      // After an abort the remaining events may never complete: look rarely.
      wake.wait_for(lock, aborted ? std::chrono::milliseconds(100) : std::chrono::milliseconds(2));
    }
  }
};

class NcclWork : public Work {
 public:
  NcclWork(std::shared_ptr<NcclState> state, cudaEvent_t done, torch::Tensor keep_alive, std::string what)
      : state_(std::move(state)), done_(done), keep_alive_(std::move(keep_alive)), what_(std::move(what)) {}

  ~NcclWork() override {
    if (done_ != nullptr && !state_->aborted) {
      try {
        wait();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "warning: %s\n", e.what());
      }
    }
    if (done_ != nullptr) cudaEventDestroy(done_);
  }

  bool is_completed() override {
    if (done_ == nullptr) return true;  // waited for: ordered before all later compute-stream work
    cudaError_t rc = cudaEventQuery(done_);
    if (rc == cudaSuccess) return true;
    if (rc == cudaErrorNotReady) return false;
    CUDA_CHECK(rc);
    return false;
  }

  // Stream-ordered: later kernels on the compute stream see the reduced values, and the host goes on at
  // once; the watchdog enforces the deadline.
  void wait() override {
    if (done_ == nullptr) return;
    state_->throw_if_aborted();
    CUDA_CHECK(cudaStreamWaitEvent(compute_stream(state_->device), done_, 0));
    state_->watch(done_, std::move(keep_alive_), what_);
    done_ = nullptr;
  }

 private:
  std::shared_ptr<NcclState> state_;
  cudaEvent_t done_;          // null once handed to the watchdog
  torch::Tensor keep_alive_;  // the buffer NCCL writes into stays allocated until the collective is done
  std::string what_;
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(Context& context, int device, double timeout_s)
      : context_(context),
        host_(make_mpi_communicator(context, timeout_s)),
        state_(std::make_shared<NcclState>()) {
    FG_CHECK(timeout_s > 0, "dist.timeout_s must be positive, got ", timeout_s);
    state_->device = device;
    state_->timeout_s = timeout_s;
    CUDA_CHECK(cudaSetDevice(device));
    ncclUniqueId id;
    if (context.rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, context.world_comm()));
    init_with_deadline(id);
    CUDA_CHECK(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking));
    std::shared_ptr<NcclState> state = state_;
    abort_hook_ = context.add_abort_hook([state] { state->abort(); });
    state_->start_watchdog();
  }

  ~NcclCommunicator() override {
    context_.remove_abort_hook(abort_hook_);
    state_->stop_watchdog();  // it polls the NCCL communicator destroyed below
    if (!state_->aborted) {
      cudaStreamSynchronize(state_->stream);
      ncclCommDestroy(state_->comm);
    }
    cudaStreamDestroy(state_->stream);
  }

  int rank() const override { return context_.rank(); }
  int world() const override { return context_.world(); }
  std::string backend() const override { return "nccl"; }

  std::unique_ptr<Work> allreduce_async(torch::Tensor tensor, ReduceOp op) override {
    check_tensor(tensor, "all-reduce");
    FG_CHECK(op != ReduceOp::Avg || tensor.is_floating_point(),
             "all-reduce Avg needs a floating tensor, got ", tensor.scalar_type());
    cudaEvent_t done = order_after_compute();
    state_->finish_call(
        ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()),
                      nccl_op(op), state_->comm, state_->stream),
        "ncclAllReduce", __FILE__, __LINE__, rank());
    CUDA_CHECK(cudaEventRecord(done, state_->stream));
    return std::make_unique<NcclWork>(state_, done, tensor, "all-reduce");
  }

  void broadcast(torch::Tensor tensor, int root) override {
    check_tensor(tensor, "broadcast");
    FG_CHECK(root >= 0 && root < world(), "broadcast root ", root, " outside [0, ", world(), ")");
    cudaEvent_t done = order_after_compute();
    state_->finish_call(
        ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), tensor.numel() * tensor.element_size(), ncclUint8,
                      root, state_->comm, state_->stream),
        "ncclBroadcast", __FILE__, __LINE__, rank());
    CUDA_CHECK(cudaEventRecord(done, state_->stream));
    NcclWork(state_, done, tensor, "broadcast").wait();
  }

  // These travel over MPI, but report a failure the watchdog found as early as possible.
  std::unique_ptr<Work> allreduce_host_async(std::vector<double>& values, ReduceOp op) override {
    state_->throw_if_aborted();
    return host_->allreduce_host_async(values, op);
  }

  void barrier() override {
    state_->throw_if_aborted();
    host_->barrier();
  }

 private:
  void check_tensor(const torch::Tensor& tensor, const char* what) {
    FG_CHECK(tensor.defined() && tensor.is_contiguous(), "NCCL ", what, " needs a defined contiguous tensor");
    FG_CHECK(tensor.is_cuda() && tensor.device().index() == state_->device, "NCCL ", what,
             " needs a tensor on cuda:", state_->device, ", got one on ", tensor.device());
    state_->throw_if_aborted();
  }

  // Sets up the communicator. ncclCommInitRank blocks until every rank has joined, forever if one never
  // does (it died before set-up, or was started with another rendezvous); a non-blocking set-up (NCCL
  // >= 2.14) is instead polled against dist.timeout_s and aborted at the deadline.
  void init_with_deadline(const ncclUniqueId& id) {
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    const ncclResult_t rc = ncclCommInitRankConfig(&state_->comm, world(), id, rank(), &config);
    if (rc != ncclSuccess && rc != ncclInProgress) {
      state_->abort();  // releases what a failed set-up may have allocated
      nccl_fail(rc, "ncclCommInitRankConfig", __FILE__, __LINE__);
    }
    state_->settle("communicator set-up", rank());
#else
    NCCL_CHECK(ncclCommInitRank(&state_->comm, world(), id, rank()));
#endif
  }

  // Makes the communication stream wait for everything queued so far on this thread's compute stream, and
  // returns a fresh event for the caller to record when its collective is queued.
  cudaEvent_t order_after_compute() {
    CUDA_CHECK(cudaSetDevice(state_->device));
    cudaEvent_t ready = nullptr, done = nullptr;
    CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(ready, compute_stream(state_->device)));
    CUDA_CHECK(cudaStreamWaitEvent(state_->stream, ready, 0));
    CUDA_CHECK(cudaEventDestroy(ready));  // released once recorded work completes
    CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    return done;
  }

  Context& context_;
  std::unique_ptr<Communicator> host_;  // MPI, for host vectors and the barrier
  std::shared_ptr<NcclState> state_;
  int abort_hook_ = -1;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(Context& context, int device_index, double timeout_s) {
  return std::make_unique<NcclCommunicator>(context, device_index, timeout_s);
}

}  // namespace fergan::dist

#endif  // FERGAN_WITH_CUDA
