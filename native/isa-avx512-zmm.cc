// AVX-512 kernels on 64-byte (zmm) vectors: selectable with
// TSMPI_NATIVE_ISA=avx512-zmm, kept for benchmarks (isa-avx512.cc is the default).
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
namespace tsmpi {
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) bool runAvx512Zmm(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n) {
  return run<64>(op, dtype, a, b, n);
}
}  // namespace tsmpi
#endif
