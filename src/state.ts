/**
 * What this rank is waiting in: every receive, probe, send and collective in
 * progress, for the launcher's report on `--timeout` and SIGUSR1 (as Open
 * MPI's `--report-state-on-timeout`).
 */
import { activeCollectives } from './collectives/guard.js';
import { ANY_SOURCE, type Engine } from './p2p/engine.js';

/** One operation in progress (the `PendingOperation` message of proto/tsmpi.proto). */
export interface PendingOperation {
  op: string;
  communicator: string;
  /** The world rank it waits for; -1: any. */
  peer: number;
  /** -1: any. */
  tag: number;
  bytes: number;
  waitedMs: number;
  /** A collective's call and step. */
  detail: string;
}

/** The name reports give communicator `context`: each communicator has four contexts (p2p, collective, control, spare); the world's start at 0. */
export function communicatorName(context: number): string {
  const base = context - (context % 4);
  return base === 0 ? 'world' : `communicator ${base / 4}`;
}

/** The operations in progress on `engine` (and its transport's sends), oldest first. */
export function pendingOperations(engine: Engine, sends: Array<{ dest: number; bytes: number; waitedMs: number; rendezvous: boolean }>): PendingOperation[] {
  const now = Date.now();
  const ops: PendingOperation[] = [];
  // Waits on a collective's context are the collective's own steps, described below.
  for (const w of engine.pendingWaits()) {
    if (w.context % 4 !== 0) continue;
    ops.push({ op: w.op, communicator: communicatorName(w.context), peer: w.source === ANY_SOURCE ? -1 : w.source, tag: w.tag, bytes: 0, waitedMs: w.waitedMs, detail: '' });
  }
  for (const c of activeCollectives()) {
    ops.push({
      op: c.call.split('(')[0] ?? c.call,
      communicator: communicatorName(c.context),
      peer: c.waitingOn ?? -1,
      tag: -1,
      bytes: 0,
      waitedMs: now - c.since,
      detail: `${c.call}, call #${c.seq}, step ${c.step}${c.waitingOn === undefined ? '' : `, waiting for rank ${c.waitingOn}`}`,
    });
  }
  for (const s of sends) {
    ops.push({ op: 'send', communicator: '', peer: s.dest, tag: -1, bytes: s.bytes, waitedMs: s.waitedMs, detail: s.rendezvous ? 'rendezvous: waiting for the receiver to match it' : '' });
  }
  return ops.sort((a, b) => b.waitedMs - a.waitedMs);
}

/** One line for an operation in a report. */
export function describeOperation(op: PendingOperation): string {
  const seconds = `${(op.waitedMs / 1000).toFixed(1)} s`;
  if (op.detail && op.op !== 'send') return `${op.detail} on ${op.communicator}, for ${seconds}`;
  const peer = op.peer < 0 ? 'any source' : `rank ${op.peer}`;
  const tag = op.tag < 0 ? 'any tag' : `tag ${op.tag}`;
  if (op.op === 'send') return `send of ${op.bytes} bytes to ${peer}${op.detail ? ` (${op.detail})` : ''}, for ${seconds}`;
  return `${op.op} from ${peer}, ${tag}, on ${op.communicator}, for ${seconds}`;
}
