/**
 * An in-memory transport: N ranks in one process, for fast tests of the
 * matching engine and the collective algorithms. Same contract as gRPC:
 * per-destination order, exclusive payloads, peer failure.
 */
import { config } from '../config.js';
import { InvalidArgumentError, PeerFailedError } from '../errors.js';
import type { Envelope, Transport, TransportHandler } from './transport.js';

class MemoryTransport implements Transport {
  readonly rank: number;
  readonly size: number;
  handler: TransportHandler | undefined;
  readonly #job: MemoryJob;

  constructor(job: MemoryJob, rank: number) {
    this.#job = job;
    this.rank = rank;
    this.size = job.size;
  }

  setHandler(handler: TransportHandler): void {
    this.handler = handler;
  }

  async send(dest: number, envelope: Envelope, payload: Uint8Array): Promise<void> {
    const target = this.#job.transports[dest];
    if (target === undefined || this.#job.dead.has(dest)) {
      throw new PeerFailedError({ rank: dest, host: 'memory', op: 'send', reason: 'rank is dead' });
    }
    const copy = payload.slice();
    const from = this.rank;
    // Delivery in a later macrotask keeps per-destination order and lets the sender run on.
    const queue = this.#job.queueFor(from, dest);
    queue.push(() => target.handler?.message(from, { ...envelope, ...(envelope.coll ? { coll: { ...envelope.coll } } : {}) }, copy));
  }

  hostOf(rank: number): string {
    return `memory${this.#job.nodes[rank] ?? 0}`;
  }

  nodeOf(rank: number): number {
    return this.#job.nodes[rank] ?? 0;
  }

  maxMessageBytesOf(): number {
    return config.maxMessageBytes;
  }

  async close(): Promise<void> {}
}

/** A job of `size` ranks sharing one process. */
export class MemoryJob {
  readonly size: number;
  readonly transports: MemoryTransport[];
  readonly dead = new Set<number>();
  /** The simulated host of each rank (all on one by default). */
  readonly nodes: readonly number[];
  readonly #queues = new Map<string, Array<() => void>>();

  constructor(size: number, nodes: readonly number[] = []) {
    this.size = size;
    this.nodes = nodes;
    this.transports = Array.from({ length: size }, (_, rank) => new MemoryTransport(this, rank));
  }

  /** The transport of `rank`. */
  transport(rank: number): Transport {
    const t = this.transports[rank];
    if (t === undefined) throw new InvalidArgumentError('rank', `no rank ${rank} in a job of ${this.size}`);
    return t;
  }

  /** @internal The FIFO of deliveries from `from` to `to`, drained in a later macrotask. */
  queueFor(from: number, to: number): { push(deliver: () => void): void } {
    const key = `${from}>${to}`;
    return {
      push: (deliver) => {
        let q = this.#queues.get(key);
        if (q === undefined) {
          q = [];
          this.#queues.set(key, q);
        }
        q.push(deliver);
        if (q.length === 1) setImmediate(() => this.#drain(key));
      },
    };
  }

  #drain(key: string): void {
    const q = this.#queues.get(key);
    if (q === undefined) return;
    const batch = q.splice(0, q.length);
    for (const deliver of batch) deliver();
  }

  /** Simulates an orderly finalize of `rank`: the others learn that nothing more will come from it. */
  finish(rank: number): void {
    this.dead.add(rank);
    for (const t of this.transports) {
      if (t.rank !== rank) this.queueFor(rank, t.rank).push(() => t.handler?.peerFinished(rank));
    }
  }

  /** Simulates the death of `rank`: every other rank is told, as the coordinator would. */
  kill(rank: number, reason = 'killed'): void {
    this.dead.add(rank);
    for (const t of this.transports) {
      if (t.rank !== rank) t.handler?.peerFailed(rank, new PeerFailedError({ rank, host: 'memory', op: 'wait', reason }));
    }
  }
}
