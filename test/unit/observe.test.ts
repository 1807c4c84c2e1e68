// The pieces of --trace and of the output options, without processes.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CollectedTrace } from '../../launcher/coordinator.js';
import { forwardLines } from '../../launcher/output.js';
import { mergeTrace, type TraceJob } from '../../launcher/trace.js';
import { describeSettings } from '../../src/environment.js';
import { ClockOffset, flowId, MessageCounter } from '../../src/trace.js';

const job: TraceJob = { version: '0', program: 'app.ts', hosts: ['h1', 'h2'], ranks: [{ rank: 0, node: 0 }, { rank: 1, node: 1 }], startedAt: 1_000_000, assembledAt: 1_500_000, endedAt: 3_000_000 };
const collected = (events: unknown, extra: Partial<CollectedTrace> = {}): CollectedTrace => ({
  chunks: [Buffer.from(typeof events === 'string' ? events : JSON.stringify(events))],
  bytes: 0,
  truncated: false,
  complete: true,
  clockOffsetUs: 0,
  clockErrorUs: 10,
  dropped: 0,
  ...extra,
});

describe('mergeTrace', () => {
  it("shifts a rank's spans by its clock offset, to the launcher's time from the job's start, on a track per rank grouped by host", () => {
    const traces = new Map([
      [0, collected([{ name: 'bcast', cat: 'collective', ph: 'X', ts: 2_000_000, dur: 50, pid: 1, tid: 0, args: { root: 0 } }])],
      [1, collected([{ name: 'bcast', cat: 'collective', ph: 'X', ts: 1_999_000, dur: 40, pid: 1, tid: 1000 }], { clockOffsetUs: 1000 })],
    ]);
    const merged = mergeTrace(job, traces);
    const spans = merged.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'collective');
    expect(spans.map((e) => [e.pid, e.tid, e.ts])).toEqual([
      [1, 0, 1_000_000],
      [2, 1000, 1_000_000],
    ]);
    expect(merged.traceEvents.filter((e) => e.name === 'process_name').map((e) => e.args?.name)).toEqual(['tsmpirun', 'h1', 'h2']);
    expect(merged.otherData.clockOffsets).toEqual({ 0: { offsetUs: 0, errorUs: 10 }, 1: { offsetUs: 1000, errorUs: 10 } });
    expect(merged.otherData.problems).toEqual([]);
  });

  it("puts a rank's events on its own tracks whatever they claim, keeps known fields only, and drops malformed ones", () => {
    const hostile = [
      { name: 'x'.repeat(1000), cat: 'p2p', ph: 'X', ts: 1_000_100, dur: -5, pid: 7, tid: 0, extra: 'dropped' },
      { name: 'bad phase', ph: 'B', ts: 1_000_100, pid: 1, tid: 1000 },
      { name: 'no time', ph: 'X', pid: 1, tid: 1000 },
      'not an event',
    ];
    const merged = mergeTrace(job, new Map([[1, collected(hostile)], [0, collected([])]]));
    const mine = merged.traceEvents.filter((e) => e.ph !== 'M' && e.pid !== 0);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toEqual({ name: 'x'.repeat(200), cat: 'p2p', ph: 'X', ts: 100, dur: 0, pid: 2, tid: 1000 });
  });

  it('names the ranks whose trace is missing, not JSON, cut at the limit, or over the span limit', () => {
    const merged = mergeTrace(job, new Map([[0, collected('{not json', { truncated: true })], [1, collected([], { dropped: 5, complete: true })]]));
    expect(merged.otherData.problems).toEqual(['rank 0: its trace is not JSON (cut at the size limit)', 'rank 1: 5 spans over its limit were not recorded']);
    const none = mergeTrace(job, new Map());
    expect(none.otherData.problems).toEqual(['rank 0: no trace (it ended without finalize, or died)', 'rank 1: no trace (it ended without finalize, or died)']);
  });
});

describe('clock offset and flow ids', () => {
  it('keeps the sample of least round trip, and its half round trip as the error', () => {
    const clock = new ClockOffset();
    expect(clock.offset).toBe(0);
    clock.sample(100, 300, 1200); // rtt 200: offset 1000
    clock.sample(400, 440, 1470); // rtt 40: offset 1050
    clock.sample(500, 900, 0); // rtt 400: ignored
    expect(clock.offset).toBe(1050);
    expect(clock.error).toBe(20);
  });

  it('numbers the messages of each pair from 0, alike on both sides', () => {
    const sent = new MessageCounter();
    const arrived = new MessageCounter();
    const ids = [sent.next(1), sent.next(1), sent.next(2)].map((n, i) => flowId(0, i < 2 ? 1 : 2, n));
    expect(ids).toEqual(['0>1#0', '0>1#1', '0>2#0']);
    expect(flowId(0, 1, arrived.next(0))).toBe(ids[0]);
  });
});

describe('forwardLines', () => {
  it('puts the timestamp and the tag before every line, and copies each line with its timestamp (no tag) to the file', async () => {
    const from = new PassThrough();
    const to = new PassThrough();
    const file = new PassThrough();
    let shown = '';
    let kept = '';
    to.on('data', (d: Buffer) => (shown += d.toString()));
    file.on('data', (d: Buffer) => (kept += d.toString()));
    const done = forwardLines(from, { to, tag: '[1@h] ', timestamp: true, file });
    from.write('one\ntw');
    from.end('o');
    await done;
    const stamp = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    expect(shown).toMatch(new RegExp(`^${stamp} \\[1@h\\] one\\n${stamp} \\[1@h\\] two\\n$`));
    expect(kept).toMatch(new RegExp(`^${stamp} one\\n${stamp} two\\n$`));
    expect(file.writableEnded).toBe(true);
  });
});

describe('describeSettings', () => {
  it('gives each setting its value in force and its source', () => {
    const settings = describeSettings({ TSMPI_EAGER_BYTES: '4096', TSMPI_CHUNK_BYTES: 'x', TSMPI_TRANSPORT: 'grpc' }, { TSMPI_TRANSPORT: '--transport grpc' });
    const of = (name: string): unknown => settings.find((s) => s.name === name);
    expect(of('TSMPI_EAGER_BYTES')).toEqual({ name: 'TSMPI_EAGER_BYTES', value: '4096', source: 'environment' });
    expect(of('TSMPI_CHUNK_BYTES')).toEqual({ name: 'TSMPI_CHUNK_BYTES', value: String(1 << 20), source: 'environment (malformed: default used)' });
    expect(of('TSMPI_TRANSPORT')).toEqual({ name: 'TSMPI_TRANSPORT', value: 'grpc', source: '--transport grpc' });
    expect(of('TSMPI_DEBUG')).toEqual({ name: 'TSMPI_DEBUG', value: '', source: 'default' });
    expect(of('TSMPI_ALLREDUCE_ALGORITHM')).toEqual({ name: 'TSMPI_ALLREDUCE_ALGORITHM', value: '', source: 'default' });
  });
});
