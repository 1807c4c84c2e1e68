/**
 * The runtime's one typed configuration object (like mpi4py's `rc`). Each
 * field may be overridden by the `TSMPI_*` environment variable named in its
 * doc; this file is the one place where they are documented.
 *
 * @packageDocumentation
 */

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
  /** HTTP/2 receive window of a rank's client connections, bytes. `TSMPI_FLOW_CONTROL_WINDOW`, default 1 MiB. */
  flowControlWindow: number;
  /** How long a rank waits for a peer's connection, ms. `TSMPI_CONNECT_TIMEOUT_MS`, default 30000. */
  connectTimeoutMs: number;
  /** How long `init()` waits for the whole job to register, ms. `TSMPI_INIT_TIMEOUT_MS`, default 60000. */
  initTimeoutMs: number;
  /** Debug channels to print, from `TSMPI_DEBUG=transport,collective,wireup` (or `all`). */
  debug: ReadonlySet<string>;
}

function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name}=${raw}: expected an integer >= ${min}`);
  }
  return value;
}

/** Reads the configuration from the environment. Throws `RangeError` on a malformed variable. */
export function loadConfig(): Config {
  return {
    chunkBytes: intFromEnv('TSMPI_CHUNK_BYTES', 1 << 20, 1024),
    eagerBytes: intFromEnv('TSMPI_EAGER_BYTES', 1 << 20, 0),
    maxMessageBytes: intFromEnv('TSMPI_MAX_MESSAGE_BYTES', 2 ** 31, 1),
    flowControlWindow: intFromEnv('TSMPI_FLOW_CONTROL_WINDOW', 1 << 20, 65535),
    connectTimeoutMs: intFromEnv('TSMPI_CONNECT_TIMEOUT_MS', 30_000, 1),
    initTimeoutMs: intFromEnv('TSMPI_INIT_TIMEOUT_MS', 60_000, 1),
    debug: new Set((process.env.TSMPI_DEBUG ?? '').split(',').filter(Boolean)),
  };
}

/** The configuration in force for this process. */
export const config: Config = loadConfig();
