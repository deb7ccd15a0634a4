// The MPI backend of Communicator: non-blocking collectives on CPU tensors (see communicator.h).
//
// All-reduces are MPI_Iallreduce in place on the tensor's buffer, split into chunks of at most 2^30
// elements because MPI counts are ints. float16 and bfloat16, which MPI lacks, are reduced as float32.
// Tensors that do not live on the CPU are staged through a host copy, which makes backend "mpi" usable on
// GPUs for debugging (NCCL is the fast path there). Host-vector reductions use a second duplicated
// communicator, so a metrics or stop vote in flight never interleaves with gradient traffic.
#include <climits>

#include "fergan/dist/communicator.h"
#include "fergan/dist/context.h"
#include "wait_deadline.h"

// MPI_CHECK for the test of an in-flight collective, where MPI reports what went wrong on the way (a lost
// peer, a broken connection): a CommunicationError. (A collective's launch fails only on bad arguments.)
#define MPI_COMM_CHECK(call)                                                                     \
  do {                                                                                           \
    int fg_mpi_rc_ = (call);                                                                     \
    if (fg_mpi_rc_ != MPI_SUCCESS) {                                                             \
      try {                                                                                      \
        ::fergan::dist::mpi_fail(fg_mpi_rc_, #call, __FILE__, __LINE__);                         \
      } catch (const ::fergan::Error& fg_e_) {                                                   \
        throw ::fergan::dist::CommunicationError(std::string(fg_e_.what()) +                     \
                                                 " (a peer rank died or its connection broke)"); \
      }                                                                                          \
    }                                                                                            \
  } while (0)

namespace fergan::dist {
namespace {

constexpr int64_t kMaxChunk = int64_t(1) << 30;

MPI_Datatype mpi_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return MPI_FLOAT;
    case torch::kFloat64:
      return MPI_DOUBLE;
    case torch::kInt32:
      return MPI_INT32_T;
    case torch::kInt64:
      return MPI_INT64_T;
    default:
      fail(fergan::str("MPI all-reduce: unsupported dtype ", type,
                       " (float32, float64, float16, bfloat16, int32, int64 are supported)"));
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg:
      return MPI_SUM;
    case ReduceOp::Max:
      return MPI_MAX;
    case ReduceOp::Min:
      return MPI_MIN;
  }
  return MPI_SUM;
}

class MpiWork : public Work {
 public:
  MpiWork(std::vector<MPI_Request> requests, std::function<void()> on_complete, double timeout_s,
          std::string what)
      : requests_(std::move(requests)),
        on_complete_(std::move(on_complete)),
        timeout_s_(timeout_s),
        what_(std::move(what)) {}

  ~MpiWork() override {
    if (done_) return;
    try {
      wait();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "warning: %s\n", e.what());
    }
  }

  bool is_completed() override {
    if (done_) return true;
    int flag = 1;
    if (!requests_.empty()) {
      MPI_COMM_CHECK(
          MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag, MPI_STATUSES_IGNORE));
    }
    if (flag) {
      done_ = true;  // before the callback: a throwing callback must not make the destructor wait again
      if (on_complete_) on_complete_();
    }
    return done_;
  }

  void wait() override {
    detail::poll_until([this] { return is_completed(); }, timeout_s_,
                       [this] {
                         done_ = true;  // the requests are abandoned; the job is about to be aborted
                         throw CommunicationError(fergan::str(
                             "MPI ", what_, " did not complete within dist.timeout_s = ", timeout_s_,
                             " s (a peer rank died or is stuck)"));
                       });
  }

 private:
  std::vector<MPI_Request> requests_;
  std::function<void()> on_complete_;
  double timeout_s_;
  std::string what_;
  bool done_ = false;
};

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(Context& context, double timeout_s) : timeout_s_(timeout_s) {
    FG_CHECK(timeout_s > 0, "dist.timeout_s must be positive, got ", timeout_s);
    MPI_CHECK(MPI_Comm_dup(context.world_comm(), &tensor_comm_));
    MPI_CHECK(MPI_Comm_dup(context.world_comm(), &host_comm_));
    MPI_CHECK(MPI_Comm_set_errhandler(tensor_comm_, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_set_errhandler(host_comm_, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(tensor_comm_, &rank_));
    MPI_CHECK(MPI_Comm_size(tensor_comm_, &world_));
  }

  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;  // the Context went first; MPI has already freed everything
    MPI_Comm_free(&tensor_comm_);
    MPI_Comm_free(&host_comm_);
  }

  int rank() const override { return rank_; }
  int world() const override { return world_; }
  std::string backend() const override { return "mpi"; }

  std::unique_ptr<Work> allreduce_async(torch::Tensor tensor, ReduceOp op) override {
    FG_CHECK(tensor.defined(), "all-reduce of an undefined tensor");
    FG_CHECK(tensor.is_contiguous(), "all-reduce needs a contiguous tensor, got strides ", tensor.strides());
    FG_CHECK(op != ReduceOp::Avg || tensor.is_floating_point(),
             "all-reduce Avg needs a floating tensor, got ", tensor.scalar_type());
    // Non-CPU tensors are reduced in a host copy and copied back on completion. MPI has no 16-bit floating
    // types: float16 and bfloat16 (mixed precision) are reduced in a float32 copy and rounded once at the
    // end.
    const bool widen = tensor.scalar_type() == torch::kFloat16 || tensor.scalar_type() == torch::kBFloat16;
    torch::Tensor buffer = widen             ? tensor.to(torch::kCPU, torch::kFloat32)
                           : tensor.is_cpu() ? tensor
                                             : tensor.to(torch::kCPU);
    const MPI_Datatype type = mpi_type(buffer.scalar_type());
    std::vector<MPI_Request> requests;
    if (world_ > 1) {
      char* data = static_cast<char*>(buffer.data_ptr());
      const int64_t element_size = buffer.element_size();
      for (int64_t start = 0; start < buffer.numel(); start += kMaxChunk) {
        const int count = static_cast<int>(std::min(kMaxChunk, buffer.numel() - start));
        requests.emplace_back();
        MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, data + start * element_size, count, type, mpi_op(op),
                                 tensor_comm_, &requests.back()));
      }
    }
    const int world = world_;
    auto finish = [tensor, buffer, op, world]() mutable {
      if (op == ReduceOp::Avg && world > 1) buffer.div_(static_cast<double>(world));
      if (!tensor.is_same(buffer)) tensor.copy_(buffer);
    };
    return std::make_unique<MpiWork>(std::move(requests), std::move(finish), timeout_s_, "all-reduce");
  }

  void broadcast(torch::Tensor tensor, int root) override {
    FG_CHECK(tensor.defined() && tensor.is_contiguous(), "broadcast needs a defined contiguous tensor");
    FG_CHECK(root >= 0 && root < world_, "broadcast root ", root, " outside [0, ", world_, ")");
    if (world_ == 1) return;
    torch::Tensor buffer = tensor.is_cpu() ? tensor : tensor.to(torch::kCPU);
    char* data = static_cast<char*>(buffer.data_ptr());
    const int64_t bytes = buffer.numel() * buffer.element_size();
    std::vector<MPI_Request> requests;
    for (int64_t start = 0; start < bytes; start += kMaxChunk) {
      requests.emplace_back();
      MPI_CHECK(MPI_Ibcast(data + start, static_cast<int>(std::min(kMaxChunk, bytes - start)), MPI_BYTE, root,
                           tensor_comm_, &requests.back()));
    }
    MpiWork(std::move(requests), nullptr, timeout_s_, "broadcast").wait();
    if (!tensor.is_same(buffer)) tensor.copy_(buffer);
  }

  std::unique_ptr<Work> allreduce_host_async(std::vector<double>& values, ReduceOp op) override {
    std::vector<MPI_Request> requests;
    if (world_ > 1 && !values.empty()) {
      FG_CHECK(values.size() <= static_cast<size_t>(INT_MAX), "host all-reduce of ", values.size(),
               " values");
      requests.emplace_back();
      MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE,
                               mpi_op(op), host_comm_, &requests.back()));
    }
    const int world = world_;
    auto finish = [&values, op, world] {
      if (op == ReduceOp::Avg && world > 1) {
        for (double& v : values) v /= world;
      }
    };
    return std::make_unique<MpiWork>(std::move(requests), std::move(finish), timeout_s_, "host all-reduce");
  }

  void barrier() override {
    if (world_ == 1) return;
    std::vector<MPI_Request> requests(1);
    MPI_CHECK(MPI_Ibarrier(host_comm_, &requests[0]));
    MpiWork(std::move(requests), nullptr, timeout_s_, "barrier").wait();
  }

 private:
  double timeout_s_;
  int rank_ = 0;
  int world_ = 1;
  MPI_Comm tensor_comm_ = MPI_COMM_NULL;
  MPI_Comm host_comm_ = MPI_COMM_NULL;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(Context& context, double timeout_s) {
  return std::make_unique<MpiCommunicator>(context, timeout_s);
}

}  // namespace fergan::dist
