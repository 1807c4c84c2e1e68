// arm64 kernels: NEON (16-byte vectors, the arm64 baseline).
#include "kernels.h"

#if defined(__aarch64__)
namespace tsmpi {
bool runNeon(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n) { return run<16>(op, dtype, a, b, n); }
}  // namespace tsmpi
#endif
