/**
 * The communicator: a group of ranks with its own message contexts
 * (MPI-4.0 §7). Every public method validates its arguments and throws
 * {@link InvalidArgumentError} before anything is sent.
 */
import { allreduceReduceBcast } from './collectives/allreduce-reduce-bcast.js';
import { barrierDissemination } from './collectives/barrier-dissemination.js';
import { bcastBinomial } from './collectives/bcast-binomial.js';
import { cloneValue, decode, type CollectiveChannel } from './collectives/channel.js';
import { gatherLinear } from './collectives/gather-linear.js';
import { scatterLinear } from './collectives/scatter-linear.js';
import { FinalizedError, InvalidArgumentError } from './errors.js';
import { ANY_SOURCE, ANY_TAG, PROC_NULL, type Engine, type Incoming, type WaitOptions } from './p2p/engine.js';
import { decodePayload, encodePayload, type EncodedPayload } from './p2p/payload.js';
import { checkOp, checkReducible, SUM, type Op, type Reducible } from './reduce/ops.js';

/** The largest tag a program may use (`MPI_TAG_UB`). */
export const TAG_UB = 2 ** 31 - 1;

/** What a completed receive or a probe found (`MPI_Status`). */
export interface Status {
  /** The sender's rank (`PROC_NULL` for a receive from `PROC_NULL`). */
  source: number;
  /** The message's tag (`ANY_TAG` for a receive from `PROC_NULL`). */
  tag: number;
  /** Elements: of the TypedArray for raw payloads, bytes for serialized values. */
  count: number;
  /** Payload size in bytes. */
  bytes: number;
}

/** Options of {@link Communicator.send}. */
export interface SendOptions {
  /** Message tag, 0 ..= {@link TAG_UB}. Default 0. */
  tag?: number;
}

/** Options of {@link Communicator.recv} and {@link Communicator.probe}. */
export interface RecvOptions extends WaitOptions {
  /** Rank to receive from, `ANY_SOURCE` (the default) or `PROC_NULL`. */
  source?: number;
  /** Tag to match, or `ANY_TAG` (the default). */
  tag?: number;
  /** Filled in with the message's source, tag and count on completion. */
  status?: Status;
}

/** Options of {@link Communicator.sendrecv}. */
export interface SendrecvOptions extends WaitOptions {
  /** Tag of the outgoing message. Default 0. */
  sendTag?: number;
  /** Rank to receive from (default `ANY_SOURCE`). */
  source?: number;
  /** Tag to receive (default `ANY_TAG`). */
  recvTag?: number;
  /** Filled in for the received message. */
  status?: Status;
}

/** Options of rooted collectives. */
export interface RootOptions {
  /** The root rank. Default 0. */
  root?: number;
}

/** Options of {@link Communicator.allreduce}. */
export interface AllreduceOptions {
  /** Reduction op. Default `SUM`. */
  op?: Op;
}

const NULL_STATUS = (): Status => ({ source: PROC_NULL, tag: ANY_TAG, count: 0, bytes: 0 });

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/**
 * A communicator. `rank` is this process's rank in it, `size` the number of
 * ranks. Operations return promises; an operation not yet awaited is the
 * nonblocking form (the promise is the request). Messages from one sender on
 * one communicator are non-overtaking (MPI-4.0 §3.5).
 */
export class Communicator {
  /** This process's rank, 0 ..< size. */
  readonly rank: number;
  /** Number of ranks. */
  readonly size: number;
  readonly #engine: Engine;
  readonly #context: number;
  readonly #collContext: number;
  #collSeq = 0;
  #isFinalized: () => boolean;

  /** @internal Made by `init()`. */
  constructor(engine: Engine, context: number, isFinalized: () => boolean) {
    this.#engine = engine;
    this.rank = engine.transport.rank;
    this.size = engine.transport.size;
    this.#context = context;
    this.#collContext = context + 1;
    this.#isFinalized = isFinalized;
  }

  // -- validation ---------------------------------------------------------

  #live(op: string): void {
    if (this.#isFinalized()) throw new FinalizedError(op);
  }

  #checkRank(name: string, value: unknown, extra: number[] = []): number {
    if (isInt(value) && ((value >= 0 && value < this.size) || extra.includes(value))) return value;
    const also = extra.map((x) => (x === ANY_SOURCE ? 'ANY_SOURCE' : 'PROC_NULL')).join(' or ');
    throw new InvalidArgumentError(
      name,
      `${String(value)} is not a rank of this communicator: valid ranks are 0..${this.size - 1}${also ? ` or ${also}` : ''}`,
    );
  }

  #checkTag(name: string, value: unknown, allowAny: boolean): number {
    if (isInt(value) && ((value >= 0 && value <= TAG_UB) || (allowAny && value === ANY_TAG))) return value;
    throw new InvalidArgumentError(
      name,
      `${String(value)} is not a valid tag: tags are integers 0..${TAG_UB}${allowAny ? ' or ANY_TAG' : ''}`,
    );
  }

  // -- point-to-point -----------------------------------------------------

  /**
   * Sends `data` to rank `dest` (MPI_Send / MPI_Isend when not awaited).
   * TypedArrays, Buffers, DataViews and ArrayBuffers travel as raw bytes and
   * arrive as the same type and length; other values are structured-clone
   * serialized. Resolves when `data` may be modified again.
   * @throws InvalidArgumentError for a bad `dest` or `tag`; SerializationError for an uncloneable value (both before sending).
   * @throws PeerFailedError when `dest` died.
   */
  async send(data: unknown, dest: number, options: SendOptions = {}): Promise<void> {
    this.#live('send');
    const to = this.#checkRank('dest', dest, [PROC_NULL]);
    const tag = this.#checkTag('tag', options.tag ?? 0, false);
    const payload = encodePayload(data);
    if (to === PROC_NULL) return;
    await this.#engine.send(to, this.#context, tag, payload);
  }

  #complete<T>(message: Incoming, status: Status | undefined): T {
    const { envelope, payload } = message;
    if (status !== undefined) {
      status.source = message.source;
      status.tag = envelope.tag;
      status.count = envelope.count;
      status.bytes = payload.byteLength;
    }
    return decodePayload(envelope.kind, envelope.datatype, envelope.count, payload) as T;
  }

  /**
   * Receives a message (MPI_Recv / MPI_Irecv when not awaited) matching
   * `source` (default `ANY_SOURCE`) and `tag` (default `ANY_TAG`). A receive
   * from `PROC_NULL` resolves at once to `undefined`.
   * @throws InvalidArgumentError for a bad `source` or `tag`.
   * @throws PeerFailedError when the source died; TimeoutError after `timeoutMs`; AbortedError on `signal`.
   */
  async recv<T = unknown>(options: RecvOptions = {}): Promise<T> {
    this.#live('recv');
    const source = this.#checkRank('source', options.source ?? ANY_SOURCE, [ANY_SOURCE, PROC_NULL]);
    const tag = this.#checkTag('tag', options.tag ?? ANY_TAG, true);
    if (source === PROC_NULL) {
      if (options.status) Object.assign(options.status, NULL_STATUS());
      return undefined as T;
    }
    const message = await this.#engine.recv(this.#context, source, tag, options);
    return this.#complete<T>(message, options.status);
  }

  /**
   * Waits until a matching message can be received and returns its status
   * without receiving it (MPI_Probe).
   * @throws as {@link Communicator.recv}.
   */
  async probe(options: Omit<RecvOptions, 'status'> = {}): Promise<Status> {
    this.#live('probe');
    const source = this.#checkRank('source', options.source ?? ANY_SOURCE, [ANY_SOURCE, PROC_NULL]);
    const tag = this.#checkTag('tag', options.tag ?? ANY_TAG, true);
    if (source === PROC_NULL) return NULL_STATUS();
    const message = await this.#engine.probe(this.#context, source, tag, options);
    return { source: message.source, tag: message.envelope.tag, count: message.envelope.count, bytes: message.payload.byteLength };
  }

  /**
   * The status of a matching message that could be received now, or
   * `undefined` (MPI_Iprobe). Never waits.
   * @throws InvalidArgumentError for a bad `source` or `tag`.
   */
  iprobe(options: Pick<RecvOptions, 'source' | 'tag'> = {}): Status | undefined {
    this.#live('iprobe');
    const source = this.#checkRank('source', options.source ?? ANY_SOURCE, [ANY_SOURCE, PROC_NULL]);
    const tag = this.#checkTag('tag', options.tag ?? ANY_TAG, true);
    if (source === PROC_NULL) return NULL_STATUS();
    const message = this.#engine.iprobe(this.#context, source, tag);
    return message && { source: message.source, tag: message.envelope.tag, count: message.envelope.count, bytes: message.payload.byteLength };
  }

  /**
   * Sends `data` to `dest` and receives one message, concurrently
   * (MPI_Sendrecv), so that exchanges in a ring never deadlock.
   * @throws as {@link Communicator.send} and {@link Communicator.recv}.
   */
  async sendrecv<T = unknown>(data: unknown, dest: number, options: SendrecvOptions = {}): Promise<T> {
    this.#live('sendrecv');
    this.#checkRank('dest', dest, [PROC_NULL]);
    this.#checkTag('sendTag', options.sendTag ?? 0, false);
    this.#checkRank('source', options.source ?? ANY_SOURCE, [ANY_SOURCE, PROC_NULL]);
    this.#checkTag('recvTag', options.recvTag ?? ANY_TAG, true);
    const { sendTag, source, recvTag, ...rest } = options;
    const [, received] = await Promise.all([
      this.send(data, dest, { tag: sendTag ?? 0 }),
      this.recv<T>({ ...rest, source: source ?? ANY_SOURCE, tag: recvTag ?? ANY_TAG }),
    ]);
    return received;
  }

  // -- collectives --------------------------------------------------------

  /** A channel private to the next collective call: the collective context, tagged by call sequence. */
  #channel(op: string): CollectiveChannel {
    this.#live(op);
    const tag = this.#collSeq;
    this.#collSeq = (this.#collSeq + 1) % (TAG_UB + 1);
    const engine = this.#engine;
    const context = this.#collContext;
    return {
      rank: this.rank,
      size: this.size,
      send: (dest, payload) => engine.send(dest, context, tag, payload),
      recv: async (source): Promise<EncodedPayload> => {
        const { envelope, payload } = await engine.recv(context, source, tag);
        return { kind: envelope.kind as EncodedPayload['kind'], datatype: envelope.datatype as EncodedPayload['datatype'], count: envelope.count, bytes: payload };
      },
    };
  }

  /** Blocks until every rank has called it (MPI_Barrier). Dissemination algorithm. */
  async barrier(): Promise<void> {
    await barrierDissemination(this.#channel('barrier'));
  }

  /**
   * Broadcasts the root's `data` to every rank (MPI_Bcast); every rank gets
   * its own copy. Non-root ranks may pass `undefined`. Binomial tree.
   * @throws InvalidArgumentError for a bad `root`; SerializationError for an uncloneable value at the root.
   */
  async bcast<T>(data: T, options: RootOptions = {}): Promise<T> {
    const root = this.#checkRank('root', options.root ?? 0);
    const payload = this.rank === root ? encodePayload(data) : undefined;
    const ch = this.#channel('bcast');
    if (this.rank === root) {
      await bcastBinomial(ch, payload, root);
      return data;
    }
    return decode(await bcastBinomial(ch, undefined, root)) as T;
  }

  /**
   * Sends `data[i]` from the root to rank i (MPI_Scatter); returns this
   * rank's element. `data` must be an array of `size` values at the root and
   * is ignored elsewhere.
   * @throws InvalidArgumentError for a bad `root` or a root `data` that is not an array of `size` values.
   */
  async scatter<T>(data: readonly T[] | undefined, options: RootOptions = {}): Promise<T> {
    const root = this.#checkRank('root', options.root ?? 0);
    let payloads: EncodedPayload[] | undefined;
    if (this.rank === root) {
      if (!Array.isArray(data) || data.length !== this.size) {
        throw new InvalidArgumentError('data', `scatter needs an array of ${this.size} values at the root`);
      }
      payloads = data.map((value) => encodePayload(value));
    }
    const mine = await scatterLinear(this.#channel('scatter'), payloads, root);
    return (this.rank === root ? cloneValue(data?.[root]) : decode(mine)) as T;
  }

  /**
   * Collects every rank's `data` at the root (MPI_Gather): the root gets an
   * array of `size` values in rank order, other ranks `undefined`.
   * @throws InvalidArgumentError for a bad `root`; SerializationError for an uncloneable value.
   */
  async gather<T>(data: T, options: RootOptions = {}): Promise<T[] | undefined> {
    const root = this.#checkRank('root', options.root ?? 0);
    const payload = encodePayload(data);
    const all = await gatherLinear(this.#channel('gather'), payload, root);
    if (all === undefined) return undefined;
    return all.map((p, i) => (i === root ? cloneValue(data) : decode(p))) as T[];
  }

  /**
   * Combines every rank's `data` with `op` and returns the result on every
   * rank (MPI_Allreduce). `data` is a number, a bigint or a TypedArray (of
   * the same type and length on every rank); arrays are reduced element-wise.
   * The result is combined in rank order, so it is the same bytes on every
   * rank and run after run.
   * @throws InvalidArgumentError for an unknown op or a value that cannot be reduced.
   */
  async allreduce<T extends Reducible>(data: T, options: AllreduceOptions = {}): Promise<T> {
    const op = options.op ?? SUM;
    checkOp(op);
    checkReducible(data);
    return (await allreduceReduceBcast(this.#channel('allreduce'), data, op)) as T;
  }
}
