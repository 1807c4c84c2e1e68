/**
 * The runtime's one typed configuration object (like mpi4py's `rc`). Each
 * field may be overridden by the `TSMPI_*` environment variable named in its
 * doc; this file is the one place where they are documented (the collective
 * thresholds and algorithms are in `collectives/tuning.ts`).
 *
 * A malformed variable never throws at import: its default is used and the
 * problem is kept as a {@link ConfigurationError}, which `init()` raises and
 * `tsmpirun` reports before it starts any rank.
 *
 * @packageDocumentation
 */
import { ConfigurationError } from './errors.js';

/** Runtime settings. */
export interface Config {
  /** Payload chunk size in bytes for large messages. `TSMPI_CHUNK_BYTES`, default 1 MiB. */
  chunkBytes: number;
  /**
   * Largest message sent eagerly, in bytes. `TSMPI_EAGER_BYTES`, default 1 MiB.
   * Larger messages use the rendezvous protocol: the receiver asks for the
   * payload once a receive matches, so it never buffers an unexpected one.
   */
  eagerBytes: number;
  /** Largest message a rank accepts, in bytes. `TSMPI_MAX_MESSAGE_BYTES`, default 2 GiB. */
  maxMessageBytes: number;
  /**
   * The most payload bytes one peer may have waiting unexpected (sent, not
   * yet received) at this rank; a peer that sends more is refused (its link
   * is closed and both ranks fail, naming it). `TSMPI_UNEXPECTED_BYTES`,
   * default 256 MiB. A message above the eager limit costs only its header
   * until it is received (rendezvous).
   */
  unexpectedBytes: number;
  /** The most messages one peer may have waiting unexpected at this rank. `TSMPI_UNEXPECTED_MESSAGES`, default 100000. */
  unexpectedMessages: number;
  /** HTTP/2 receive window of a rank's client connections, bytes. `TSMPI_FLOW_CONTROL_WINDOW`, default 1 MiB. */
  flowControlWindow: number;
  /** How long a rank waits for a peer's connection, ms. `TSMPI_CONNECT_TIMEOUT_MS`, default 30000. */
  connectTimeoutMs: number;
  /** How long `init()` waits for the whole job to register, ms. `TSMPI_INIT_TIMEOUT_MS`, default 60000. */
  initTimeoutMs: number;
  /** How long a collective waits before asking its peer which call it made, ms. `TSMPI_COLL_CHECK_MS`, default 3000. */
  collCheckMs: number;
  /**
   * How long a host agent and the launcher may hear nothing from each other
   * (they speak every second) before the host is taken for lost, ms.
   * `TSMPI_HOST_TIMEOUT_MS`, default 5000.
   */
  hostTimeoutMs: number;
  /** The command that starts host agents on other hosts, as ssh does (Open MPI's `plm_rsh_agent`). `TSMPI_RSH`, default `ssh`; `--launch-agent` wins. */
  rsh: string | undefined;
  /**
   * How ranks of one host reach each other: `auto` (shared memory, when the
   * native addon is there) or `grpc` (mutual-TLS gRPC for every byte).
   * `TSMPI_TRANSPORT`, default `auto`; `tsmpirun --transport` sets it.
   */
  transport: 'auto' | 'grpc';
  /** Bytes of each shared-memory ring, one per pair of ranks of a host (a power of two). `TSMPI_SHM_RING_BYTES`, default 4 MiB. */
  shmRingBytes: number;
  /**
   * How long a rank polls its shared-memory rings after its last send or
   * receive before it sleeps on its doorbell, in microseconds; only where the
   * ranks of its host do not outnumber the cores. `TSMPI_SHM_POLL_US`,
   * default 200; 0 never polls.
   */
  shmPollMicros: number;
  /**
   * The job goes on when a rank dies (`tsmpirun --enable-recovery`, which sets
   * `TSMPI_ENABLE_RECOVERY=1`): finalize then waits only for the living ranks.
   */
  recovery: boolean;
  /**
   * Ranks keep V8's incremental marking (`TSMPI_INCREMENTAL_MARKING=1`); by
   * default tsmpirun starts them with `--no-incremental-marking` (read by the
   * launcher and the host agents from the rank's environment).
   */
  incrementalMarking: boolean;
  /**
   * The rank records spans for `tsmpirun --trace` (which sets `TSMPI_TRACE=1`
   * in every rank); off, nothing is recorded.
   */
  trace: boolean;
  /** Debug areas to print, from `TSMPI_DEBUG=transport,wireup,collective,p2p` (or `all`). */
  debug: ReadonlySet<string>;
}

/** The debug areas `TSMPI_DEBUG` accepts. */
export const DEBUG_AREAS = ['transport', 'wireup', 'collective', 'p2p', 'all'] as const;

/** Instruction sets `TSMPI_NATIVE_ISA` may name (the addon knows which of them this CPU runs). */
export const NATIVE_ISAS = ['avx512', 'avx512-zmm', 'avx2', 'sse2', 'neon', 'scalar'] as const;

/** Reads settings from an environment, collecting what is malformed instead of throwing. */
export class SettingsReader {
  readonly problems: ConfigurationError[] = [];
  /** Every setting read, with the value in force (for `tsmpirun --info`). */
  readonly values = new Map<string, string | number | boolean | undefined>();
  readonly #env: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv) {
    this.#env = env;
  }

  /** The raw value of `name`; `undefined` when unset or empty. */
  raw(name: string): string | undefined {
    const value = this.#env[name];
    const raw = value === undefined || value === '' ? undefined : value;
    this.values.set(name, raw);
    return raw;
  }

  /** Records the value in force of `name` (read through {@link raw}, then checked). */
  #use<T>(name: string, value: T): T {
    this.values.set(name, value instanceof Set ? [...(value as Set<string>)].join(',') : (value as string | number | undefined));
    return value;
  }

  /** An integer >= `min` (and <= `max`), or `fallback`. */
  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.raw(name);
    if (raw === undefined) return this.#use(name, fallback);
    const value = Number(raw);
    if (/^\s*[+-]?\d+\s*$/.test(raw) && Number.isSafeInteger(value) && value >= min && value <= max) return this.#use(name, value);
    this.problems.push(new ConfigurationError(name, raw, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`));
    return this.#use(name, fallback);
  }

  /** One of `choices`, or `undefined` when unset (or malformed); `fallback`: what the caller uses then (for {@link values}). */
  choice<T extends string>(name: string, choices: readonly T[], fallback?: T): T | undefined {
    const raw = this.raw(name);
    if (raw === undefined) {
      this.#use(name, fallback);
      return undefined;
    }
    if ((choices as readonly string[]).includes(raw)) return this.#use(name, raw as T);
    this.problems.push(new ConfigurationError(name, raw, `one of ${choices.join(', ')}`));
    this.#use(name, fallback);
    return undefined;
  }

  /** A comma-separated subset of `choices`. */
  list<T extends string>(name: string, choices: readonly T[]): Set<T> {
    const raw = this.raw(name);
    const items = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = items.filter((item) => !(choices as readonly string[]).includes(item));
    if (raw !== undefined && unknown.length > 0) this.problems.push(new ConfigurationError(name, raw, `a comma-separated list of ${choices.join(', ')}`));
    return this.#use(name, new Set(items.filter((item): item is T => (choices as readonly string[]).includes(item))));
  }
}

function powerOfTwo(reader: SettingsReader, name: string, fallback: number): number {
  const value = reader.int(name, fallback, 65536, 1 << 30);
  if ((value & (value - 1)) === 0) return value;
  reader.problems.push(new ConfigurationError(name, String(value), 'a power of two from 65536 to 1073741824'));
  reader.values.set(name, fallback);
  return fallback;
}

/** Reads the configuration from `env`; malformed variables keep their defaults and are added to `reader.problems`. */
export function loadConfig(reader: SettingsReader = new SettingsReader(process.env)): Config {
  reader.choice('TSMPI_NATIVE', ['0', '1']);
  reader.choice('TSMPI_NATIVE_ISA', NATIVE_ISAS);
  return {
    chunkBytes: reader.int('TSMPI_CHUNK_BYTES', 1 << 20, 1024),
    eagerBytes: reader.int('TSMPI_EAGER_BYTES', 1 << 20, 0),
    maxMessageBytes: reader.int('TSMPI_MAX_MESSAGE_BYTES', 2 ** 31, 1),
    unexpectedBytes: reader.int('TSMPI_UNEXPECTED_BYTES', 256 * 1024 * 1024, 1024),
    unexpectedMessages: reader.int('TSMPI_UNEXPECTED_MESSAGES', 100_000, 16),
    flowControlWindow: reader.int('TSMPI_FLOW_CONTROL_WINDOW', 1 << 20, 65535, 2 ** 31 - 1),
    connectTimeoutMs: reader.int('TSMPI_CONNECT_TIMEOUT_MS', 30_000, 1),
    initTimeoutMs: reader.int('TSMPI_INIT_TIMEOUT_MS', 60_000, 1),
    collCheckMs: reader.int('TSMPI_COLL_CHECK_MS', 3000, 10),
    hostTimeoutMs: reader.int('TSMPI_HOST_TIMEOUT_MS', 5000, 2000),
    rsh: reader.raw('TSMPI_RSH'),
    transport: reader.choice('TSMPI_TRANSPORT', ['auto', 'grpc'] as const, 'auto') ?? 'auto',
    shmRingBytes: powerOfTwo(reader, 'TSMPI_SHM_RING_BYTES', 4 << 20),
    shmPollMicros: reader.int('TSMPI_SHM_POLL_US', 200, 0, 1_000_000),
    recovery: reader.choice('TSMPI_ENABLE_RECOVERY', ['0', '1'] as const, '0') === '1',
    incrementalMarking: reader.choice('TSMPI_INCREMENTAL_MARKING', ['0', '1'] as const, '0') === '1',
    trace: reader.choice('TSMPI_TRACE', ['0', '1'] as const, '0') === '1',
    debug: reader.list('TSMPI_DEBUG', DEBUG_AREAS),
  };
}

const reader = new SettingsReader(process.env);

/** The configuration in force for this process. */
export const config: Config = loadConfig(reader);

/** What is malformed in this process's `TSMPI_*` settings read by this module. */
export const configProblems: readonly ConfigurationError[] = reader.problems;
