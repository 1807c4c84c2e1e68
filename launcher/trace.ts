/**
 * `tsmpirun --trace FILE`: the ranks' spans (src/trace.ts), merged into one
 * Chrome trace-event file with the launcher's clock: one process per host,
 * one track per rank (and per extra lane of a rank's overlapping
 * operations), flow arrows from each send to the receive that took it.
 * Opens in Perfetto (ui.perfetto.dev) and chrome://tracing.
 *
 * What a rank sent is checked, not trusted: its events land on its own
 * tracks (the rank is the one its certificate names), with known fields only.
 */
import { writeFile } from 'node:fs/promises';
import type { TraceEvent } from '../src/trace.js';
import type { CollectedTrace } from './coordinator.js';

/** What the launcher knows of the job, for the merged trace. */
export interface TraceJob {
  version: string;
  program: string;
  hosts: readonly string[];
  ranks: ReadonlyArray<{ rank: number; node: number }>;
  /** Launcher clock, µs since the epoch. */
  startedAt: number;
  assembledAt: number | undefined;
  endedAt: number;
}

/** The merged trace file's content. */
export interface MergedTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: {
    tool: string;
    program: string;
    size: number;
    /** Per rank: what was added to its clock (µs), and the bound on that estimate's error (µs). */
    clockOffsets: Record<string, { offsetUs: number; errorUs: number }>;
    /** Ranks whose trace is missing (it died or never finalized) or incomplete, and why. */
    problems: string[];
  };
}

const PHASES = new Set(['X', 's', 'f', 'i']);
const text = (value: unknown, max = 200): string | undefined => (typeof value === 'string' ? value.slice(0, max) : undefined);
const finite = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/** One rank's events, checked, on its own tracks, in the launcher's clock minus `base`. */
function rankEvents(rank: number, node: number, trace: CollectedTrace, base: number, problems: string[]): TraceEvent[] {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.concat(trace.chunks).toString('utf8'));
  } catch {
    problems.push(`rank ${rank}: its trace is not JSON${trace.truncated ? ' (cut at the size limit)' : ''}`);
    return [];
  }
  if (!Array.isArray(raw)) {
    problems.push(`rank ${rank}: its trace is not a list of events`);
    return [];
  }
  const shift = trace.clockOffsetUs - base;
  const out: TraceEvent[] = [];
  for (const item of raw as unknown[]) {
    if (item === null || typeof item !== 'object') continue;
    const e = item as Record<string, unknown>;
    const ph = text(e.ph, 1);
    const ts = finite(e.ts);
    if (ph === undefined || !PHASES.has(ph) || ts === undefined) continue;
    const lane = Math.min(Math.max(Math.trunc(finite(e.tid) ?? 0) - rank * 1000, 0), 999);
    const event: TraceEvent = { name: text(e.name) ?? '', cat: text(e.cat, 40) ?? '', ph: ph as TraceEvent['ph'], ts: ts + shift, pid: node + 1, tid: rank * 1000 + lane };
    const dur = finite(e.dur);
    if (ph === 'X') event.dur = Math.max(dur ?? 0, 0);
    const id = text(e.id, 64);
    if (id !== undefined) event.id = id;
    if (e.bp === 'e') event.bp = 'e';
    if (e.args !== null && typeof e.args === 'object' && !Array.isArray(e.args)) event.args = e.args as Record<string, unknown>;
    out.push(event);
  }
  if (trace.truncated) problems.push(`rank ${rank}: its trace was larger than the limit and is cut short`);
  if (trace.dropped > 0) problems.push(`rank ${rank}: ${trace.dropped} spans over its limit were not recorded`);
  return out;
}

/** Merges what the coordinator collected. */
export function mergeTrace(job: TraceJob, traces: ReadonlyMap<number, CollectedTrace>): MergedTrace {
  const base = job.startedAt;
  const problems: string[] = [];
  const events: TraceEvent[] = [];
  const clockOffsets: MergedTrace['otherData']['clockOffsets'] = {};
  const meta = (name: string, pid: number, tid: number, args: Record<string, unknown>): TraceEvent => ({ name, cat: '__metadata', ph: 'M', ts: 0, pid, tid, args });
  events.push(meta('process_name', 0, 0, { name: 'tsmpirun' }), meta('process_sort_index', 0, 0, { sort_index: 0 }), meta('thread_name', 0, 0, { name: 'launcher' }));
  const end = job.endedAt - base;
  events.push({ name: 'job', cat: 'launcher', ph: 'X', ts: 0, dur: end, pid: 0, tid: 0, args: { program: job.program, size: job.ranks.length } });
  if (job.assembledAt !== undefined) {
    events.push({ name: 'start ranks and wire-up', cat: 'launcher', ph: 'X', ts: 0, dur: job.assembledAt - base, pid: 0, tid: 0, args: { hosts: job.hosts.length } });
  }
  for (const [node, host] of job.hosts.entries()) events.push(meta('process_name', node + 1, 0, { name: host }), meta('process_sort_index', node + 1, 0, { sort_index: node + 1 }));
  for (const { rank, node } of job.ranks) {
    const trace = traces.get(rank);
    if (trace === undefined || !trace.complete) {
      problems.push(`rank ${rank}: no trace (it ended without finalize, or died)`);
      continue;
    }
    clockOffsets[rank] = { offsetUs: trace.clockOffsetUs, errorUs: trace.clockErrorUs };
    const mine = rankEvents(rank, node, trace, base, problems);
    const lanes = new Set(mine.map((e) => e.tid));
    lanes.add(rank * 1000);
    for (const tid of lanes) {
      const lane = tid - rank * 1000;
      events.push(meta('thread_name', node + 1, tid, { name: lane === 0 ? `rank ${rank}` : `rank ${rank} (overlapping ${lane})` }), meta('thread_sort_index', node + 1, tid, { sort_index: tid }));
    }
    events.push(...mine);
  }
  return { traceEvents: events, displayTimeUnit: 'ms', otherData: { tool: `tsmpi ${job.version}`, program: job.program, size: job.ranks.length, clockOffsets, problems } };
}

/** Writes the merged trace to `file`; resolves to what it holds, for the launcher's line. */
export async function writeTrace(file: string, job: TraceJob, traces: ReadonlyMap<number, CollectedTrace>): Promise<MergedTrace> {
  const merged = mergeTrace(job, traces);
  await writeFile(file, JSON.stringify(merged));
  return merged;
}
