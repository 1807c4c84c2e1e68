/**
 * The MPI matching engine: posted receives and the unexpected-message queue,
 * per communicator context (MPI-4.0 §3.5 "Communication Modes", §3.8 "Probe").
 *
 * Invariants:
 * - A message matches the oldest posted receive whose (context, source, tag)
 *   accept it; a receive takes the oldest queued message it accepts. Together
 *   with the transport's per-destination order this makes messages from one
 *   sender on one context non-overtaking.
 * - Matching costs the same however long the queues are (match-queue.ts).
 * - A peer may have at most `TSMPI_UNEXPECTED_BYTES` of payload and
 *   `TSMPI_UNEXPECTED_MESSAGES` messages waiting unexpected here; a message
 *   beyond that is a {@link ProtocolError} (the transport refuses the peer).
 * - A receive that can no longer be satisfied (its source failed) rejects
 *   instead of waiting forever; so does every wait on `timeoutMs` or `signal`.
 */
import { config } from '../config.js';
import { AbortedError, InvalidArgumentError, PeerFailedError, ProtocolError, TimeoutError } from '../errors.js';
import type { CollSignature, Envelope, Payload, Transport, TransportHandler } from '../transport/transport.js';
import { ANY, MatchQueue } from './match-queue.js';
import type { EncodedPayload } from './payload.js';
import { flowId, MessageCounter, recorder } from '../trace.js';

/** Matches a message from any source (`MPI_ANY_SOURCE`). */
export const ANY_SOURCE = ANY;
/** Matches a message with any tag (`MPI_ANY_TAG`). */
export const ANY_TAG = ANY;
/** The null process (`MPI_PROC_NULL`): sends to it do nothing, receives from it complete at once. */
export const PROC_NULL = -2;

/** A message as it arrived: its payload, or for a rendezvous message only the payload's size. */
export interface Incoming {
  source: number;
  envelope: Envelope;
  payload: Payload;
  /** The message's flow id, while tracing (trace.ts). */
  flow?: string;
}

/** A received message before decoding: its payload bytes are here. */
export interface Received extends Incoming {
  payload: Uint8Array;
}

/** The message with its payload bytes, fetched from the sender first for a rendezvous message. */
function complete(message: Incoming): Received | Promise<Received> {
  const { payload } = message;
  if (payload instanceof Uint8Array) return { ...message, payload };
  return payload.fetch().then((bytes) => ({ ...message, payload: bytes }));
}

/**
 * Where a matched message's payload goes: the bytes of the receive's own
 * buffer, or an error for a message that does not fit it. Throws nothing.
 */
export type ReceiveInto = (message: Incoming) => Uint8Array | Error;

/**
 * The message with its payload in the buffer `into` gives: a rendezvous
 * payload is fetched straight there (one copy on shared memory), an eager one
 * copied. A message that does not fit is still received (fetched and
 * dropped), then the receive fails, as MPI_ERR_TRUNCATE does.
 */
function completeInto(message: Incoming, into: ReceiveInto): Received | Promise<Received> {
  const target = into(message);
  const { payload } = message;
  if (target instanceof Error) {
    if (payload instanceof Uint8Array) throw target;
    return payload.fetch().then(() => Promise.reject(target));
  }
  if (!(payload instanceof Uint8Array)) return payload.fetch(target).then(() => ({ ...message, payload: target }));
  target.set(payload);
  return { ...message, payload: target };
}

/** Cancellation and time limit of one wait. */
export interface WaitOptions {
  /** Rejects the wait with `AbortedError` when aborted. */
  signal?: AbortSignal | undefined;
  /** Rejects the wait with `TimeoutError` after this many milliseconds (a finite number >= 0, at most 2^31 - 1). */
  timeoutMs?: number | undefined;
}

interface Waiter {
  source: number;
  tag: number;
  op: 'recv' | 'probe';
  context: number;
  since: number;
  settle(result: { message: Incoming } | { error: Error }): void;
}

/** A wait in progress, for reports of what a rank is blocked in. */
export interface PendingWait {
  op: 'recv' | 'probe';
  context: number;
  /** A rank, or ANY_SOURCE. */
  source: number;
  /** A tag, or ANY_TAG. */
  tag: number;
  /** How long it has waited, ms. */
  waitedMs: number;
}

/** The queues of one context. */
interface Queues {
  unexpected: MatchQueue<Incoming>;
  posted: MatchQueue<Waiter>;
  probes: MatchQueue<Waiter>;
}

/** The largest delay setTimeout honours. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Checks wait options before anything is posted. @throws InvalidArgumentError */
export function checkWaitOptions(options: unknown): WaitOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', `${String(options)} is not an options object`);
  const { signal, timeoutMs } = options as WaitOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError('signal', 'expected an AbortSignal');
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs >= 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new InvalidArgumentError('timeoutMs', `${String(timeoutMs)} is not a number of milliseconds from 0 to ${MAX_TIMEOUT_MS}`);
  }
  return options as WaitOptions;
}

/** What one peer may have waiting unexpected at a rank. */
export interface UnexpectedBudget {
  /** Payload bytes (`TSMPI_UNEXPECTED_BYTES`). */
  bytes: number;
  /** Messages (`TSMPI_UNEXPECTED_MESSAGES`). */
  messages: number;
}

/** Matching engine of one rank, sitting on one transport. */
export class Engine implements TransportHandler {
  readonly transport: Transport;
  readonly #budget: UnexpectedBudget;
  readonly #queues = new Map<number, Queues>();
  readonly #failed = new Map<number, PeerFailedError>();
  readonly #finished = new Set<number>();
  readonly #listeners = new Map<number, (message: Received) => void>();
  /** Unexpected payload bytes and messages held, by source. */
  readonly #held = new Map<number, { bytes: number; messages: number }>();
  /** Messages sent to and arrived from each peer, while tracing (for flow ids). */
  readonly #sent = recorder && new MessageCounter();
  readonly #arrived = recorder && new MessageCounter();

  /** `budget` defaults to the configuration's (`TSMPI_UNEXPECTED_BYTES`, `TSMPI_UNEXPECTED_MESSAGES`). */
  constructor(transport: Transport, budget: UnexpectedBudget = { bytes: config.unexpectedBytes, messages: config.unexpectedMessages }) {
    this.transport = transport;
    this.#budget = budget;
    transport.setHandler(this);
  }

  get rank(): number {
    return this.transport.rank;
  }

  #of(context: number): Queues {
    let q = this.#queues.get(context);
    if (q === undefined) this.#queues.set(context, (q = { unexpected: new MatchQueue(), posted: new MatchQueue(), probes: new MatchQueue() }));
    return q;
  }

  #heldBy(source: number): { bytes: number; messages: number } {
    let held = this.#held.get(source);
    if (held === undefined) this.#held.set(source, (held = { bytes: 0, messages: 0 }));
    return held;
  }

  /**
   * Transport upcall: a message arrived.
   * @throws ProtocolError when it would take the source past its budget of unexpected messages.
   */
  message(source: number, envelope: Envelope, payload: Payload): void {
    // One shape whether tracing or not (a property added later gives each message a second map).
    const incoming: Incoming = { source, envelope, payload, flow: this.#arrived === undefined ? undefined : flowId(source, this.rank, this.#arrived.next(source)) };
    const listener = this.#listeners.get(envelope.context);
    if (listener !== undefined) {
      const ready = complete(incoming); // control messages are small: eager, delivered at once
      if (ready instanceof Promise) ready.then(listener, () => undefined);
      else listener(ready);
      return;
    }
    const q = this.#of(envelope.context);
    const waiter = q.posted.oldestAccepting(source, envelope.tag);
    if (waiter !== undefined) {
      waiter.settle({ message: incoming });
      return;
    }
    // A rendezvous message costs only its header until a receive takes it.
    const bytes = payload instanceof Uint8Array ? payload.byteLength : 0;
    const held = this.#heldBy(source);
    if (source !== this.rank && (held.messages + 1 > this.#budget.messages || held.bytes + bytes > this.#budget.bytes)) {
      throw new ProtocolError(
        source,
        `it sent more unexpected messages than a peer may have waiting here (${this.#budget.messages} messages, TSMPI_UNEXPECTED_MESSAGES; ${this.#budget.bytes} bytes, TSMPI_UNEXPECTED_BYTES)`,
      );
    }
    held.messages++;
    held.bytes += bytes;
    q.unexpected.push(source, envelope.tag, incoming);
    for (const probe of q.probes.allAccepting(source, envelope.tag)) probe.settle({ message: incoming });
  }

  /** Hands every message on `context` to `fn` instead of the queues (control traffic of the runtime). */
  listen(context: number, fn: (message: Received) => void): void {
    this.#listeners.set(context, fn);
  }

  /** Stops listening on `context`. */
  unlisten(context: number): void {
    this.#listeners.delete(context);
  }

  /** The tags that have messages queued (unexpected) on `context`. */
  queuedTags(context: number): Set<number> {
    return this.#queues.get(context)?.unexpected.tags() ?? new Set();
  }

  /** Removes a queued message (found by {@link iprobe}). */
  discard(context: number, message: Incoming): void {
    if (this.#queues.get(context)?.unexpected.remove(message)) this.#release(message);
  }

  #release(message: Incoming): void {
    const held = this.#heldBy(message.source);
    held.messages--;
    if (message.payload instanceof Uint8Array) held.bytes -= message.payload.byteLength;
  }

  #waitersOn(rank: number, exactly: boolean): Waiter[] {
    const out: Waiter[] = [];
    for (const q of this.#queues.values()) {
      for (const queue of [q.posted, q.probes]) {
        out.push(...queue.fromSource(rank));
        if (!exactly) out.push(...queue.fromSource(ANY));
      }
    }
    return out;
  }

  /** Transport upcall: a peer is gone. Receives that depended on it reject. */
  peerFailed(rank: number, error: PeerFailedError): void {
    if (this.#failed.has(rank)) return;
    this.#failed.set(rank, error);
    for (const w of this.#waitersOn(rank, false)) w.settle({ error: this.#failure(rank, w.op) });
  }

  /** Transport upcall: a peer finalized; nothing more will come from it. */
  peerFinished(rank: number): void {
    this.#finished.add(rank);
    for (const w of this.#waitersOn(rank, true)) w.settle({ error: this.#finishedError(rank) });
  }

  #finishedError(rank: number): PeerFailedError {
    return new PeerFailedError({ rank, host: this.transport.hostOf(rank), op: 'recv', reason: 'it finalized (called finalize() or its program ended), so the message waited for can no longer arrive' });
  }

  #failure(rank: number, op: string): PeerFailedError {
    const original = this.#failed.get(rank) as PeerFailedError;
    return new PeerFailedError({ rank: original.rank, host: original.host, op, reason: original.reason });
  }

  /** The failure that makes a receive from `source` hopeless, if any. */
  #hopeless(source: number, op: string): PeerFailedError | undefined {
    if (source === ANY_SOURCE) {
      const [first] = this.#failed.keys();
      return first === undefined ? undefined : this.#failure(first, op);
    }
    if (this.#failed.has(source)) return this.#failure(source, op);
    return this.#finished.has(source) ? this.#finishedError(source) : undefined;
  }

  /**
   * Sends an encoded payload to transport rank `dest` (not PROC_NULL);
   * self-sends are delivered locally. `coll` marks a collective message.
   * Resolves to the message's flow id while tracing.
   */
  send(dest: number, context: number, tag: number, payload: EncodedPayload, coll?: CollSignature): Promise<string | undefined> {
    const envelope: Envelope = { context, tag, kind: payload.kind, datatype: payload.datatype, count: payload.count, coll };
    if (dest === this.rank) {
      const copy: Payload = payload.bytes.slice();
      const flow = this.#sent && flowId(this.rank, dest, this.#sent.next(dest));
      queueMicrotask(() => this.message(dest, envelope, copy));
      return Promise.resolve(flow);
    }
    if (this.#failed.has(dest)) return Promise.reject(this.#failure(dest, 'send'));
    const limit = this.transport.maxMessageBytesOf(dest);
    if (payload.bytes.byteLength > limit) {
      return Promise.reject(
        new InvalidArgumentError('data', `${payload.bytes.byteLength} bytes: rank ${dest} accepts messages of at most ${limit} bytes (its TSMPI_MAX_MESSAGE_BYTES)`),
      );
    }
    const flow = this.#sent && flowId(this.rank, dest, this.#sent.next(dest));
    const sent = this.transport.send(dest, envelope, payload.bytes);
    return flow === undefined ? (sent as Promise<undefined>) : sent.then(() => flow);
  }

  /** The oldest queued message `(context, source, tag)` accepts, removed when `remove`. */
  #take(context: number, source: number, tag: number, remove: boolean): Incoming | undefined {
    const q = this.#queues.get(context);
    const message = q?.unexpected.oldestMatching(source, tag);
    if (message !== undefined && remove) {
      q?.unexpected.remove(message);
      this.#release(message);
    }
    return message;
  }

  /**
   * Receives the next message `(context, source, tag)` accepts, with its
   * payload (fetched from the sender once matched, for a rendezvous message).
   */
  recv(context: number, source: number, tag: number, options: WaitOptions = {}, into?: ReceiveInto): Promise<Received> {
    const matched = this.#wait('recv', context, source, tag, options);
    return into === undefined ? matched.then(complete) : matched.then((message) => completeInto(message, into));
  }

  /** Waits until a message `(context, source, tag)` accepts is queued, without receiving it. */
  probe(context: number, source: number, tag: number, options: WaitOptions = {}): Promise<Incoming> {
    return this.#wait('probe', context, source, tag, options);
  }

  /** The queued message a receive would take now, if any. */
  iprobe(context: number, source: number, tag: number): Incoming | undefined {
    return this.#take(context, source, tag, false);
  }

  /** The waits in progress, oldest first. */
  pendingWaits(): PendingWait[] {
    const now = Date.now();
    const all = [...this.#queues.values()].flatMap((q) => [...q.posted.all(), ...q.probes.all()]);
    return all.sort((a, b) => a.since - b.since).map((w) => ({ op: w.op, context: w.context, source: w.source, tag: w.tag, waitedMs: now - w.since }));
  }

  #wait(op: 'recv' | 'probe', context: number, source: number, tag: number, options: WaitOptions): Promise<Incoming> {
    const ready = this.#take(context, source, tag, op === 'recv');
    if (ready !== undefined) return Promise.resolve(ready);
    const hopeless = this.#hopeless(source, op);
    if (hopeless !== undefined) return Promise.reject(hopeless);
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(new AbortedError(op, { cause: signal.reason }));
    const queue = op === 'recv' ? this.#of(context).posted : this.#of(context).probes;

    return new Promise<Incoming>((resolve, reject) => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => waiter.settle({ error: new AbortedError(op, { cause: signal?.reason }) });
      const waiter: Waiter = {
        source,
        tag,
        op,
        context,
        since: started,
        settle: (result) => {
          queue.remove(waiter);
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if ('message' in result) resolve(result.message);
          else reject(result.error);
        },
      };
      queue.push(source, tag, waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        const detail = `no message from ${source === ANY_SOURCE ? 'any source' : `rank ${source}`} with ${tag === ANY_TAG ? 'any tag' : `tag ${tag}`}`;
        timer = setTimeout(() => waiter.settle({ error: new TimeoutError(op, Date.now() - started, detail) }), timeoutMs);
      }
    });
  }
}
