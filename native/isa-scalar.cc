// Scalar kernels: every (op, datatype) pair, and the code the vector widths hand over.
#include "kernels.h"

namespace tsmpi {
bool runScalar(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n) { return run<0>(op, dtype, a, b, n); }
}  // namespace tsmpi
