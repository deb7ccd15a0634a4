// Backend choice for make_communicator (see communicator.h).
#include "fergan/dist/communicator.h"

#include "fergan/dist/context.h"

namespace fergan::dist {

std::unique_ptr<Communicator> make_communicator(Context& context, torch::Device device,
                                                const std::string& backend, double timeout_s) {
  FG_CHECK(backend == "auto" || backend == "mpi" || backend == "nccl",
           "config key 'dist.backend': unknown value '", backend, "' (expected auto, mpi or nccl)");
  const bool want_nccl = backend == "nccl" || (backend == "auto" && device.is_cuda());
  if (!want_nccl) return make_mpi_communicator(context, timeout_s);
  FG_CHECK(device.is_cuda(), "config key 'dist.backend': nccl needs a CUDA device, the run uses ", device);
#ifdef FERGAN_WITH_CUDA
  return make_nccl_communicator(context, device.has_index() ? device.index() : context.local_rank(),
                                timeout_s);
#else
  fail(
      "config key 'dist.backend': nccl requested but this build has no CUDA (configure with "
      "-DFERGAN_WITH_CUDA=ON)");
#endif
}

}  // namespace fergan::dist
