// AVX2 kernels (32-byte vectors), in a translation unit of their own so that
// the instruction sets compile in parallel; the target attribute confines AVX2
// to this function, which runs only where the CPU has it (reduce.cc).
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
namespace tsmpi {
__attribute__((target("avx2"))) bool runAvx2(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n) {
  return run<32>(op, dtype, a, b, n);
}
}  // namespace tsmpi
#endif
