// tsmpi shared-memory segments and rings (N-API), for the ranks of one host.
//
// A segment belongs to the rank that reads it; it holds one single-producer,
// single-consumer ring per writer (one per other rank of the host). It is a
// POSIX shared-memory object created mode 0600 under a random name (only the
// job's user can map it), unlinked by its owner once every writer has mapped
// it. JavaScript sees the segment as an ArrayBuffer over the mapping (records
// are read in place and copied out); indexes are advanced here, with
// acquire/release ordering, so that a record is visible before its index is.
//
// Ring protocol (byte counters `head` and `tail` only grow; positions are
// counters modulo the ring size, a power of two):
// - a record is [u32 length][u32 flags][body][pad to 8]; one that would cross
//   the end of the ring is preceded by a WRAP record filling the rest;
// - the writer publishes a record by storing `head` (release); the reader
//   consumes it by storing `tail` (release);
// - before sleeping, the reader sets `readerWaiting` and looks once more; a
//   writer that publishes and finds it set clears it and rings the reader's
//   doorbell (JavaScript, a Unix socket). Likewise `writerWaiting` for a
//   writer that found no room.
//
// Every argument is checked; errors are thrown as JS TypeError/RangeError/Error.

#include <napi.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

constexpr uint64_t kMagic = 0x74736d7069736d31ull;  // "tsmpism1"
constexpr uint32_t kWrap = 1u << 31;                // flags bit of a WRAP record
constexpr size_t kHeaderBytes = 64;
constexpr size_t kRingHeaderBytes = 192;

struct SegmentHeader {
  uint64_t magic;
  uint32_t rings;
  uint32_t pad;
  uint64_t ringBytes;
};

struct RingHeader {
  alignas(64) std::atomic<uint64_t> head;
  alignas(64) std::atomic<uint64_t> tail;
  alignas(64) std::atomic<uint32_t> readerWaiting;
  std::atomic<uint32_t> writerWaiting;
};
static_assert(sizeof(RingHeader) == kRingHeaderBytes, "ring header layout");

size_t SegmentBytes(uint32_t rings, uint64_t ringBytes) { return kHeaderBytes + size_t(rings) * (kRingHeaderBytes + ringBytes); }

struct Mapping {
  void* base;
  size_t bytes;
};

Napi::Value Throw(Napi::Env env, const std::string& message, bool range = false) {
  if (range) Napi::RangeError::New(env, message).ThrowAsJavaScriptException();
  else Napi::Error::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ValidName(const std::string& name) {
  if (name.size() < 2 || name.size() > 200 || name[0] != '/') return false;
  return name.find('/', 1) == std::string::npos;
}

// An ArrayBuffer over `bytes` of mapping at `base`, unmapped when collected.
Napi::Value Wrap(Napi::Env env, void* base, size_t bytes) {
  auto* mapping = new Mapping{base, bytes};
  return Napi::ArrayBuffer::New(env, base, bytes, [](Napi::Env, void*, Mapping* m) {
    munmap(m->base, m->bytes);
    delete m;
  }, mapping);
}

// create(name, rings, ringBytes): a new segment (O_EXCL, mode 0600), initialised.
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) return Throw(env, "create(name, rings, ringBytes)");
  const std::string name = info[0].As<Napi::String>();
  const int64_t rings = info[1].As<Napi::Number>().Int64Value();
  const int64_t ringBytes = info[2].As<Napi::Number>().Int64Value();
  if (!ValidName(name)) return Throw(env, "a segment name is /name", true);
  if (rings < 1 || rings > 1024) return Throw(env, "rings must be 1..1024", true);
  if (ringBytes < 4096 || ringBytes > (int64_t(1) << 30) || (ringBytes & (ringBytes - 1)) != 0) return Throw(env, "ringBytes must be a power of two from 4096 to 2^30", true);
  const size_t bytes = SegmentBytes(uint32_t(rings), uint64_t(ringBytes));
  const int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) return Throw(env, "shm_open " + name + ": " + std::strerror(errno));
  if (fchmod(fd, 0600) != 0 || ftruncate(fd, off_t(bytes)) != 0) {
    const int e = errno;
    close(fd);
    shm_unlink(name.c_str());
    return Throw(env, "sizing " + name + ": " + std::strerror(e));
  }
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int e = errno;
  close(fd);
  if (base == MAP_FAILED) {
    shm_unlink(name.c_str());
    return Throw(env, "mmap " + name + ": " + std::strerror(e));
  }
  std::memset(base, 0, kHeaderBytes + size_t(rings) * kRingHeaderBytes);
  auto* header = static_cast<SegmentHeader*>(base);
  header->rings = uint32_t(rings);
  header->ringBytes = uint64_t(ringBytes);
  for (int64_t i = 0; i < rings; i++) new (static_cast<char*>(base) + kHeaderBytes + size_t(i) * (kRingHeaderBytes + size_t(ringBytes))) RingHeader();
  std::atomic_thread_fence(std::memory_order_release);
  header->magic = kMagic;
  return Wrap(env, base, bytes);
}

// open(name): maps an existing segment of this user; checks its header and size.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) return Throw(env, "open(name)");
  const std::string name = info[0].As<Napi::String>();
  if (!ValidName(name)) return Throw(env, "a segment name is /name", true);
  const int fd = shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) return Throw(env, "shm_open " + name + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 0077) != 0 || size_t(st.st_size) < kHeaderBytes) {
    close(fd);
    return Throw(env, name + " is not a private segment of this user");
  }
  const size_t bytes = size_t(st.st_size);
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int e = errno;
  close(fd);
  if (base == MAP_FAILED) return Throw(env, "mmap " + name + ": " + std::strerror(e));
  const auto* header = static_cast<const SegmentHeader*>(base);
  if (header->magic != kMagic || header->rings < 1 || SegmentBytes(header->rings, header->ringBytes) != bytes) {
    munmap(base, bytes);
    return Throw(env, name + " is not a tsmpi segment");
  }
  return Wrap(env, base, bytes);
}

Napi::Value Unlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) return Throw(env, "unlink(name)");
  const std::string name = info[0].As<Napi::String>();
  if (!ValidName(name)) return Throw(env, "a segment name is /name", true);
  return Napi::Boolean::New(env, shm_unlink(name.c_str()) == 0);
}

// The ring `index` of the segment `value` (an ArrayBuffer from create/open).
struct Ring {
  RingHeader* header;
  uint8_t* data;
  uint64_t size;
  size_t dataOffset;  // of `data` in the ArrayBuffer
};

bool GetRing(const Napi::CallbackInfo& info, Ring* ring) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArrayBuffer() || !info[1].IsNumber()) {
    Throw(env, "(segment, ring, ...) expected");
    return false;
  }
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  auto* base = static_cast<uint8_t*>(buffer.Data());
  if (buffer.ByteLength() < kHeaderBytes) {
    Throw(env, "not a segment");
    return false;
  }
  const auto* header = reinterpret_cast<const SegmentHeader*>(base);
  const int64_t index = info[1].As<Napi::Number>().Int64Value();
  if (header->magic != kMagic || SegmentBytes(header->rings, header->ringBytes) != buffer.ByteLength()) {
    Throw(env, "not a segment");
    return false;
  }
  if (index < 0 || index >= int64_t(header->rings)) {
    Throw(env, "no such ring", true);
    return false;
  }
  const size_t offset = kHeaderBytes + size_t(index) * (kRingHeaderBytes + header->ringBytes);
  ring->header = reinterpret_cast<RingHeader*>(base + offset);
  ring->data = base + offset + kRingHeaderBytes;
  ring->size = header->ringBytes;
  ring->dataOffset = offset + kRingHeaderBytes;
  return true;
}

bool ViewOf(const Napi::Value& v, const uint8_t** data, size_t* bytes) {
  if (!v.IsTypedArray()) return false;
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  *data = static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
  *bytes = t.ByteLength();
  return true;
}

inline uint64_t Align8(uint64_t n) { return (n + 7) & ~uint64_t(7); }

// write(segment, ring, flags, a, b): publishes one record whose body is a then b.
// Returns 1 (written), 3 (written; ring the reader's doorbell), or 0 (no room:
// writerWaiting is set, wait for the reader's doorbell). A body larger than
// half the ring is a RangeError: the caller sends it in pieces.
Napi::Value Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ring ring;
  if (!GetRing(info, &ring)) return env.Undefined();
  const uint8_t *a, *b;
  size_t an, bn;
  if (info.Length() != 5 || !info[2].IsNumber() || !ViewOf(info[3], &a, &an) || !ViewOf(info[4], &b, &bn)) return Throw(env, "write(segment, ring, flags, a, b)");
  const uint32_t flags = info[2].As<Napi::Number>().Uint32Value() & ~kWrap;
  const uint64_t body = uint64_t(an) + bn;
  const uint64_t need = 8 + Align8(body);
  if (need > ring.size / 2) return Throw(env, "a record larger than half the ring", true);
  const uint64_t head = ring.header->head.load(std::memory_order_relaxed);
  const uint64_t pos = head & (ring.size - 1);
  const uint64_t wrap = pos + need > ring.size ? ring.size - pos : 0;
  auto room = [&]() { return ring.size - (head - ring.header->tail.load(std::memory_order_acquire)); };
  if (room() < wrap + need) {
    ring.header->writerWaiting.store(1, std::memory_order_seq_cst);
    if (room() < wrap + need) return Napi::Number::New(env, 0);
    ring.header->writerWaiting.store(0, std::memory_order_relaxed);
  }
  uint64_t at = head;
  if (wrap > 0) {
    const uint32_t marker[2] = {uint32_t(wrap - 8), kWrap};
    std::memcpy(ring.data + pos, marker, 8);
    at += wrap;
  }
  uint8_t* record = ring.data + (at & (ring.size - 1));
  const uint32_t words[2] = {uint32_t(body), flags};
  std::memcpy(record, words, 8);
  if (an > 0) std::memcpy(record + 8, a, an);
  if (bn > 0) std::memcpy(record + 8 + an, b, bn);
  ring.header->head.store(at + need, std::memory_order_seq_cst);
  const bool ring_bell = ring.header->readerWaiting.exchange(0, std::memory_order_seq_cst) != 0;
  return Napi::Number::New(env, ring_bell ? 3 : 1);
}

// peek(segment, ring): the offset in the ArrayBuffer of the next record's body
// (its length and flags are the two u32 before it), or -1 when the ring is empty.
Napi::Value Peek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ring ring;
  if (!GetRing(info, &ring)) return env.Undefined();
  uint64_t tail = ring.header->tail.load(std::memory_order_relaxed);
  const uint64_t head = ring.header->head.load(std::memory_order_acquire);
  for (;;) {
    if (tail == head) return Napi::Number::New(env, -1);
    uint32_t words[2];
    const uint64_t pos = tail & (ring.size - 1);
    std::memcpy(words, ring.data + pos, 8);
    if ((words[1] & kWrap) != 0) {
      tail += 8 + uint64_t(words[0]);
      ring.header->tail.store(tail, std::memory_order_release);
      continue;
    }
    if (8 + Align8(words[0]) > head - tail || pos + 8 + words[0] > ring.size) return Throw(env, "a record overruns the ring");
    return Napi::Number::New(env, double(ring.dataOffset + pos + 8));
  }
}

// consume(segment, ring): drops the record peek() returned. Returns true when
// the writer was waiting for room (ring its doorbell).
Napi::Value Consume(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ring ring;
  if (!GetRing(info, &ring)) return env.Undefined();
  const uint64_t tail = ring.header->tail.load(std::memory_order_relaxed);
  const uint64_t head = ring.header->head.load(std::memory_order_acquire);
  if (tail == head) return Throw(env, "consume() of an empty ring");
  uint32_t words[2];
  std::memcpy(words, ring.data + (tail & (ring.size - 1)), 8);
  ring.header->tail.store(tail + 8 + Align8(words[0]), std::memory_order_seq_cst);
  return Napi::Boolean::New(env, ring.header->writerWaiting.exchange(0, std::memory_order_seq_cst) != 0);
}

// sleep(segment, ring): the reader is about to wait for its doorbell. Returns
// false when the ring is not empty after all (read on instead).
Napi::Value Sleep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ring ring;
  if (!GetRing(info, &ring)) return env.Undefined();
  ring.header->readerWaiting.store(1, std::memory_order_seq_cst);
  const bool empty = ring.header->head.load(std::memory_order_seq_cst) == ring.header->tail.load(std::memory_order_relaxed);
  if (!empty) ring.header->readerWaiting.store(0, std::memory_order_relaxed);
  return Napi::Boolean::New(env, empty);
}

// awake(segment, ring): the reader polls again; writers need not ring.
Napi::Value Awake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ring ring;
  if (!GetRing(info, &ring)) return env.Undefined();
  ring.header->readerWaiting.store(0, std::memory_order_relaxed);
  return env.Undefined();
}

// address(view): where the bytes of a typed array are in this process (for a
// peer of this host to read them with readFrom, single copy).
Napi::Value Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t bytes;
  if (info.Length() != 1 || !ViewOf(info[0], &data, &bytes)) return Throw(env, "address(view)");
  return Napi::BigInt::New(env, uint64_t(reinterpret_cast<uintptr_t>(data)));
}

// readFrom(pid, address, into): copies into.byteLength bytes from `address` in
// process `pid` (same user) into `into` with process_vm_readv (Linux cross-
// memory attach, one copy). Returns 0, or the errno that stopped it (EPERM:
// not allowed here; ESRCH: no such process; EFAULT: not mapped there).
Napi::Value ReadFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t bytes;
  if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsBigInt() || !ViewOf(info[2], &data, &bytes)) return Throw(env, "readFrom(pid, address, into)");
  const int64_t pid = info[0].As<Napi::Number>().Int64Value();
  bool lossless = false;
  const uint64_t address = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
  if (pid <= 0 || pid > INT32_MAX || !lossless) return Throw(env, "readFrom: bad pid or address", true);
  size_t done = 0;
  while (done < bytes) {
    struct iovec local = {const_cast<uint8_t*>(data) + done, bytes - done};
    struct iovec remote = {reinterpret_cast<void*>(uintptr_t(address + done)), bytes - done};
    const ssize_t n = process_vm_readv(pid_t(pid), &local, 1, &remote, 1, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Napi::Number::New(env, errno);
    }
    if (n == 0) return Napi::Number::New(env, EFAULT);
    done += size_t(n);
  }
  return Napi::Number::New(env, 0);
}

// ringBytes(segment): the size of each ring.
Napi::Value RingBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsArrayBuffer()) return Throw(env, "ringBytes(segment)");
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  if (buffer.ByteLength() < kHeaderBytes) return Throw(env, "not a segment");
  return Napi::Number::New(env, double(static_cast<const SegmentHeader*>(buffer.Data())->ringBytes));
}

}  // namespace

Napi::Object InitShm(Napi::Env env, Napi::Object exports) {
  Napi::Object shm = Napi::Object::New(env);
  shm.Set("create", Napi::Function::New(env, Create, "create"));
  shm.Set("open", Napi::Function::New(env, Open, "open"));
  shm.Set("unlink", Napi::Function::New(env, Unlink, "unlink"));
  shm.Set("write", Napi::Function::New(env, Write, "write"));
  shm.Set("peek", Napi::Function::New(env, Peek, "peek"));
  shm.Set("consume", Napi::Function::New(env, Consume, "consume"));
  shm.Set("sleep", Napi::Function::New(env, Sleep, "sleep"));
  shm.Set("awake", Napi::Function::New(env, Awake, "awake"));
  shm.Set("address", Napi::Function::New(env, Address, "address"));
  shm.Set("readFrom", Napi::Function::New(env, ReadFrom, "readFrom"));
  shm.Set("ringBytes", Napi::Function::New(env, RingBytes, "ringBytes"));
  exports.Set("shm", shm);
  return exports;
}
