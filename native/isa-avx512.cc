// AVX-512 kernels on 32-byte vectors: AVX-512VL instructions at 256 bits, as
// GCC's -mprefer-vector-width=256 tuning, because 512-bit stores measured
// slower on the CPUs we run on (bench/README.md). The default on CPUs with AVX-512.
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
namespace tsmpi {
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) bool runAvx512(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n) {
  return run<32>(op, dtype, a, b, n);
}
}  // namespace tsmpi
#endif
