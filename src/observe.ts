/**
 * Where the public operations meet the diagnostics: each p2p operation and
 * collective call is one span for `--trace` (trace.ts) and, when
 * `TSMPI_DEBUG` names its area or a tool subscribes to `tsmpi:<area>`, one
 * debug event (log.ts). With neither, {@link begin} returns `undefined` and
 * nothing else runs.
 */
import { debug, debugging } from './log.js';
import { recorder, traceNow } from './trace.js';

/** An operation being observed. */
export interface Started {
  lane: number;
  start: number;
}

/** Starts observing an operation of `area`, if anyone watches it. */
export function begin(area: 'p2p' | 'collective'): Started | undefined {
  if (recorder === undefined && !debugging(area)) return undefined;
  return { lane: recorder?.lane() ?? -1, start: traceNow() };
}

/** An operation's error, as events carry it: `TimeoutError: recv timed out …`. */
const failure = (error: unknown): string | undefined => (error === undefined ? undefined : error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** Milliseconds since `started`, as the debug lines print them. */
const ms = (started: Started): string => ((traceNow() - started.start) / 1000).toFixed(3);

/** What a p2p operation did: its peer (rank in `comm`), tag and bytes. */
export interface P2pFields {
  comm: string;
  peer: number;
  tag: number;
  bytes: number;
}

/** Ends a `send`, `recv` or `probe`; `flow`: the message's flow id; `error`: why it failed. */
export function endP2p(started: Started, op: 'send' | 'recv' | 'probe', fields: P2pFields, flow: string | undefined, error?: unknown): void {
  const failed = failure(error);
  if (debugging('p2p')) {
    const where = op === 'send' ? `to rank ${fields.peer}` : fields.peer < 0 ? 'from any source' : `from rank ${fields.peer}`;
    const what = `${op} ${where}, tag ${fields.tag < 0 ? 'any' : fields.tag}, ${fields.bytes} bytes, on ${fields.comm}`;
    const took = ms(started);
    debug('p2p', failed ? `${what} failed after ${took} ms: ${failed}` : `${what}: ${took} ms`, `${op}-end`, { ...fields, ms: Number(took), error: failed });
  }
  if (recorder === undefined) return;
  const args: Record<string, unknown> = { ...fields, ...(failed ? { error: failed } : {}) };
  recorder.span(started.lane, `${op} ${op === 'send' ? '→' : '←'} ${fields.peer < 0 ? 'any' : fields.peer}`, 'p2p', started.start, args, op === 'send' ? { out: flow } : op === 'recv' ? { in: flow } : undefined);
}

/** What a collective call is. */
export interface CollectiveFields {
  comm: string;
  /** The call, e.g. `allreduce(1024 float64, SUM, algorithm ring)`. */
  call: string;
  seq: number;
  algorithm: string | undefined;
  root: number | undefined;
  /** Bytes of this rank's data, where known. */
  bytes: number | undefined;
}

/** Publishes the start of a collective call (debug only: a hung call shows here). */
export function beginCollective(describe: () => CollectiveFields): void {
  if (!debugging('collective')) return;
  const fields = describe();
  debug('collective', `${fields.call} #${fields.seq} on ${fields.comm} begins`, 'collective-begin', { ...fields });
}

/** Ends a collective call. */
export function endCollective(started: Started, name: string, fields: CollectiveFields, error?: unknown): void {
  const failed = failure(error);
  if (debugging('collective')) {
    const what = `${fields.call} #${fields.seq} on ${fields.comm}`;
    const took = ms(started);
    debug('collective', failed ? `${what} failed after ${took} ms: ${failed}` : `${what} ends: ${took} ms`, 'collective-end', { ...fields, ms: Number(took), error: failed });
  }
  if (recorder === undefined) return;
  const args: Record<string, unknown> = { ...fields, ...(failed ? { error: failed } : {}) };
  recorder.span(started.lane, name, 'collective', started.start, args);
}
