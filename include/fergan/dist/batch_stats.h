// The distributed side of synchronized BatchNorm (dist.sync_batchnorm): models::BatchStatsAllReduce over a
// Communicator, so the networks' BatchNorm statistics are summed over all ranks by the same backend (MPI
// for CPU tensors, NCCL for CUDA ones) that reduces the gradients. Like BucketReducer for gan::GradSync,
// dist implements the interface that the layer above defines, and the models library stays free of MPI.
#pragma once

#include "fergan/dist/communicator.h"
#include "fergan/models/sync_batchnorm.h"

namespace fergan::dist {

class CommunicatorBatchStats : public models::BatchStatsAllReduce {
 public:
  explicit CommunicatorBatchStats(Communicator& comm) : comm_(comm) {}
  void sum_in_place(torch::Tensor& tensor) override { comm_.allreduce_sum(tensor); }

 private:
  Communicator& comm_;
};

}  // namespace fergan::dist
