/**
 * The MPI matching engine: posted receives and the unexpected-message queue,
 * per communicator context (MPI-4.0 §3.5 "Communication Modes", §3.8 "Probe").
 *
 * Invariants:
 * - A message matches the oldest posted receive whose (context, source, tag)
 *   accept it; a receive takes the oldest queued message it accepts. Together
 *   with the transport's per-destination order this makes messages from one
 *   sender on one context non-overtaking.
 * - A receive that can no longer be satisfied (its source failed) rejects
 *   instead of waiting forever; so does every wait on `timeoutMs` or `signal`.
 */
import { AbortedError, PeerFailedError, TimeoutError } from '../errors.js';
import type { CollSignature, Envelope, Payload, Transport, TransportHandler } from '../transport/transport.js';
import type { EncodedPayload } from './payload.js';

/** Matches a message from any source (`MPI_ANY_SOURCE`). */
export const ANY_SOURCE = -1;
/** Matches a message with any tag (`MPI_ANY_TAG`). */
export const ANY_TAG = -1;
/** The null process (`MPI_PROC_NULL`): sends to it do nothing, receives from it complete at once. */
export const PROC_NULL = -2;

/** A message as it arrived: its payload, or for a rendezvous message only the payload's size. */
export interface Incoming {
  source: number;
  envelope: Envelope;
  payload: Payload;
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

/** Cancellation and time limit of one wait. */
export interface WaitOptions {
  /** Rejects the wait with `AbortedError` when aborted. */
  signal?: AbortSignal | undefined;
  /** Rejects the wait with `TimeoutError` after this many milliseconds. */
  timeoutMs?: number | undefined;
}

interface Waiter {
  source: number;
  tag: number;
  settle(result: { message: Incoming } | { error: Error }): void;
}

function accepts(w: { source: number; tag: number }, source: number, tag: number): boolean {
  return (w.source === ANY_SOURCE || w.source === source) && (w.tag === ANY_TAG || w.tag === tag);
}

function listFor<T>(map: Map<number, T[]>, context: number): T[] {
  let list = map.get(context);
  if (list === undefined) {
    list = [];
    map.set(context, list);
  }
  return list;
}

/** Matching engine of one rank, sitting on one transport. */
export class Engine implements TransportHandler {
  readonly transport: Transport;
  readonly #unexpected = new Map<number, Incoming[]>();
  readonly #posted = new Map<number, Waiter[]>();
  readonly #probes = new Map<number, Waiter[]>();
  readonly #failed = new Map<number, PeerFailedError>();
  readonly #finished = new Set<number>();
  readonly #listeners = new Map<number, (message: Received) => void>();

  constructor(transport: Transport) {
    this.transport = transport;
    transport.setHandler(this);
  }

  get rank(): number {
    return this.transport.rank;
  }

  /** Transport upcall: a message arrived. */
  message(source: number, envelope: Envelope, payload: Payload): void {
    const incoming: Incoming = { source, envelope, payload };
    const listener = this.#listeners.get(envelope.context);
    if (listener !== undefined) {
      const ready = complete(incoming); // control messages are small: eager, delivered at once
      if (ready instanceof Promise) ready.then(listener, () => undefined);
      else listener(ready);
      return;
    }
    const posted = this.#posted.get(envelope.context);
    if (posted !== undefined) {
      const i = posted.findIndex((w) => accepts(w, source, envelope.tag));
      if (i >= 0) {
        const [waiter] = posted.splice(i, 1);
        waiter?.settle({ message: incoming });
        return;
      }
    }
    listFor(this.#unexpected, envelope.context).push(incoming);
    const probes = this.#probes.get(envelope.context);
    if (probes !== undefined && probes.length > 0) {
      for (const probe of probes.filter((p) => accepts(p, source, envelope.tag))) {
        probe.settle({ message: incoming });
      }
    }
  }

  /** Hands every message on `context` to `fn` instead of the queues (control traffic of the runtime). */
  listen(context: number, fn: (message: Received) => void): void {
    this.#listeners.set(context, fn);
  }

  /** Stops listening on `context`. */
  unlisten(context: number): void {
    this.#listeners.delete(context);
  }

  /** The queued (unexpected) messages on `context`, oldest first, without removing them. */
  queued(context: number): readonly Incoming[] {
    return this.#unexpected.get(context) ?? [];
  }

  /** Removes a queued message (found by {@link queued}). */
  discard(context: number, message: Incoming): void {
    const queue = this.#unexpected.get(context);
    const i = queue?.indexOf(message) ?? -1;
    if (i >= 0) queue?.splice(i, 1);
  }

  /** Transport upcall: a peer is gone. Receives that depended on it reject. */
  peerFailed(rank: number, error: PeerFailedError): void {
    if (this.#failed.has(rank)) return;
    this.#failed.set(rank, error);
    for (const map of [this.#posted, this.#probes]) {
      for (const waiters of map.values()) {
        for (const w of waiters.filter((x) => x.source === rank || x.source === ANY_SOURCE)) {
          w.settle({ error: this.#failure(rank, 'recv') });
        }
      }
    }
  }

  /** Transport upcall: a peer finalized; nothing more will come from it. */
  peerFinished(rank: number): void {
    this.#finished.add(rank);
    for (const map of [this.#posted, this.#probes]) {
      for (const waiters of map.values()) {
        for (const w of waiters.filter((x) => x.source === rank)) w.settle({ error: this.#finishedError(rank) });
      }
    }
  }

  #finishedError(rank: number): PeerFailedError {
    return new PeerFailedError({ rank, host: this.transport.hostOf(rank), op: 'recv', reason: 'it finalized (called finalize() or its program ended), so the message waited for can no longer arrive' });
  }

  #failure(rank: number, op: string): PeerFailedError {
    const original = this.#failed.get(rank);
    if (original === undefined) throw new Error(`rank ${rank} has not failed`);
    return new PeerFailedError({ rank: original.rank, host: original.host, op, reason: original.reason });
  }

  /** The failure that makes a receive from `source` hopeless, if any. */
  #hopeless(source: number): PeerFailedError | undefined {
    if (source === ANY_SOURCE) {
      const [first] = this.#failed.keys();
      return first === undefined ? undefined : this.#failure(first, 'recv');
    }
    if (this.#failed.has(source)) return this.#failure(source, 'recv');
    return this.#finished.has(source) ? this.#finishedError(source) : undefined;
  }

  /**
   * Sends an encoded payload to transport rank `dest` (not PROC_NULL);
   * self-sends are delivered locally. `coll` marks a collective message.
   */
  async send(dest: number, context: number, tag: number, payload: EncodedPayload, coll?: CollSignature): Promise<void> {
    const envelope: Envelope = { context, tag, kind: payload.kind, datatype: payload.datatype, count: payload.count, coll };
    if (dest === this.rank) {
      const copy: Payload = payload.bytes.slice();
      queueMicrotask(() => this.message(dest, envelope, copy));
      return;
    }
    if (this.#failed.has(dest)) throw this.#failure(dest, 'send');
    await this.transport.send(dest, envelope, payload.bytes);
  }

  /** Takes the oldest queued message `(context, source, tag)` accepts, without waiting. */
  #take(context: number, source: number, tag: number, remove: boolean): Incoming | undefined {
    const queue = this.#unexpected.get(context);
    if (queue === undefined) return undefined;
    const i = queue.findIndex((m) => accepts({ source, tag }, m.source, m.envelope.tag));
    if (i < 0) return undefined;
    const message = queue[i];
    if (remove) queue.splice(i, 1);
    return message;
  }

  /**
   * Receives the next message `(context, source, tag)` accepts, with its
   * payload (fetched from the sender once matched, for a rendezvous message).
   */
  recv(context: number, source: number, tag: number, options: WaitOptions = {}): Promise<Received> {
    return this.#wait(this.#posted, context, source, tag, true, 'recv', options).then(complete);
  }

  /** Waits until a message `(context, source, tag)` accepts is queued, without receiving it. */
  probe(context: number, source: number, tag: number, options: WaitOptions = {}): Promise<Incoming> {
    return this.#wait(this.#probes, context, source, tag, false, 'probe', options);
  }

  /** The queued message a receive would take now, if any. */
  iprobe(context: number, source: number, tag: number): Incoming | undefined {
    return this.#take(context, source, tag, false);
  }

  #wait(
    map: Map<number, Waiter[]>,
    context: number,
    source: number,
    tag: number,
    consume: boolean,
    op: string,
    options: WaitOptions,
  ): Promise<Incoming> {
    const ready = this.#take(context, source, tag, consume);
    if (ready !== undefined) return Promise.resolve(ready);
    const hopeless = this.#hopeless(source);
    if (hopeless !== undefined) return Promise.reject(hopeless);
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(new AbortedError(op, { cause: signal.reason }));

    return new Promise<Incoming>((resolve, reject) => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => waiter.settle({ error: new AbortedError(op, { cause: signal?.reason }) });
      const waiter: Waiter = {
        source,
        tag,
        settle: (result) => {
          const list = map.get(context);
          const i = list?.indexOf(waiter) ?? -1;
          if (i >= 0) list?.splice(i, 1);
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if ('message' in result) resolve(result.message);
          else reject(result.error);
        },
      };
      listFor(map, context).push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        const detail = `no message from ${source === ANY_SOURCE ? 'any source' : `rank ${source}`} with ${tag === ANY_TAG ? 'any tag' : `tag ${tag}`}`;
        timer = setTimeout(() => waiter.settle({ error: new TimeoutError(op, Date.now() - started, detail) }), timeoutMs);
      }
    });
  }
}
