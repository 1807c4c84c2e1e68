// SSE2 kernels (16-byte vectors, the x86-64 baseline).
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
namespace tsmpi {
bool runSse2(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n) { return run<16>(op, dtype, a, b, n); }
}  // namespace tsmpi
#endif
