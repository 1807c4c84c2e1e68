// tsmpi native reduction kernels: the templates every instruction set is
// compiled from (one translation unit per instruction set: isa-*.cc, built in
// parallel), and the entry points each of them defines.
//
// One kernel template per op: a vector body (GCC vector extensions, VB bytes
// wide) and a scalar tail. The instruction set of a translation unit comes
// from function target attributes, and the one in use is chosen at run time
// (reduce.cc), so the binary never executes an instruction the CPU lacks.
// Loads and stores go through memcpy: views may start at any byte offset.
//
// The arithmetic is exactly that of the TypeScript twin (src/reduce/ops.ts):
// integers wrap (computed unsigned), Uint8ClampedArray saturates, MIN/MAX are
// `a < b ? a : b`, logical ops treat 0, -0 and NaN as false and give 1/0,
// half types are widened to float, combined in float, rounded to nearest
// even. Results are bitwise identical to the TypeScript kernels.
//
// Only the element-wise ops on plain numeric types have vector bodies; the
// rest (MINLOC/MAXLOC, half types, saturating Uint8ClampedArray) are scalar
// code, compiled once, in isa-scalar.cc.
#ifndef TSMPI_KERNELS_H
#define TSMPI_KERNELS_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace tsmpi {

// Op and datatype codes: the same numbers as src/collectives/signature.ts and src/datatype.ts.
enum Op { SUM = 1, PROD, MIN, MAX, LAND, LOR, LXOR, BAND, BOR, BXOR, MINLOC, MAXLOC };
enum Dtype {
  INT8 = 1, UINT8, UINT8_CLAMPED, INT16, UINT16, INT32, UINT32, FLOAT32, FLOAT64, BIGINT64, BIGUINT64,
  BUFFER = 12, FLOAT16 = 201, BFLOAT16 = 202
};

// inout[i] = op(inout[i], input[i]) over n elements of dtype; false for an (op, dtype) pair that is not defined.
using RunFn = bool (*)(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n);

bool runScalar(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n);
#if defined(__x86_64__) || defined(_M_X64)
bool runSse2(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n);
bool runAvx2(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n);
bool runAvx512(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n);
bool runAvx512Zmm(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n);
#elif defined(__aarch64__)
bool runNeon(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n);
#endif

namespace {

#define ALWAYS_INLINE inline __attribute__((always_inline))

template <typename T> struct Unsigned { using type = T; };
template <> struct Unsigned<int8_t> { using type = uint8_t; };
template <> struct Unsigned<int16_t> { using type = uint16_t; };
template <> struct Unsigned<int32_t> { using type = uint32_t; };
template <> struct Unsigned<int64_t> { using type = uint64_t; };

template <typename T> constexpr bool kFloat = std::is_floating_point<T>::value;

// ---- scalar semantics (also the tails) --------------------------------------

template <typename T> ALWAYS_INLINE bool truthy(T x) {
  if constexpr (kFloat<T>) return x == x && x != 0;  // NaN and +-0 are false, as in JS
  else return x != 0;
}

// A NaN result of an arithmetic op is the canonical quiet NaN, whatever the
// operands' payloads: JavaScript does not preserve NaN payloads, so this is
// what makes the two backends agree bit for bit.
template <typename T> ALWAYS_INLINE T canonical(T r) {
  if constexpr (kFloat<T>) return r == r ? r : std::numeric_limits<T>::quiet_NaN();
  else return r;
}

template <typename T, int OP> ALWAYS_INLINE T arith(T a, T b);

// The ops whose expression is the same on a scalar and on a GCC vector (the
// vector body and the scalar tail share it, so they cannot drift apart).
template <int OP, typename X> ALWAYS_INLINE X lanewise(X a, X b) {
  if constexpr (OP == MIN) return a < b ? a : b;
  else if constexpr (OP == MAX) return a > b ? a : b;
  else if constexpr (OP == BAND) return a & b;
  else if constexpr (OP == BOR) return a | b;
  else return a ^ b;
}

template <typename T, int OP> ALWAYS_INLINE T scalar(T a, T b) {
  if constexpr (OP == SUM || OP == PROD || OP == MIN || OP == MAX) return canonical<T>(arith<T, OP>(a, b));
  else return arith<T, OP>(a, b);
}

template <typename T, int OP> ALWAYS_INLINE T arith(T a, T b) {
  using U = typename Unsigned<T>::type;
  if constexpr (OP == SUM) {
    if constexpr (kFloat<T>) return a + b; else return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else if constexpr (OP == PROD) {
    if constexpr (kFloat<T>) return a * b;
    else if constexpr (sizeof(T) < sizeof(int)) return static_cast<T>(static_cast<unsigned>(a) * static_cast<unsigned>(b));
    else return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else if constexpr (OP == LAND) {
    return static_cast<T>(truthy(a) && truthy(b) ? 1 : 0);
  } else if constexpr (OP == LOR) {
    return static_cast<T>(truthy(a) || truthy(b) ? 1 : 0);
  } else if constexpr (OP == LXOR) {
    return static_cast<T>(truthy(a) != truthy(b) ? 1 : 0);
  } else {
    return lanewise<OP>(a, b);  // MIN, MAX, BAND, BOR, BXOR
  }
}

// ---- vector semantics -------------------------------------------------------

template <typename V, typename M> ALWAYS_INLINE M vtruthy(V x) {
  return (x == x) & (x != 0);  // for integers x == x is all ones
}

template <typename T, int OP, int VB> struct Vec {
  typedef T V __attribute__((vector_size(VB)));
  typedef typename Unsigned<T>::type UT;
  typedef UT UV __attribute__((vector_size(VB)));

  static ALWAYS_INLINE V apply(V a, V b) {
    if constexpr (kFloat<T> && (OP == SUM || OP == PROD || OP == MIN || OP == MAX)) {
      const V r = arithmetic(a, b);
      const V nan = V{} + std::numeric_limits<T>::quiet_NaN();
      return r == r ? r : nan;
    } else {
      return arithmetic(a, b);
    }
  }

  static ALWAYS_INLINE V arithmetic(V a, V b) {
    if constexpr (OP == SUM) {
      if constexpr (kFloat<T>) return a + b; else return (V)((UV)a + (UV)b);
    } else if constexpr (OP == PROD) {
      if constexpr (kFloat<T>) return a * b; else return (V)((UV)a * (UV)b);
    } else if constexpr (OP == LAND || OP == LOR || OP == LXOR) {
      auto ta = vtruthy<V, decltype(a == b)>(a);
      auto tb = vtruthy<V, decltype(a == b)>(b);
      decltype(ta) m;
      if constexpr (OP == LAND) m = ta & tb;
      else if constexpr (OP == LOR) m = ta | tb;
      else m = ta ^ tb;
      return __builtin_convertvector(m & 1, V);
    } else {
      return lanewise<OP>(a, b);  // MIN, MAX, BAND, BOR, BXOR
    }
  }
};

// inout[i] = op(inout[i], in[i]): vector body, then scalar tail.
template <typename T, int OP, int VB> ALWAYS_INLINE void kernel(uint8_t* a, const uint8_t* b, size_t n) {
  size_t i = 0;
  if constexpr (VB > 0) {
    using Vx = Vec<T, OP, VB>;
    typename Vx::V x, y;
    constexpr size_t W = VB / sizeof(T);
#pragma GCC unroll 4
    for (; i + W <= n; i += W) {
      std::memcpy(&x, a + i * sizeof(T), VB);
      std::memcpy(&y, b + i * sizeof(T), VB);
      x = Vx::apply(x, y);
      std::memcpy(a + i * sizeof(T), &x, VB);
    }
  }
  for (; i < n; i++) {  // leftovers
    T x, y;
    std::memcpy(&x, a + i * sizeof(T), sizeof(T));
    std::memcpy(&y, b + i * sizeof(T), sizeof(T));
    x = scalar<T, OP>(x, y);
    std::memcpy(a + i * sizeof(T), &x, sizeof(T));
  }
}

// Uint8ClampedArray: SUM and PROD saturate at 255 (the TypedArray store clamps).
template <int OP> ALWAYS_INLINE void clampedKernel(uint8_t* a, const uint8_t* b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned r = OP == SUM ? unsigned(a[i]) + b[i] : unsigned(a[i]) * b[i];
    a[i] = r > 255 ? 255 : uint8_t(r);
  }
}

// MINLOC / MAXLOC on interleaved (value, index) pairs; ties keep the smaller index.
template <typename T, int OP> ALWAYS_INLINE void locKernel(uint8_t* a, const uint8_t* b, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) {
    T av, ai, bv, bi;
    std::memcpy(&av, a + i * sizeof(T), sizeof(T));
    std::memcpy(&ai, a + (i + 1) * sizeof(T), sizeof(T));
    std::memcpy(&bv, b + i * sizeof(T), sizeof(T));
    std::memcpy(&bi, b + (i + 1) * sizeof(T), sizeof(T));
    if (OP == MINLOC ? bv < av : bv > av) {
      av = canonical<T>(bv);
      ai = canonical<T>(bi);
    } else if (bv == av && bi < ai) {
      ai = canonical<T>(bi);
    }
    std::memcpy(a + i * sizeof(T), &av, sizeof(T));
    std::memcpy(a + (i + 1) * sizeof(T), &ai, sizeof(T));
  }
}

// ---- half precision (the same algorithm as src/reduce/half.ts) ---------------

ALWAYS_INLINE float halfToFloat(uint16_t h) {
  const float sign = (h & 0x8000) ? -1.0f : 1.0f;
  const int exp = (h >> 10) & 0x1f;
  const int frac = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(float(frac), -24);
  if (exp == 0x1f) return frac ? NAN : sign * INFINITY;
  return sign * std::ldexp(1.0f + frac / 1024.0f, exp - 15);
}

ALWAYS_INLINE uint16_t floatToHalf(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  const uint32_t sign = (bits >> 16) & 0x8000;
  const uint32_t exp = (bits >> 23) & 0xff;
  uint32_t mant = bits & 0x7fffff;
  if (exp == 0xff) return uint16_t(sign | 0x7c00 | (mant ? (0x200 | (mant >> 13)) : 0));
  const int e = int(exp) - 127 + 15;
  if (e >= 0x1f) return uint16_t(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return uint16_t(sign);
    mant |= 0x800000;
    const int shift = 14 - e;
    const uint32_t half = 1u << (shift - 1);
    uint32_t h = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1);
    if (rest > half || (rest == half && (h & 1))) h++;
    return uint16_t(sign | h);
  }
  uint32_t h = (uint32_t(e) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
  return uint16_t(sign | h);
}

ALWAYS_INLINE float bfloatToFloat(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

ALWAYS_INLINE uint16_t floatToBfloat(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if ((bits & 0x7f800000) == 0x7f800000 && (bits & 0x7fffff)) return uint16_t(((bits >> 16) | 0x40) & 0xffff);
  const uint32_t rounded = bits + 0x7fff + ((bits >> 16) & 1);
  return uint16_t(rounded >> 16);
}

template <int OP, bool BF> ALWAYS_INLINE void halfKernel(uint8_t* a, const uint8_t* b, size_t n) {
  const size_t step = (OP == MINLOC || OP == MAXLOC) ? 2 : 1;
  for (size_t i = 0; i + step - 1 < n; i += step) {
    uint16_t ha, hb;
    std::memcpy(&ha, a + 2 * i, 2);
    std::memcpy(&hb, b + 2 * i, 2);
    const float x = BF ? bfloatToFloat(ha) : halfToFloat(ha);
    const float y = BF ? bfloatToFloat(hb) : halfToFloat(hb);
    if constexpr (OP == MINLOC || OP == MAXLOC) {
      uint16_t ia, ib;
      std::memcpy(&ia, a + 2 * (i + 1), 2);
      std::memcpy(&ib, b + 2 * (i + 1), 2);
      const float xi = BF ? bfloatToFloat(ia) : halfToFloat(ia);
      const float yi = BF ? bfloatToFloat(ib) : halfToFloat(ib);
      if (OP == MINLOC ? y < x : y > x) {
        std::memcpy(a + 2 * i, &hb, 2);
        std::memcpy(a + 2 * (i + 1), &ib, 2);
      } else if (y == x && yi < xi) {
        std::memcpy(a + 2 * (i + 1), &ib, 2);
      }
    } else {
      const float r = scalar<float, OP>(x, y);
      const uint16_t h = BF ? floatToBfloat(r) : floatToHalf(r);
      std::memcpy(a + 2 * i, &h, 2);
    }
  }
}

// ---- dispatch ------------------------------------------------------------------

template <typename T, int VB> ALWAYS_INLINE bool byOp(int op, uint8_t* a, const uint8_t* b, size_t n) {
  switch (op) {
    case SUM: kernel<T, SUM, VB>(a, b, n); return true;
    case PROD: kernel<T, PROD, VB>(a, b, n); return true;
    case MIN: kernel<T, MIN, VB>(a, b, n); return true;
    case MAX: kernel<T, MAX, VB>(a, b, n); return true;
    case LAND: kernel<T, LAND, VB>(a, b, n); return true;
    case LOR: kernel<T, LOR, VB>(a, b, n); return true;
    case LXOR: kernel<T, LXOR, VB>(a, b, n); return true;
  }
  if constexpr (!kFloat<T>) {
    switch (op) {
      case BAND: kernel<T, BAND, VB>(a, b, n); return true;
      case BOR: kernel<T, BOR, VB>(a, b, n); return true;
      case BXOR: kernel<T, BXOR, VB>(a, b, n); return true;
    }
  }
  if constexpr (VB == 0) {
    switch (op) {
      case MINLOC: locKernel<T, MINLOC>(a, b, n); return true;
      case MAXLOC: locKernel<T, MAXLOC>(a, b, n); return true;
    }
  }
  return false;
}

template <bool BF> ALWAYS_INLINE bool byHalfOp(int op, uint8_t* a, const uint8_t* b, size_t n) {
  switch (op) {
    case SUM: halfKernel<SUM, BF>(a, b, n); return true;
    case PROD: halfKernel<PROD, BF>(a, b, n); return true;
    case MIN: halfKernel<MIN, BF>(a, b, n); return true;
    case MAX: halfKernel<MAX, BF>(a, b, n); return true;
    case LAND: halfKernel<LAND, BF>(a, b, n); return true;
    case LOR: halfKernel<LOR, BF>(a, b, n); return true;
    case LXOR: halfKernel<LXOR, BF>(a, b, n); return true;
    case MINLOC: halfKernel<MINLOC, BF>(a, b, n); return true;
    case MAXLOC: halfKernel<MAXLOC, BF>(a, b, n); return true;
  }
  return false;
}

// The kernels of one vector width (0: scalar). A vector width hands what has
// no vector body to the scalar code.
template <int VB> ALWAYS_INLINE bool run(int op, int dtype, uint8_t* a, const uint8_t* b, size_t n) {
  if constexpr (VB > 0) {
    if (op == MINLOC || op == MAXLOC || dtype == FLOAT16 || dtype == BFLOAT16 || (dtype == UINT8_CLAMPED && (op == SUM || op == PROD))) {
      return runScalar(op, dtype, a, b, n);
    }
  } else if (dtype == UINT8_CLAMPED && (op == SUM || op == PROD)) {
    if (op == SUM) clampedKernel<SUM>(a, b, n);
    else clampedKernel<PROD>(a, b, n);
    return true;
  }
  switch (dtype) {
    case INT8: return byOp<int8_t, VB>(op, a, b, n);
    case UINT8:
    case BUFFER:
    case UINT8_CLAMPED: return byOp<uint8_t, VB>(op, a, b, n);
    case INT16: return byOp<int16_t, VB>(op, a, b, n);
    case UINT16: return byOp<uint16_t, VB>(op, a, b, n);
    case INT32: return byOp<int32_t, VB>(op, a, b, n);
    case UINT32: return byOp<uint32_t, VB>(op, a, b, n);
    case FLOAT32: return byOp<float, VB>(op, a, b, n);
    case FLOAT64: return byOp<double, VB>(op, a, b, n);
    case BIGINT64: return byOp<int64_t, VB>(op, a, b, n);
    case BIGUINT64: return byOp<uint64_t, VB>(op, a, b, n);
  }
  if constexpr (VB == 0) {
    switch (dtype) {
      case FLOAT16: return byHalfOp<false>(op, a, b, n);
      case BFLOAT16: return byHalfOp<true>(op, a, b, n);
    }
  }
  return false;
}

}  // namespace
}  // namespace tsmpi

#endif  // TSMPI_KERNELS_H
