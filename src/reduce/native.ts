/**
 * Loads the optional native reduction addon (native/reduce.cc), lazily, on
 * the first reduction. When it is missing or fails to load, or when
 * `TSMPI_NATIVE=0`, the TypeScript kernels are used; the choice and every
 * load error are kept for `tsmpirun --info`, never silent.
 */
import { createRequire } from 'node:module';
import { PACKAGE_ROOT } from '../paths.js';

/** The addon's shared-memory segments and rings (native/shm.cc). */
export interface ShmNative {
  /** A new segment `name` (`/name`, mode 0600, O_EXCL) of `rings` rings of `ringBytes` (a power of two); throws Error. */
  create(name: string, rings: number, ringBytes: number): ArrayBuffer;
  /** Maps an existing private segment of this user; throws Error. */
  open(name: string): ArrayBuffer;
  /** Removes the name (mappings stay valid); false when it was not there. */
  unlink(name: string): boolean;
  /** Publishes a record of body `a` then `b`: 1 written, 3 written and the reader waits (ring its doorbell), 0 no room (wait for the reader's). */
  write(segment: ArrayBuffer, ring: number, flags: number, a: Uint8Array, b: Uint8Array): number;
  /** The byte offset of the next record's body (length and flags are the two u32 before it), or -1 when empty. */
  peek(segment: ArrayBuffer, ring: number): number;
  /** Drops the record peek() gave; true when the writer waits for room (ring its doorbell). */
  consume(segment: ArrayBuffer, ring: number): boolean;
  /** The reader is about to wait for its doorbell; false when the ring is not empty after all. */
  sleep(segment: ArrayBuffer, ring: number): boolean;
  /** The reader polls again: writers need not ring its doorbell. */
  awake(segment: ArrayBuffer, ring: number): void;
  /** Where a view's bytes are in this process. */
  address(view: ArrayBufferView): bigint;
  /** Copies `into.byteLength` bytes at `address` of process `pid` (same user) into `into`: 0, or the errno (EPERM, ESRCH, EFAULT). */
  readFrom(pid: number, address: bigint, into: ArrayBufferView): number;
  ringBytes(segment: ArrayBuffer): number;
}

/** The addon's interface. */
export interface NativeAddon {
  shm: ShmNative;
  /** `inout[i] = op(inout[i], input[i])`; throws TypeError/RangeError on bad arguments. */
  reduce(op: number, datatype: number, inout: ArrayBufferView, input: ArrayBufferView): void;
  /** The instruction set in use: avx512, avx2, sse2, neon or scalar. */
  isa(): string;
  /** Switches instruction set (tests, benchmarks); RangeError when the CPU lacks it. */
  setIsa(name: string): void;
  /** The instruction sets this CPU can run. */
  isas(): string[];
}

/** Which reduction backend is in use, and why. */
export interface BackendInfo {
  backend: 'native' | 'typescript';
  /** The instruction set of the native backend. */
  isa?: string;
  /** Why the native backend is not in use. */
  reason?: string;
}

let state: { addon?: NativeAddon; reason?: string } | undefined;

function load(): { addon?: NativeAddon; reason?: string } {
  if (process.env.TSMPI_NATIVE === '0') return { reason: 'disabled by TSMPI_NATIVE=0' };
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  try {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
    return { addon: nodeGypBuild(PACKAGE_ROOT) };
  } catch (error) {
    errors.push((error as Error).message.split('\n')[0] ?? String(error));
  }
  return {
    reason: `the native addon did not load (${errors.join('; ')}); build it with \`npm rebuild tsmpi\` (needs python3, make and a C++ compiler)`,
  };
}

let shmState: { shm?: ShmNative; reason?: string } | undefined;

/**
 * The addon's shared-memory primitives, or `undefined` with why (the addon
 * did not build or load, or is too old); `TSMPI_NATIVE=0`, which chooses the
 * reduction kernels, does not turn them off.
 */
export function nativeShm(): { shm?: ShmNative; reason?: string } {
  shmState ??= (() => {
    try {
      const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build') as (dir: string) => Partial<NativeAddon>;
      const addon = nodeGypBuild(PACKAGE_ROOT);
      return addon.shm ? { shm: addon.shm } : { reason: 'the native addon has no shared-memory support (rebuild it: npm rebuild tsmpi)' };
    } catch (error) {
      return { reason: `the native addon did not load (${((error as Error).message.split('\n')[0] ?? '').trim()}); build it with \`npm rebuild tsmpi\`` };
    }
  })();
  return shmState;
}

/** The addon, or `undefined` when the TypeScript kernels are in use. */
export function nativeAddon(): NativeAddon | undefined {
  state ??= load();
  return state.addon;
}

/** The backend in use and, for the TypeScript one, why. */
export function backendInfo(): BackendInfo {
  const addon = nativeAddon();
  return addon ? { backend: 'native', isa: addon.isa() } : { backend: 'typescript', reason: state?.reason ?? 'not loaded' };
}
