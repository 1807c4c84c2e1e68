/**
 * The communicator: a group of ranks with message contexts of its own
 * (MPI-4.0 §7). Point-to-point and collective operations; every public
 * method validates its arguments and throws {@link InvalidArgumentError}
 * before anything is sent.
 *
 * Collectives come in two forms, told apart by the type of the data:
 * - object form (any structured-cloneable value, like mpi4py's lowercase
 *   methods): `gather` returns an array of values, `scatter` takes one;
 * - buffer form (TypedArrays, counts in elements, like MPI's): `gather`
 *   returns one TypedArray with the blocks in rank order, `scatter` cuts one.
 * Nonblocking forms are the same calls not yet awaited; several
 * collectives may be in flight on one communicator, in the same order on
 * every rank (MPI-4.0 §6.12).
 */
import { allgatherBruck } from './collectives/allgather-bruck.js';
import { allgatherRecursiveDoubling } from './collectives/allgather-recursive-doubling.js';
import { allgatherRing } from './collectives/allgather-ring.js';
import { allreduceRabenseifner } from './collectives/allreduce-rabenseifner.js';
import { allreduceRecursiveDoubling } from './collectives/allreduce-recursive-doubling.js';
import { allreduceRing } from './collectives/allreduce-ring.js';
import { alltoallBruck } from './collectives/alltoall-bruck.js';
import { alltoallPairwise } from './collectives/alltoall-pairwise.js';
import { barrierDissemination } from './collectives/barrier-dissemination.js';
import { bcastBinomial } from './collectives/bcast-binomial.js';
import { bcastScatterAllgather } from './collectives/bcast-scatter-allgather.js';
import { allocLike, cloneValue, decode, type CollectiveChannel, type Group } from './collectives/channel.js';
import { gatherBinomial } from './collectives/gather-binomial.js';
import { CollectiveGuard } from './collectives/guard.js';
import { reducer, type Reducer } from './collectives/reducer.js';
import { reduceBinomial } from './collectives/reduce-binomial.js';
import { reduceScatterGather } from './collectives/reduce-scatter-gather.js';
import { reduceScatterPairwise } from './collectives/reduce-scatter-pairwise.js';
import { reduceScatterRecursiveHalving } from './collectives/reduce-scatter-recursive-halving.js';
import { scanRecursiveDoubling } from './collectives/scan-recursive-doubling.js';
import { scatterBinomial } from './collectives/scatter-binomial.js';
import { CollKind, OBJECT_FORM, type Signature } from './collectives/signature.js';
import { algorithmName, Algorithms, forcedAlgorithm, thresholds, type AlgorithmName } from './collectives/tuning.js';
import { allocDatatype, Datatype, isTypedArray, PayloadKind, TYPED_ARRAY_CONSTRUCTORS, typedArrayDatatype, type TypedArray } from './datatype.js';
import { config } from './config.js';
import { FinalizedError, InvalidArgumentError, PeerFailedError, ProtocolError, TruncateError } from './errors.js';
import { held } from './keepalive.js';
import { ANY_SOURCE, ANY_TAG, checkWaitOptions, PROC_NULL, type Engine, type Incoming, type WaitOptions } from './p2p/engine.js';
import { decodePayload, encodePayload, type EncodedPayload } from './p2p/payload.js';
import { begin, beginCollective, endCollective, endP2p, type CollectiveFields, type P2pFields, type Started } from './observe.js';
import { communicatorName } from './state.js';
import { BFLOAT16, checkOp, checkReducible, FLOAT16, MAX, opCode, SUM, type HalfType, type Op } from './reduce/ops.js';

/** The largest tag a program may use (`MPI_TAG_UB`). */
export const TAG_UB = 2 ** 31 - 1;

/** `split()` color of ranks that want no new communicator (`MPI_UNDEFINED`). */
export const UNDEFINED = -32766;

/** What a completed receive or a probe found (`MPI_Status`). */
export interface Status {
  /** The sender's rank in this communicator (`PROC_NULL` for a receive from `PROC_NULL`). */
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
  /**
   * Receive into this array (MPI_Recv's `buf`): the message must hold at most
   * `out.length` elements of `out`'s type (a Buffer and a Uint8Array take
   * each other's bytes); the receive then resolves to `out`, or to
   * `out.subarray(0, count)` for a shorter message. A large message is copied
   * from the sender straight into it.
   */
  out?: TypedArray;
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
  /** Receive into this array, as {@link RecvOptions.out}. */
  out?: TypedArray;
}

/** Options of rooted collectives. */
export interface RootOptions {
  /** The root rank. Default 0. */
  root?: number;
}

/** Options of {@link Communicator.bcast}. */
export interface BcastOptions<T> extends RootOptions {
  /** Buffer form at non-roots: receive into this TypedArray (same type and length as the root's) and return it. */
  out?: T extends TypedArray ? T : never;
  /** Force an algorithm (see the table in `collectives/tuning.ts`). */
  algorithm?: AlgorithmName<'bcast'>;
}

/** Options of reductions. */
export interface ReduceOptions {
  /** Reduction op. Default `SUM`. */
  op?: Op;
  /** Element type of Uint16Array data holding half-precision numbers. */
  datatype?: HalfType;
}

/** Options of {@link Communicator.allreduce}. */
export interface AllreduceOptions<T = unknown> extends ReduceOptions {
  /** Buffer form: write the result into this TypedArray (it may be the input itself: in place) and return it. */
  out?: T extends TypedArray ? T : never;
  /** Force an algorithm. */
  algorithm?: AlgorithmName<'allreduce'>;
}

/** Options of {@link Communicator.reduce}. */
export interface RootReduceOptions<T = unknown> extends ReduceOptions, RootOptions {
  /** Buffer form: at the root, write the result into this TypedArray and return it. */
  out?: T extends TypedArray ? T : never;
  /** Force an algorithm. */
  algorithm?: AlgorithmName<'reduce'>;
}

/** A buffer-form v-collective result: the blocks of every rank in rank order, and their element counts. */
export interface Blocks<T extends TypedArray> {
  /** Every rank's block, in rank order. */
  data: T;
  /** Elements of each rank's block (`counts[r]` from rank r). */
  counts: number[];
}

/** The gathered form of `T`: one TypedArray of blocks in rank order, or an array of values. */
export type Gathered<T> = T extends TypedArray ? T : T[];

const NULL_STATUS = (): Status => ({ source: PROC_NULL, tag: ANY_TAG, count: 0, bytes: 0 });

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/**
 * The options object of a call: `undefined` (then `{}`) or an object; its
 * `signal`, `timeoutMs` and `status`, where given, are checked too.
 * @throws InvalidArgumentError before anything is posted or sent.
 */
function checkOptions<T>(options: T): T {
  const checked = checkWaitOptions(options) as T & { status?: unknown };
  if (checked.status !== undefined && (checked.status === null || typeof checked.status !== 'object' || !Object.isExtensible(checked.status) || Object.isFrozen(checked.status))) {
    throw new InvalidArgumentError('status', 'expected a writable object to fill in');
  }
  return checked;
}

/**
 * Runs a pending operation, holding the process open until it settles
 * (keepalive.ts). A peer's failure is raised again here, as a failure of
 * `op`, so that its stack leads to the program's call rather than into the
 * transport.
 */
function pending<T>(op: string, operation: () => Promise<T>): Promise<T> {
  return held(operation, (error) =>
    error instanceof PeerFailedError ? new PeerFailedError({ rank: error.rank, host: error.host, op, reason: error.reason }, { cause: error }) : error,
  );
}

/** Per-process allocator of communicator context ids (each communicator takes 4: p2p, collective, control, spare). */
export class ContextAllocator {
  next = 4;
}

const KIND_TO_TABLE: Record<number, keyof typeof Algorithms> = {
  [CollKind.bcast]: 'bcast',
  [CollKind.allreduce]: 'allreduce',
  [CollKind.reduce]: 'reduce',
  [CollKind.allgather]: 'allgather',
  [CollKind.allgatherv]: 'allgather',
  [CollKind.reduceScatter]: 'reduceScatter',
  [CollKind.alltoall]: 'alltoall',
};

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
  readonly #members: readonly number[];
  readonly #worldToLocal: ReadonlyMap<number, number>;
  readonly #context: number;
  readonly #contexts: ContextAllocator;
  readonly #guard: CollectiveGuard;
  readonly #isFinalized: () => boolean;
  #freed = false;

  /**
   * @internal Made by `init()`, `split()` and `dup()`. `members[i]` is the
   * transport rank of communicator rank i.
   */
  constructor(engine: Engine, context: number, isFinalized: () => boolean, members?: readonly number[], contexts?: ContextAllocator) {
    this.#engine = engine;
    this.#members = members ?? Array.from({ length: engine.transport.size }, (_, i) => i);
    this.#worldToLocal = new Map(this.#members.map((w, i) => [w, i]));
    this.rank = this.#worldToLocal.get(engine.transport.rank) ?? -1;
    this.size = this.#members.length;
    this.#context = context;
    this.#contexts = contexts ?? new ContextAllocator();
    this.#isFinalized = isFinalized;
    const group: Group = { size: this.size, world: (r) => this.#members[r] as number };
    this.#guard = new CollectiveGuard(engine, group, this.rank, context + 1, context + 2, (kind, alg) => {
      const table = KIND_TO_TABLE[kind];
      return table ? algorithmName(table, alg) : String(alg);
    });
  }

  // -- validation ---------------------------------------------------------

  #live(op: string): void {
    if (this.#isFinalized()) throw new FinalizedError(op);
    if (this.#freed) throw new InvalidArgumentError('communicator', `${op} on a communicator that was freed`);
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
    throw new InvalidArgumentError(name, `${String(value)} is not a valid tag: tags are integers 0..${TAG_UB}${allowAny ? ' or ANY_TAG' : ''}`);
  }

  #world(rank: number): number {
    return rank === ANY_SOURCE || rank === PROC_NULL ? rank : (this.#members[rank] as number);
  }

  // -- point-to-point -----------------------------------------------------

  /**
   * Sends `data` to rank `dest` (MPI_Send; MPI_Isend when not awaited).
   * TypedArrays, Buffers, DataViews and ArrayBuffers travel as raw bytes and
   * arrive as the same type and length; other values are structured-clone
   * serialized. Resolves when `data` may be modified again.
   * @throws InvalidArgumentError for a bad `dest` or `tag`; SerializationError for an uncloneable value (both before sending).
   * @throws PeerFailedError when `dest` died.
   */
  async send(data: unknown, dest: number, options: SendOptions = {}): Promise<void> {
    options = checkOptions(options);
    this.#live('send');
    const to = this.#checkRank('dest', dest, [PROC_NULL]);
    const tag = this.#checkTag('tag', options.tag ?? 0, false);
    const payload = encodePayload(data);
    if (to === PROC_NULL) return;
    const started = begin('p2p');
    if (started === undefined) {
      await pending('send', () => this.#engine.send(this.#world(to), this.#context, tag, payload));
      return;
    }
    const fields: P2pFields = { comm: communicatorName(this.#context), peer: to, tag, bytes: payload.bytes.byteLength };
    try {
      endP2p(started, 'send', fields, await pending('send', () => this.#engine.send(this.#world(to), this.#context, tag, payload)));
    } catch (error) {
      endP2p(started, 'send', fields, undefined, error);
      throw error;
    }
  }

  #status(message: Incoming): Status {
    return {
      source: this.#worldToLocal.get(message.source) ?? -1,
      tag: message.envelope.tag,
      count: message.envelope.count,
      bytes: message.payload.byteLength,
    };
  }

  /**
   * Receives a message (MPI_Recv; MPI_Irecv when not awaited) matching
   * `source` (default `ANY_SOURCE`) and `tag` (default `ANY_TAG`). A receive
   * from `PROC_NULL` resolves at once to `undefined`.
   * @throws InvalidArgumentError for a bad `source`, `tag` or `out` (not a TypedArray).
   * @throws TruncateError when the message does not fit `out` (it is received all the same, as in MPI).
   * @throws PeerFailedError when the source died; TimeoutError after `timeoutMs`; AbortedError on `signal`.
   */
  async recv<T = unknown>(options: RecvOptions = {}): Promise<T> {
    options = checkOptions(options);
    this.#live('recv');
    const source = this.#checkRank('source', options.source ?? ANY_SOURCE, [ANY_SOURCE, PROC_NULL]);
    const tag = this.#checkTag('tag', options.tag ?? ANY_TAG, true);
    const { out } = options;
    if (out !== undefined && !isTypedArray(out)) throw new InvalidArgumentError('out', 'expected a TypedArray (or Buffer) to receive into');
    if (source === PROC_NULL) {
      if (options.status) Object.assign(options.status, NULL_STATUS());
      return undefined as T;
    }
    const into = out === undefined ? undefined : (message: Incoming): Uint8Array | Error => this.#into(out, message);
    const started = begin('p2p');
    const message = started === undefined
      ? await pending('recv', () => this.#engine.recv(this.#context, this.#world(source), tag, options, into))
      : await this.#observed(started, 'recv', source, tag, pending('recv', () => this.#engine.recv(this.#context, this.#world(source), tag, options, into)));
    if (options.status) Object.assign(options.status, this.#status(message));
    const { envelope, payload } = message;
    if (out !== undefined) return (envelope.count === out.length ? out : out.subarray(0, envelope.count)) as T;
    return decodePayload(envelope.kind, envelope.datatype, envelope.count, payload) as T;
  }

  /** Ends the observation of a receive or probe when `operation` settles. */
  async #observed<M extends Incoming>(started: Started, op: 'recv' | 'probe', source: number, tag: number, operation: Promise<M>): Promise<M> {
    const comm = communicatorName(this.#context);
    try {
      const message = await operation;
      const fields = { comm, peer: this.#worldToLocal.get(message.source) ?? -1, tag: message.envelope.tag, bytes: message.payload.byteLength };
      endP2p(started, op, fields, message.flow);
      return message;
    } catch (error) {
      endP2p(started, op, { comm, peer: source, tag, bytes: 0 }, undefined, error);
      throw error;
    }
  }

  /** The bytes of `out` a matched message goes into, or why it cannot. */
  #into(out: TypedArray, message: Incoming): Uint8Array | Error {
    const { envelope } = message;
    const bytes = message.payload.byteLength;
    const mine = typedArrayDatatype(out) as Datatype;
    const theirs = envelope.kind === PayloadKind.TYPED ? envelope.datatype : undefined;
    const bytesLike = (d: number | undefined): boolean => d === Datatype.BUFFER || d === Datatype.UINT8;
    const source = this.#worldToLocal.get(message.source) ?? -1;
    if (theirs !== mine && !(bytesLike(theirs) && bytesLike(mine))) {
      const what = theirs === undefined ? 'a structured-clone value' : `${envelope.count} elements of ${TYPED_ARRAY_CONSTRUCTORS.get(theirs as Datatype)?.name ?? (theirs === Datatype.BUFFER ? 'Buffer' : `datatype ${theirs}`)}`;
      return new TruncateError(source, envelope.tag, bytes, out.byteLength, `a message of ${what} does not go into a ${out.constructor.name}`);
    }
    if (bytes > out.byteLength) return new TruncateError(source, envelope.tag, bytes, out.byteLength, `a message of ${envelope.count} elements (${bytes} bytes) does not fit in out (${out.length} elements)`);
    return new Uint8Array(out.buffer, out.byteOffset, bytes);
  }

  /**
   * Waits until a matching message can be received and returns its status
   * without receiving it (MPI_Probe).
   * @throws as {@link Communicator.recv}.
   */
  async probe(options: Omit<RecvOptions, 'status'> = {}): Promise<Status> {
    options = checkOptions(options);
    this.#live('probe');
    const source = this.#checkRank('source', options.source ?? ANY_SOURCE, [ANY_SOURCE, PROC_NULL]);
    const tag = this.#checkTag('tag', options.tag ?? ANY_TAG, true);
    if (source === PROC_NULL) return NULL_STATUS();
    const started = begin('p2p');
    const probed = pending('probe', () => this.#engine.probe(this.#context, this.#world(source), tag, options));
    return this.#status(await (started === undefined ? probed : this.#observed(started, 'probe', source, tag, probed)));
  }

  /**
   * The status of a matching message that could be received now, or
   * `undefined` (MPI_Iprobe). Never waits.
   * @throws InvalidArgumentError for a bad `source` or `tag`.
   */
  iprobe(options: Pick<RecvOptions, 'source' | 'tag'> = {}): Status | undefined {
    options = checkOptions(options);
    this.#live('iprobe');
    const source = this.#checkRank('source', options.source ?? ANY_SOURCE, [ANY_SOURCE, PROC_NULL]);
    const tag = this.#checkTag('tag', options.tag ?? ANY_TAG, true);
    if (source === PROC_NULL) return NULL_STATUS();
    const message = this.#engine.iprobe(this.#context, this.#world(source), tag);
    return message && this.#status(message);
  }

  /**
   * Sends `data` to `dest` and receives one message, concurrently
   * (MPI_Sendrecv), so that exchanges in a ring never deadlock.
   * @throws as {@link Communicator.send} and {@link Communicator.recv}.
   */
  async sendrecv<T = unknown>(data: unknown, dest: number, options: SendrecvOptions = {}): Promise<T> {
    options = checkOptions(options);
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

  // -- collective plumbing -----------------------------------------------

  /** Runs one collective call under the guard: sequence number, signature, orphan checks. */
  async #collective<R>(op: string, sig: Signature, body: (ch: CollectiveChannel) => Promise<R>): Promise<R> {
    this.#live(op);
    const started = begin('collective');
    const { seq, channel } = this.#guard.begin(sig);
    if (started !== undefined) beginCollective(() => this.#collectiveFields(seq, sig));
    let result: R;
    try {
      result = await pending(op, () => body(channel));
    } catch (error) {
      this.#guard.abandon(seq);
      if (started !== undefined) endCollective(started, op, this.#collectiveFields(seq, sig), error);
      throw error;
    }
    this.#guard.end(seq);
    if (started !== undefined) endCollective(started, op, this.#collectiveFields(seq, sig));
    return result;
  }

  /** A collective call, for diagnostics (its algorithm is known once a message of it arrived, at a non-root). */
  #collectiveFields(seq: number, sig: Signature): CollectiveFields {
    const table = KIND_TO_TABLE[sig.kind];
    const width = sig.datatype === FLOAT16 || sig.datatype === BFLOAT16 ? 2 : TYPED_ARRAY_CONSTRUCTORS.get(sig.datatype as Datatype)?.BYTES_PER_ELEMENT;
    return {
      comm: communicatorName(this.#context),
      call: this.#guard.describe(sig),
      seq,
      algorithm: table && sig.alg ? algorithmName(table, sig.alg) : undefined,
      root: sig.root >= 0 ? sig.root : undefined,
      bytes: width !== undefined && sig.count >= 0 ? width * sig.count : undefined,
    };
  }

  #sig(kind: number, fields: Partial<Signature> = {}): Signature {
    return { kind, root: -1, count: -1, datatype: 0, op: 0, alg: 0, ...fields };
  }

  /** The signature datatype of `data`: its TypedArray type, a half type, or the object form. */
  #datatypeOf(data: unknown, half?: HalfType): number {
    if (half === 'float16') return FLOAT16;
    if (half === 'bfloat16') return BFLOAT16;
    return typedArrayDatatype(data) ?? OBJECT_FORM;
  }

  /**
   * The algorithm forced for this call of `collective`, if any, where it can
   * serve it (`invalid(id)` says why it cannot). One forced by the call's
   * `algorithm` option that cannot is an error; one forced by
   * `TSMPI_<COLLECTIVE>_ALGORITHM` is ignored, and the table decides.
   */
  #forced<C extends keyof typeof Algorithms>(collective: C, perCall: string | undefined, invalid: (id: number) => string | undefined = () => undefined): number | undefined {
    const forced = forcedAlgorithm(collective, perCall);
    if (forced === undefined) return undefined;
    const why = invalid(forced.id);
    if (why === undefined) return forced.id;
    if (forced.by === 'env') return undefined;
    throw new InvalidArgumentError('algorithm', `${algorithmName(collective, forced.id)} ${why}`);
  }

  #checkOut(out: unknown, like: TypedArray, length: number): void {
    if (out === undefined) return;
    if (!isTypedArray(out) || out.constructor !== like.constructor || out.length !== length) {
      throw new InvalidArgumentError('out', `expected a ${like.constructor.name} of ${length} elements`);
    }
  }

  // -- collectives --------------------------------------------------------

  /** Blocks until every rank has called it (MPI_Barrier). Dissemination algorithm. */
  async barrier(): Promise<void> {
    await this.#collective('barrier', this.#sig(CollKind.barrier), (ch) => barrierDissemination(ch));
  }

  /**
   * Broadcasts the root's `data` to every rank (MPI_Bcast); every rank gets
   * its own copy (the root gets `data` back). Non-root ranks pass `undefined`, or (buffer form) a
   * TypedArray of the root's type and length to receive into. Binomial tree;
   * long TypedArrays: scatter + ring allgather.
   * @throws InvalidArgumentError for a bad `root` or `out`; SerializationError for an uncloneable value at the root.
   */
  async bcast<T>(data: T | undefined, options: BcastOptions<T> = {}): Promise<T> {
    options = checkOptions(options);
    const root = this.#checkRank('root', options.root ?? 0);
    const isRoot = this.rank === root;
    const out = isRoot ? undefined : ((options.out ?? (isTypedArray(data) ? data : undefined)) as TypedArray | undefined);
    let sig: Signature;
    if (isRoot) {
      const payload = encodePayload(data); // validates the value before anything is sent
      const typed = isTypedArray(data);
      const large = typed && data.byteLength >= thresholds.bcastLargeBytes && this.size >= 8;
      const forced = this.#forced('bcast', options.algorithm, (id) => (id === Algorithms.bcast.scatter_allgather && !typed ? 'broadcasts TypedArrays only' : undefined));
      const alg = forced ?? (large ? Algorithms.bcast.scatter_allgather : Algorithms.bcast.binomial);
      sig = this.#sig(CollKind.bcast, { root, count: typed ? data.length : -1, datatype: this.#datatypeOf(data), alg });
      return this.#collective('bcast', sig, async (ch) => {
        if (alg === Algorithms.bcast.scatter_allgather) await bcastScatterAllgather(ch, data as TypedArray, root);
        else await bcastBinomial(ch, payload, root);
        return data as T; // the root's own value (undefined is a legal value to broadcast)
      });
    }
    // A non-root learns the algorithm from the root's first message; only a per-call choice is asserted here.
    const forced = options.algorithm === undefined ? undefined : this.#forced('bcast', options.algorithm);
    sig = this.#sig(CollKind.bcast, { root, count: out ? out.length : -1, datatype: out ? this.#datatypeOf(out) : 0, alg: forced ?? 0 });
    return this.#collective('bcast', sig, async (ch) => {
      // The first message comes from the binomial parent in either algorithm; it says which one the root chose.
      const relative = (this.rank - root + this.size) % this.size;
      const parent = (relative - (relative & -relative) + root) % this.size;
      const theirs = await ch.peek(parent);
      if (theirs?.alg === Algorithms.bcast.scatter_allgather) {
        // The buffer is allocated from what the root announces: only within this rank's message limit.
        const size = TYPED_ARRAY_CONSTRUCTORS.get(theirs.datatype as Datatype)?.BYTES_PER_ELEMENT ?? (theirs.datatype === Datatype.BUFFER ? 1 : 0);
        if (out === undefined && (size === 0 || !Number.isSafeInteger(theirs.count) || theirs.count < 0 || theirs.count * size > config.maxMessageBytes)) {
          throw new ProtocolError(this.#members[parent] as number, `it announced a broadcast of ${theirs.count} elements of datatype ${theirs.datatype}, which this rank cannot take (TSMPI_MAX_MESSAGE_BYTES ${config.maxMessageBytes})`);
        }
        const buf = out ?? allocDatatype(theirs.datatype, theirs.count);
        await bcastScatterAllgather(ch, buf, root);
        return buf as T;
      }
      const value = decode(await bcastBinomial(ch, undefined, root));
      if (out !== undefined) {
        this.#checkOut(value, out, out.length);
        (out as Float64Array).set(value as Float64Array);
        return out as T;
      }
      return value as T;
    });
  }

  /**
   * Scatters from the root (MPI_Scatter). Object form: the root passes an
   * array of `size` values and rank i gets value i. Buffer form: the root
   * passes a TypedArray whose length is a multiple of `size` and rank i gets
   * elements [i·n/size, (i+1)·n/size). Non-roots pass `undefined`. Binomial tree.
   * Returns the TypedArray type of the root's data (buffer form; non-roots
   * name it: `scatter<Float64Array>(undefined)`) or the element type of its array.
   * @throws InvalidArgumentError for a bad `root` or root data of the wrong shape.
   */
  scatter<A extends TypedArray>(data: A | undefined, options?: RootOptions): Promise<A>;
  scatter<T>(data: readonly T[] | undefined, options?: RootOptions): Promise<T>;
  async scatter<T>(data: readonly T[] | TypedArray | undefined, options: RootOptions = {}): Promise<T> {
    options = checkOptions(options);
    const root = this.#checkRank('root', options.root ?? 0);
    let payloads: EncodedPayload[] | undefined;
    let sig = this.#sig(CollKind.scatter, { root });
    if (this.rank === root) {
      if (isTypedArray(data)) {
        if (data.length % this.size !== 0) throw new InvalidArgumentError('data', `a buffer scatter needs a length that is a multiple of ${this.size}`);
        const n = data.length / this.size;
        payloads = Array.from({ length: this.size }, (_, i) => encodePayload(data.subarray(i * n, (i + 1) * n)));
        sig = this.#sig(CollKind.scatter, { root, count: n, datatype: this.#datatypeOf(data) });
      } else {
        if (!Array.isArray(data) || data.length !== this.size) throw new InvalidArgumentError('data', `scatter needs an array of ${this.size} values (or a TypedArray) at the root`);
        payloads = data.map((value) => encodePayload(value));
        sig = this.#sig(CollKind.scatter, { root, datatype: OBJECT_FORM });
      }
    }
    return this.#scatterPayloads('scatter', sig, payloads, root) as Promise<T>;
  }

  async #scatterPayloads(op: string, sig: Signature, payloads: EncodedPayload[] | undefined, root: number): Promise<unknown> {
    return this.#collective(op, sig, async (ch) => {
      const mine = await scatterBinomial(ch, payloads, root);
      return this.rank === root ? decode({ ...mine, bytes: mine.bytes.slice() }) : decode(mine);
    });
  }

  /**
   * Scatters blocks of different lengths (MPI_Scatterv): the root passes a
   * TypedArray and `counts` (elements per rank, summing to at most its
   * length); rank i gets `counts[i]` elements. Non-roots pass `undefined`.
   * @throws InvalidArgumentError for a bad `root`, `counts` or data.
   */
  async scatterv<T extends TypedArray>(data: T | undefined, counts: readonly number[] | undefined, options: RootOptions = {}): Promise<T> {
    options = checkOptions(options);
    const root = this.#checkRank('root', options.root ?? 0);
    let payloads: EncodedPayload[] | undefined;
    let sig = this.#sig(CollKind.scatterv, { root });
    if (this.rank === root) {
      if (!isTypedArray(data)) throw new InvalidArgumentError('data', 'scatterv takes a TypedArray at the root');
      this.#checkCounts(counts, data.length);
      let offset = 0;
      payloads = (counts as number[]).map((c) => encodePayload(data.subarray(offset, (offset += c))));
      sig = this.#sig(CollKind.scatterv, { root, datatype: this.#datatypeOf(data) });
    }
    return this.#scatterPayloads('scatterv', sig, payloads, root) as Promise<T>;
  }

  #checkCounts(counts: unknown, max?: number): asserts counts is number[] {
    if (!Array.isArray(counts) || counts.length !== this.size || !counts.every((c) => isInt(c) && c >= 0)) {
      throw new InvalidArgumentError('counts', `expected ${this.size} non-negative integers`);
    }
    if (max !== undefined && counts.reduce((a: number, b: number) => a + b, 0) > max) {
      throw new InvalidArgumentError('counts', `the counts add up to more than the ${max} elements given`);
    }
  }

  /**
   * Collects every rank's `data` at the root (MPI_Gather): the root gets, in
   * rank order, an array of values (object form) or one TypedArray of all
   * blocks (buffer form; every rank passes the same length); other ranks
   * get `undefined`. Binomial tree.
   * @throws InvalidArgumentError for a bad `root`; SerializationError for an uncloneable value.
   */
  async gather<T>(data: T, options: RootOptions = {}): Promise<Gathered<T> | undefined> {
    options = checkOptions(options);
    const root = this.#checkRank('root', options.root ?? 0);
    const payload = encodePayload(data);
    const typed = isTypedArray(data);
    const sig = this.#sig(CollKind.gather, { root, count: typed ? data.length : -1, datatype: this.#datatypeOf(data) });
    return this.#collective('gather', sig, async (ch) => {
      const all = await gatherBinomial(ch, payload, root);
      if (all === undefined) return undefined;
      return (typed ? this.#concat(data, all, root) : all.map((p, i) => (i === root ? cloneValue(data) : decode(p)))) as Gathered<T>;
    });
  }

  /** Concatenates typed payloads in rank order (the own block is copied from `mine`). */
  #concat(mine: TypedArray, all: readonly EncodedPayload[], self: number): TypedArray {
    const parts = all.map((p, i) => (i === self ? mine : (decode(p) as TypedArray)));
    const out = allocLike(mine, parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      (out as Float64Array).set(part as Float64Array, offset);
      offset += part.length;
    }
    return out;
  }

  /**
   * Gathers TypedArrays of different lengths at the root (MPI_Gatherv): the
   * root gets the blocks in rank order and their element counts.
   * @throws InvalidArgumentError for a bad `root` or non-TypedArray data.
   */
  async gatherv<T extends TypedArray>(data: T, options: RootOptions = {}): Promise<Blocks<T> | undefined> {
    options = checkOptions(options);
    const root = this.#checkRank('root', options.root ?? 0);
    if (!isTypedArray(data)) throw new InvalidArgumentError('data', 'gatherv takes a TypedArray');
    const sig = this.#sig(CollKind.gatherv, { root, datatype: this.#datatypeOf(data) });
    return this.#collective('gatherv', sig, async (ch) => {
      const all = await gatherBinomial(ch, encodePayload(data), root);
      if (all === undefined) return undefined;
      return { data: this.#concat(data, all, root) as T, counts: all.map((p) => p.count) };
    });
  }

  /**
   * Gathers every rank's `data` on every rank (MPI_Allgather): an array of
   * values (object form) or one TypedArray of all blocks in rank order
   * (buffer form; same length everywhere). Recursive doubling or Bruck for
   * short data, ring for long.
   * @throws SerializationError for an uncloneable value; InvalidArgumentError for a bad algorithm.
   */
  async allgather<T>(data: T, options: { algorithm?: AlgorithmName<'allgather'> } = {}): Promise<Gathered<T>> {
    options = checkOptions(options);
    const payload = encodePayload(data);
    const typed = isTypedArray(data);
    const total = typed ? data.byteLength * this.size : -1;
    const alg = this.#allgatherAlg(total, options.algorithm);
    const sig = this.#sig(CollKind.allgather, { count: typed ? data.length : -1, datatype: this.#datatypeOf(data), alg });
    return this.#collective('allgather', sig, async (ch) => {
      const all = await this.#runAllgather(ch, alg, payload);
      return (typed ? this.#concat(data, all, this.rank) : all.map((p, i) => (i === this.rank ? cloneValue(data) : decode(p)))) as Gathered<T>;
    });
  }

  #allgatherAlg(totalBytes: number, perCall: string | undefined): number {
    const pow2 = (this.size & (this.size - 1)) === 0;
    const forced = this.#forced('allgather', perCall, (id) =>
      id === Algorithms.allgather.recursive_doubling && !pow2 ? `needs a power-of-two number of ranks, not ${this.size}` : undefined,
    );
    if (forced !== undefined) return forced;
    if (totalBytes < 0) return Algorithms.allgather.bruck; // object form: sizes differ by rank
    if (totalBytes < thresholds.allgatherShortBytes) return pow2 ? Algorithms.allgather.recursive_doubling : Algorithms.allgather.bruck;
    return Algorithms.allgather.ring;
  }

  #runAllgather(ch: CollectiveChannel, alg: number, payload: EncodedPayload): Promise<EncodedPayload[]> {
    if (alg === Algorithms.allgather.recursive_doubling) return allgatherRecursiveDoubling(ch, payload);
    if (alg === Algorithms.allgather.bruck) return allgatherBruck(ch, payload);
    return allgatherRing(ch, payload);
  }

  /**
   * Gathers TypedArrays of different lengths on every rank (MPI_Allgatherv):
   * the blocks in rank order and their counts. Pass `counts` (the same on
   * every rank) to let the algorithm be chosen by size; otherwise ring.
   * @throws InvalidArgumentError for non-TypedArray data or bad `counts`.
   */
  async allgatherv<T extends TypedArray>(data: T, options: { counts?: readonly number[]; algorithm?: AlgorithmName<'allgather'> } = {}): Promise<Blocks<T>> {
    options = checkOptions(options);
    if (!isTypedArray(data)) throw new InvalidArgumentError('data', 'allgatherv takes a TypedArray');
    let total = -1;
    if (options.counts !== undefined) {
      this.#checkCounts(options.counts);
      if (options.counts[this.rank] !== data.length) throw new InvalidArgumentError('counts', `counts[${this.rank}] is not this rank's length ${data.length}`);
      total = options.counts.reduce((a, b) => a + b, 0) * data.BYTES_PER_ELEMENT;
    }
    const alg = total < 0 && options.algorithm === undefined ? Algorithms.allgather.ring : this.#allgatherAlg(total, options.algorithm);
    const sig = this.#sig(CollKind.allgatherv, { datatype: this.#datatypeOf(data), alg });
    return this.#collective('allgatherv', sig, async (ch) => {
      const all = await this.#runAllgather(ch, alg, encodePayload(data));
      return { data: this.#concat(data, all, this.rank) as T, counts: all.map((p) => p.count) };
    });
  }

  #reduceSetup(data: unknown, options: ReduceOptions): { op: Op; half: HalfType | undefined; reduce: Reducer } {
    const op = options.op ?? SUM;
    checkOp(op);
    checkReducible(op, data, options.datatype);
    return { op, half: options.datatype, reduce: reducer(op, options.datatype) };
  }

  /**
   * Combines every rank's `data` with `op` and returns the result on every
   * rank (MPI_Allreduce). `data` is a number, a bigint, a TypedArray (same
   * type and length on every rank, reduced element-wise) or, with a user
   * op, any value. The result is the same bytes on every rank, and the same
   * inputs on the same number of ranks give the same bytes run after run.
   * Recursive doubling (short, or non-commutative op), Rabenseifner
   * (medium), ring (long).
   * @throws InvalidArgumentError for an unknown op, a value the op cannot reduce, a bad `out` or algorithm.
   */
  async allreduce<T>(data: T, options: AllreduceOptions<T> = {}): Promise<T> {
    options = checkOptions(options);
    const { op, half, reduce } = this.#reduceSetup(data, options);
    const typed = isTypedArray(data);
    if (typed && options.out !== undefined) this.#checkOut(options.out, data, data.length);
    let alg = this.#forced('allreduce', options.algorithm, (id) =>
      id !== Algorithms.allreduce.recursive_doubling && (!typed || !op.commutative) ? 'reorders operands: it needs TypedArray data and a commutative op' : undefined,
    );
    if (alg === undefined) {
      const bytes = typed ? data.byteLength : 0;
      if (!typed || !op.commutative || bytes < thresholds.allreduceShortBytes || data.length < this.size) alg = Algorithms.allreduce.recursive_doubling;
      else alg = bytes < thresholds.allreduceRingBytes ? Algorithms.allreduce.rabenseifner : Algorithms.allreduce.ring;
    }
    const sig = this.#sig(CollKind.allreduce, { count: typed ? data.length : -1, datatype: this.#datatypeOf(data, half), op: opCode(op), alg });
    const chosen = alg;
    return this.#collective('allreduce', sig, async (ch) => {
      const out = options.out as TypedArray | undefined;
      if (chosen === Algorithms.allreduce.recursive_doubling) {
        const result = await allreduceRecursiveDoubling(ch, cloneValue(data), reduce);
        if (out !== undefined) {
          (out as Float64Array).set(result as Float64Array);
          return out as T;
        }
        return result as T;
      }
      const buf = out ?? (data as TypedArray).slice();
      if (out !== undefined && out !== (data as unknown)) (out as Float64Array).set(data as unknown as Float64Array);
      if (chosen === Algorithms.allreduce.rabenseifner) await allreduceRabenseifner(ch, buf, reduce);
      else await allreduceRing(ch, buf, reduce, Math.max(1, Math.floor(thresholds.segmentBytes / buf.BYTES_PER_ELEMENT)));
      return buf as T;
    });
  }

  /**
   * Combines every rank's `data` with `op` at the root (MPI_Reduce): the
   * root gets the result, other ranks `undefined`. Binomial tree; long
   * TypedArrays with commutative ops: reduce-scatter + gather.
   * @throws as {@link Communicator.allreduce}, and for a bad `root`.
   */
  async reduce<T>(data: T, options: RootReduceOptions<T> = {}): Promise<T | undefined> {
    options = checkOptions(options);
    const root = this.#checkRank('root', options.root ?? 0);
    const { op, half, reduce } = this.#reduceSetup(data, options);
    const typed = isTypedArray(data);
    if (typed && options.out !== undefined && this.rank === root) this.#checkOut(options.out, data, data.length);
    let alg = this.#forced('reduce', options.algorithm, (id) =>
      id === Algorithms.reduce.reduce_scatter_gather && (!typed || !op.commutative) ? 'reorders operands: it needs TypedArray data and a commutative op' : undefined,
    );
    alg ??= typed && op.commutative && data.byteLength >= thresholds.reduceLargeBytes && data.length >= this.size ? Algorithms.reduce.reduce_scatter_gather : Algorithms.reduce.binomial;
    const sig = this.#sig(CollKind.reduce, { root, count: typed ? data.length : -1, datatype: this.#datatypeOf(data, half), op: opCode(op), alg });
    const chosen = alg;
    return this.#collective('reduce', sig, async (ch) => {
      const result =
        chosen === Algorithms.reduce.binomial
          ? await reduceBinomial(ch, cloneValue(data), reduce, root)
          : await reduceScatterGather(ch, (data as TypedArray).slice(), reduce, root);
      const out = options.out as TypedArray | undefined;
      if (result !== undefined && out !== undefined) {
        (out as Float64Array).set(result as Float64Array);
        return out as T;
      }
      return result as T | undefined;
    });
  }

  /**
   * Reduce-scatter (MPI_Reduce_scatter / MPI_Reduce_scatter_block): the
   * element-wise reduction of every rank's TypedArray, cut into blocks; rank
   * i gets block i. Blocks are `counts[i]` elements, or equal (the length
   * must then be a multiple of `size`). Object form: every rank passes an
   * array of `size` values and rank i gets the reduction of everyone's value i.
   * Recursive halving (power-of-two size, commutative op, short), pairwise exchange.
   * @throws InvalidArgumentError for bad data, `counts`, op or algorithm.
   */
  async reduceScatter<T>(
    data: T,
    options: ReduceOptions & { counts?: readonly number[]; algorithm?: AlgorithmName<'reduceScatter'> } = {},
  ): Promise<T extends TypedArray ? T : T extends ReadonlyArray<infer E> ? E : never> {
    type R = T extends TypedArray ? T : T extends ReadonlyArray<infer E> ? E : never;
    if (!isTypedArray(data)) {
      if (!Array.isArray(data) || data.length !== this.size) throw new InvalidArgumentError('data', `reduceScatter takes a TypedArray or an array of ${this.size} values`);
      const op = options.op ?? SUM;
      checkOp(op);
      for (const v of data) checkReducible(op, v, options.datatype);
      const reduce = reducer(op, options.datatype);
      const sig = this.#sig(CollKind.reduceScatter, { datatype: OBJECT_FORM, op: opCode(op), alg: Algorithms.reduceScatter.pairwise });
      return this.#collective('reduceScatter', sig, async (ch) => {
        const mine = (await alltoallPairwise(ch, data.map((v) => encodePayload(v)))).map((p, i) => (i === this.rank ? cloneValue(data[i]) : decode(p)));
        let acc = mine[0];
        for (let r = 1; r < this.size; r++) acc = reduce.values(acc, mine[r]);
        return acc as R;
      });
    }
    const { op, half, reduce } = this.#reduceSetup(data, options);
    let counts: readonly number[];
    if (options.counts !== undefined) {
      this.#checkCounts(options.counts);
      if (options.counts.reduce((a, b) => a + b, 0) !== data.length) throw new InvalidArgumentError('counts', `the counts must add up to the length ${data.length}`);
      counts = options.counts;
    } else {
      if (data.length % this.size !== 0) throw new InvalidArgumentError('data', `without counts the length must be a multiple of ${this.size}`);
      counts = new Array<number>(this.size).fill(data.length / this.size);
    }
    const offsets = [0];
    for (const c of counts) offsets.push((offsets.at(-1) as number) + c);
    const pow2 = (this.size & (this.size - 1)) === 0;
    let alg = this.#forced('reduceScatter', options.algorithm, (id) =>
      id === Algorithms.reduceScatter.recursive_halving && (!pow2 || !op.commutative) ? 'needs a power-of-two number of ranks and a commutative op' : undefined,
    );
    alg ??= pow2 && op.commutative && data.byteLength < thresholds.reduceScatterLongBytes ? Algorithms.reduceScatter.recursive_halving : Algorithms.reduceScatter.pairwise;
    const sig = this.#sig(CollKind.reduceScatter, { count: data.length, datatype: this.#datatypeOf(data, half), op: opCode(op), alg });
    const chosen = alg;
    return this.#collective('reduceScatter', sig, async (ch) => {
      const block =
        chosen === Algorithms.reduceScatter.recursive_halving
          ? await reduceScatterRecursiveHalving(ch, data.slice(), offsets, reduce)
          : await reduceScatterPairwise(ch, data, offsets, reduce);
      return block.slice() as R;
    });
  }

  /**
   * All-to-all (MPI_Alltoall): rank j's block i goes to rank i, which gets
   * the blocks of every rank in rank order. Object form: an array of `size`
   * values in, an array out. Buffer form: a TypedArray whose length is a
   * multiple of `size` in, one of the same length out. Pairwise exchange;
   * Bruck for tiny blocks on more than 8 ranks.
   * @throws InvalidArgumentError for data of the wrong shape or a bad algorithm.
   */
  async alltoall<T>(data: T, options: { algorithm?: AlgorithmName<'alltoall'> } = {}): Promise<T> {
    options = checkOptions(options);
    let payloads: EncodedPayload[];
    let sig: Signature;
    const typed = isTypedArray(data);
    if (typed) {
      if (data.length % this.size !== 0) throw new InvalidArgumentError('data', `a buffer alltoall needs a length that is a multiple of ${this.size}`);
      const n = data.length / this.size;
      payloads = Array.from({ length: this.size }, (_, i) => encodePayload(data.subarray(i * n, (i + 1) * n)));
      const alg = this.#forced('alltoall', options.algorithm) ?? (n * data.BYTES_PER_ELEMENT < thresholds.alltoallTinyBytes && this.size > 8 ? Algorithms.alltoall.bruck : Algorithms.alltoall.pairwise);
      sig = this.#sig(CollKind.alltoall, { count: data.length, datatype: this.#datatypeOf(data), alg });
    } else {
      if (!Array.isArray(data) || data.length !== this.size) throw new InvalidArgumentError('data', `alltoall takes an array of ${this.size} values or a TypedArray`);
      payloads = data.map((v) => encodePayload(v));
      sig = this.#sig(CollKind.alltoall, { datatype: OBJECT_FORM, alg: this.#forced('alltoall', options.algorithm) ?? Algorithms.alltoall.pairwise });
    }
    return this.#collective('alltoall', sig, async (ch) => {
      const all = sig.alg === Algorithms.alltoall.bruck ? await alltoallBruck(ch, payloads) : await alltoallPairwise(ch, payloads);
      if (typed) {
        const n = data.length / this.size;
        return this.#concat(data.subarray(this.rank * n, (this.rank + 1) * n), all, this.rank) as T;
      }
      return all.map((p, i) => (i === this.rank ? cloneValue((data as unknown[])[i]) : decode(p))) as T;
    });
  }

  /**
   * All-to-all with blocks of different lengths (MPI_Alltoallv): `sendCounts[i]`
   * elements of `data` (in order) go to rank i; returns what every rank sent
   * here, in rank order, with the counts. Pairwise exchange.
   * @throws InvalidArgumentError for non-TypedArray data or bad counts.
   */
  async alltoallv<T extends TypedArray>(data: T, sendCounts: readonly number[]): Promise<Blocks<T>> {
    if (!isTypedArray(data)) throw new InvalidArgumentError('data', 'alltoallv takes a TypedArray');
    this.#checkCounts(sendCounts, data.length);
    let offset = 0;
    const payloads = sendCounts.map((c) => encodePayload(data.subarray(offset, (offset += c))));
    const sig = this.#sig(CollKind.alltoallv, { datatype: this.#datatypeOf(data), alg: Algorithms.alltoall.pairwise });
    return this.#collective('alltoallv', sig, async (ch) => {
      const all = await alltoallPairwise(ch, payloads);
      const own = payloads[this.rank] as EncodedPayload;
      const mine = decode({ ...own, bytes: own.bytes.slice() }) as T;
      return { data: this.#concat(mine, all, this.rank) as T, counts: all.map((p) => p.count) };
    });
  }

  /**
   * Inclusive prefix reduction (MPI_Scan): rank i gets
   * data₀ op data₁ op … op dataᵢ. Recursive doubling; operands stay in rank order.
   * @throws as {@link Communicator.allreduce}.
   */
  async scan<T>(data: T, options: ReduceOptions = {}): Promise<T> {
    options = checkOptions(options);
    return this.#scan(data, options, true) as Promise<T>;
  }

  /**
   * Exclusive prefix reduction (MPI_Exscan): rank i gets
   * data₀ op … op dataᵢ₋₁; rank 0 gets `undefined`.
   * @throws as {@link Communicator.allreduce}.
   */
  async exscan<T>(data: T, options: ReduceOptions = {}): Promise<T | undefined> {
    options = checkOptions(options);
    return this.#scan(data, options, false) as Promise<T | undefined>;
  }

  #scan(data: unknown, options: ReduceOptions, inclusive: boolean): Promise<unknown> {
    const { op, half, reduce } = this.#reduceSetup(data, options);
    const typed = isTypedArray(data);
    const sig = this.#sig(inclusive ? CollKind.scan : CollKind.exscan, { count: typed ? data.length : -1, datatype: this.#datatypeOf(data, half), op: opCode(op) });
    return this.#collective(inclusive ? 'scan' : 'exscan', sig, (ch) => scanRecursiveDoubling(ch, cloneValue(data), reduce, inclusive));
  }

  // -- communicators --------------------------------------------------------

  /** Agrees on a context id no member uses yet: the largest proposal wins. Collective. */
  #agreeContext(proposals: readonly number[]): number {
    const agreed = Math.max(...proposals);
    this.#contexts.next = agreed + 4;
    return agreed;
  }

  /**
   * Splits this communicator (MPI_Comm_split): ranks passing the same
   * `color` form a new communicator, ordered by `key` then by rank here.
   * Ranks passing `UNDEFINED` get `null`. Collective.
   * @throws InvalidArgumentError for a color or key that is not an integer (colors >= 0, or UNDEFINED).
   */
  async split(color: number, key = 0): Promise<Communicator | null> {
    if (!isInt(color) || (color < 0 && color !== UNDEFINED)) throw new InvalidArgumentError('color', `${String(color)} is not a non-negative integer or UNDEFINED`);
    if (!isInt(key)) throw new InvalidArgumentError('key', `${String(key)} is not an integer`);
    const sig = this.#sig(CollKind.split, { datatype: OBJECT_FORM, alg: Algorithms.allgather.bruck });
    const entries = await this.#collective('split', sig, async (ch) =>
      (await allgatherBruck(ch, encodePayload([color, key, this.#contexts.next]))).map((p) => decode(p) as [number, number, number]),
    );
    const context = this.#agreeContext(entries.map((e) => e[2]));
    if (color === UNDEFINED) return null;
    const members = entries
      .map(([c, k], rank) => ({ c, k, rank }))
      .filter((e) => e.c === color)
      .sort((a, b) => a.k - b.k || a.rank - b.rank)
      .map((e) => this.#members[e.rank] as number);
    return new Communicator(this.#engine, context, this.#isFinalized, members, this.#contexts);
  }

  /**
   * Splits this communicator by type (MPI_Comm_split_type, MPI-4.0 §7.4.2):
   * `'shared'` (MPI_COMM_TYPE_SHARED) groups the ranks that run on one host,
   * ordered by `key`, then by rank here. Collective.
   * @throws InvalidArgumentError for another type or a key that is not an integer.
   */
  async splitType(type: 'shared', key = 0): Promise<Communicator> {
    if (type !== 'shared') throw new InvalidArgumentError('type', `${String(type)} is not a split type; the one supported is 'shared' (MPI_COMM_TYPE_SHARED)`);
    const node = this.#engine.transport.nodeOf(this.#members[this.rank] as number);
    return (await this.split(Math.max(0, node), key)) as Communicator;
  }

  /** The host that rank `rank` of this communicator runs on, as the job names it (its MPI_Get_processor_name). @throws InvalidArgumentError for a bad rank. */
  hostOf(rank: number): string {
    return this.#engine.transport.hostOf(this.#members[this.#checkRank('rank', rank)] as number);
  }

  /** A new communicator with the same ranks and separate message contexts (MPI_Comm_dup). Collective. */
  async dup(): Promise<Communicator> {
    const sig = this.#sig(CollKind.dup, { op: opCode(MAX), alg: Algorithms.allreduce.recursive_doubling });
    const agreed = await this.#collective('dup', sig, async (ch) =>
      (await allreduceRecursiveDoubling(ch, this.#contexts.next, reducer(MAX, undefined))) as number,
    );
    return new Communicator(this.#engine, this.#agreeContext([agreed]), this.#isFinalized, this.#members, this.#contexts);
  }

  /** Releases this communicator (MPI_Comm_free); any later call on it throws. Local. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#guard.close();
  }
}
