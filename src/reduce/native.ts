/**
 * Loads the optional native reduction addon (native/reduce.cc), lazily, on
 * the first reduction. When it is missing or fails to load, or when
 * `TSMPI_NATIVE=0`, the TypeScript kernels are used; the choice and every
 * load error are kept for `tsmpirun --info`, never silent.
 */
import { createRequire } from 'node:module';
import { PACKAGE_ROOT } from '../paths.js';

/** The addon's interface. */
export interface NativeAddon {
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
