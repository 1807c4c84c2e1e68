// tsmpi native reduction addon (N-API, node-addon-api): argument checks, the
// choice of instruction set, and the JavaScript entry points.
//
//   reduce(op, datatype, inout, input): inout[i] = op(inout[i], input[i]), in place.
//
// The kernels are in kernels.h, compiled once per instruction set (isa-*.cc);
// the best one this CPU runs is chosen when the addon loads (TSMPI_NATIVE_ISA
// forces one). Every argument is checked; errors are thrown as JS
// TypeError/RangeError, never an abort.

#include <napi.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels.h"

Napi::Object InitShm(Napi::Env env, Napi::Object exports);  // shm.cc

namespace {

using namespace tsmpi;

#if defined(__x86_64__) || defined(_M_X64)
bool hasAvx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
#endif

struct Isa {
  const char* name;
  RunFn fn;
  bool available;
};

Isa* isas(size_t* count) {
  static Isa table[] = {
#if defined(__x86_64__) || defined(_M_X64)
      {"avx512", runAvx512, hasAvx512()},
      {"avx512-zmm", runAvx512Zmm, hasAvx512()},
      {"avx2", runAvx2, static_cast<bool>(__builtin_cpu_supports("avx2"))},
      {"sse2", runSse2, true},
#elif defined(__aarch64__)
      {"neon", runNeon, true},
#endif
      {"scalar", runScalar, true},
  };
  *count = sizeof(table) / sizeof(table[0]);
  return table;
}

Isa* selected = nullptr;

Isa* pick(const char* wanted) {
  size_t count;
  Isa* table = isas(&count);
  for (size_t i = 0; i < count; i++) {
    if (!table[i].available) continue;
    if (wanted == nullptr || std::strcmp(wanted, table[i].name) == 0) return &table[i];
  }
  return nullptr;
}

size_t elementSize(int dtype) {
  switch (dtype) {
    case INT8: case UINT8: case UINT8_CLAMPED: case BUFFER: return 1;
    case INT16: case UINT16: case FLOAT16: case BFLOAT16: return 2;
    case INT32: case UINT32: case FLOAT32: return 4;
    case FLOAT64: case BIGINT64: case BIGUINT64: return 8;
  }
  return 0;
}

bool viewOf(const Napi::Value& v, uint8_t** data, size_t* bytes) {
  if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    *data = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
    *bytes = t.ByteLength();
    return true;
  }
  if (v.IsDataView()) {
    Napi::DataView d = v.As<Napi::DataView>();
    *data = static_cast<uint8_t*>(d.ArrayBuffer().Data()) + d.ByteOffset();
    *bytes = d.ByteLength();
    return true;
  }
  return false;
}

Napi::Value Fail(Napi::Env env, bool range, const std::string& message) {
  if (range) Napi::RangeError::New(env, message).ThrowAsJavaScriptException();
  else Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// reduce(op: number, datatype: number, inout: TypedArray, input: TypedArray): undefined
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4) return Fail(env, false, "reduce(op, datatype, inout, input) takes 4 arguments");
  if (!info[0].IsNumber() || !info[1].IsNumber()) return Fail(env, false, "op and datatype must be numbers");
  const int op = info[0].As<Napi::Number>().Int32Value();
  const int dtype = info[1].As<Napi::Number>().Int32Value();
  const size_t size = elementSize(dtype);
  if (size == 0) return Fail(env, false, "unknown datatype " + std::to_string(dtype));
  if (op < SUM || op > MAXLOC) return Fail(env, false, "unknown op " + std::to_string(op));
  uint8_t *a, *b;
  size_t abytes, bbytes;
  if (!viewOf(info[2], &a, &abytes) || !viewOf(info[3], &b, &bbytes)) return Fail(env, false, "inout and input must be TypedArrays, Buffers or DataViews");
  if (abytes != bbytes) return Fail(env, true, "inout and input differ in length");
  if (abytes % size != 0) return Fail(env, true, "the byte length is not a whole number of elements");
  const size_t n = abytes / size;
  if ((op == MINLOC || op == MAXLOC) && n % 2 != 0) return Fail(env, true, "MINLOC/MAXLOC need an even number of elements");
  if (n > 0 && (a < b + bbytes && b < a + abytes) && a != b) return Fail(env, true, "inout and input overlap");
  if (!selected->fn(op, dtype, a, b, n)) return Fail(env, false, "op " + std::to_string(op) + " is not defined on datatype " + std::to_string(dtype));
  return env.Undefined();
}

Napi::Value GetIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), selected->name); }

// setIsa(name): for tests and benchmarks; throws RangeError for an ISA this CPU lacks.
Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) return Fail(env, false, "setIsa(name) takes a string");
  const std::string name = info[0].As<Napi::String>();
  Isa* isa = pick(name.c_str());
  if (isa == nullptr) return Fail(env, true, "instruction set " + name + " is not available on this CPU");
  selected = isa;
  return env.Undefined();
}

Napi::Value ListIsas(const Napi::CallbackInfo& info) {
  size_t count;
  Isa* table = isas(&count);
  Napi::Array out = Napi::Array::New(info.Env());
  uint32_t j = 0;
  for (size_t i = 0; i < count; i++) if (table[i].available) out.Set(j++, Napi::String::New(info.Env(), table[i].name));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const char* wanted = std::getenv("TSMPI_NATIVE_ISA");
  selected = pick(wanted != nullptr && *wanted ? wanted : nullptr);
  if (selected == nullptr) selected = pick(nullptr);  // an unknown override falls back to the best
  exports.Set("reduce", Napi::Function::New(env, Reduce, "reduce"));
  exports.Set("isa", Napi::Function::New(env, GetIsa, "isa"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("isas", Napi::Function::New(env, ListIsas, "isas"));
  return InitShm(env, exports);
}

}  // namespace

NODE_API_MODULE(tsmpi_reduce, Init)
