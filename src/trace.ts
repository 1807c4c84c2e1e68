/**
 * The rank's half of `tsmpirun --trace`: spans of every collective and
 * point-to-point operation, kept in memory in Chrome's trace-event format
 * and handed to the launcher at finalize, which merges the ranks' into one
 * file. Off (nothing recorded, one boolean checked per operation) unless
 * the launcher sets `TSMPI_TRACE=1`.
 *
 * - Timestamps are this rank's clock (µs since the epoch) until the launcher
 *   has them; the rank's offset to the launcher's clock, estimated at
 *   wire-up (the sample of least round trip, as NTP does), is added then.
 * - Spans never overlap on a track: an operation that starts while another
 *   is in progress (a nonblocking one) goes on the rank's next free lane.
 * - A message's flow arrow joins its send to the receive that took it: the
 *   n-th message a rank sends to a peer is the n-th the peer gets from it
 *   (transports keep per-destination order), so both sides name it alike.
 *
 * Format: https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
 */
import { performance } from 'node:perf_hooks';
import { config } from './config.js';

/** One event of Chrome's trace-event format, as this runtime writes them. */
export interface TraceEvent {
  name: string;
  cat: string;
  /** `X` span, `s`/`f` flow start/end, `M` metadata, `i` instant. */
  ph: 'X' | 's' | 'f' | 'M' | 'i';
  /** µs. */
  ts: number;
  /** µs, for `X`. */
  dur?: number;
  /** The host's index in the job (+1; 0 is the launcher). */
  pid: number;
  /** `rank * 1000 + lane`. */
  tid: number;
  id?: string;
  bp?: 'e';
  s?: 't' | 'p' | 'g';
  args?: Record<string, unknown>;
}

/** Spans one rank keeps at most (about 200 bytes each); later ones are counted, not kept. */
export const MAX_TRACE_EVENTS = 1_000_000;


/** This rank's clock, µs since the epoch. */
export function traceNow(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

class Recorder {
  readonly events: TraceEvent[] = [];
  dropped = 0;
  rank = 0;
  pid = 1;
  /** Lanes in use. */
  readonly #busy: boolean[] = [];

  /** Takes the lowest free lane for a span that starts now. */
  lane(): number {
    let lane = this.#busy.indexOf(false);
    if (lane < 0) lane = this.#busy.length;
    this.#busy[lane] = true;
    return lane;
  }

  #push(event: TraceEvent): void {
    if (this.events.length < MAX_TRACE_EVENTS) this.events.push(event);
    else this.dropped++;
  }

  /** Ends a span begun at `start` on `lane`, with its flow start (`flowOut`) or end (`flowIn`). */
  span(lane: number, name: string, cat: string, start: number, args: Record<string, unknown>, flow?: { out?: string; in?: string }): void {
    this.#busy[lane] = false;
    const end = traceNow();
    const tid = this.rank * 1000 + lane;
    this.#push({ name, cat, ph: 'X', ts: start, dur: end - start, pid: this.pid, tid, args });
    if (flow?.out !== undefined) this.#push({ name: 'message', cat: 'flow', ph: 's', ts: start, pid: this.pid, tid, id: flow.out });
    if (flow?.in !== undefined) this.#push({ name: 'message', cat: 'flow', ph: 'f', bp: 'e', ts: Math.max(start, end - 0.5), pid: this.pid, tid, id: flow.in });
  }
}

/** This process's recorder, when tracing. */
export const recorder: Recorder | undefined = config.trace ? new Recorder() : undefined;

/** The id both sides give the `n`-th message from world rank `source` to `dest`. */
export function flowId(source: number, dest: number, n: number): string {
  return `${source}>${dest}#${n}`;
}

/** Counts messages per peer, for flow ids (only while tracing). */
export class MessageCounter {
  readonly #counts = new Map<number, number>();

  /** The next number of a message with `peer`, from 0. */
  next(peer: number): number {
    const n = this.#counts.get(peer) ?? 0;
    this.#counts.set(peer, n + 1);
    return n;
  }
}

/** Samples of the offset between this rank's clock and the launcher's (µs): the one of least round trip wins. */
export class ClockOffset {
  #best: { rtt: number; offset: number } | undefined;

  /** A probe sent at `sent` and answered at `received` (this clock) with the launcher's time `theirs`. */
  sample(sent: number, received: number, theirs: number): void {
    const rtt = received - sent;
    if (this.#best === undefined || rtt < this.#best.rtt) this.#best = { rtt, offset: theirs - (sent + received) / 2 };
  }

  /** Add to this clock to get the launcher's; 0 before any sample. */
  get offset(): number {
    return this.#best?.offset ?? 0;
  }

  /** Half the least round trip: the bound on the offset's error, µs. */
  get error(): number {
    return this.#best === undefined ? Infinity : this.#best.rtt / 2;
  }
}
