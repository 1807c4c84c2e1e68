/**
 * Mismatch detection for one communicator, always on. A collective call
 * gets a sequence number (its tag) and a signature; three checks make a
 * mismatched call an error on the ranks involved instead of a hang or garbage:
 *
 * 1. Every collective message carries the sender's signature; a receiver
 *    whose own differs fails, and tells the sender, which fails too.
 * 2. A message left over for a call this rank has completed (every role
 *    that only sends, like two ranks that both think they are the root)
 *    fails the next collective call, and the sender is told.
 * 3. A receive that waits longer than `TSMPI_COLL_CHECK_MS` asks the peer it
 *    waits for which call it made at this sequence number; a different
 *    signature, or "completed without sending to you", fails the wait.
 *    A slow but matching peer is simply waited for.
 *
 * Control traffic uses the communicator's control context and never
 * matches user or collective messages.
 */
import { config } from '../config.js';
import { ProtocolError } from '../errors.js';
import { ANY_SOURCE, type Engine, type Received } from '../p2p/engine.js';
import { decodePayload, encodePayload } from '../p2p/payload.js';
import { CollectiveChannel, type Group, type MismatchCheck } from './channel.js';
import { CollectiveMismatchError, describeSignature, signatureMismatch, type Signature } from './signature.js';

const TAG_MODULUS = 2 ** 31;
const LOG_SIZE = 1024;

type Control =
  | { t: 'mismatch'; seq: number; mine: string; theirs: string; reason: string }
  | { t: 'query'; seq: number }
  | { t: 'answer'; seq: number; state: 'unknown' | 'active' | 'done'; sig?: Signature };

/** A collective call in progress, for reports of what a rank is blocked in. */
export interface ActiveCollective {
  /** The communicator's context (its name in reports). */
  context: number;
  seq: number;
  /** The call, as mismatch messages name it: `allreduce(count 1024, float64, SUM, rabenseifner)`. */
  call: string;
  /** How many receives of the algorithm have begun (its step). */
  step: number;
  /** The world rank the current step waits for, if it waits. */
  waitingOn: number | undefined;
  since: number;
}

/** Every guard of a live communicator in this process (for reports). */
const guards = new Set<CollectiveGuard>();

/**
 * At finalize, once every rank has handed over its last message: a message
 * still queued for a collective call that completed was meant for a call
 * its receiver did not make. @throws CollectiveMismatchError
 */
export function checkLeftovers(): void {
  for (const guard of guards) guard.checkLeftovers();
}

/** The collective calls in progress on every communicator of this process. */
export function activeCollectives(): ActiveCollective[] {
  return [...guards].flatMap((g) => g.active());
}

/** Per-communicator collective bookkeeping. */
export class CollectiveGuard {
  readonly #engine: Engine;
  readonly #group: Group;
  readonly #rank: number;
  readonly #collContext: number;
  readonly #controlContext: number;
  readonly #checkMs = config.collCheckMs;
  #next = 0;
  /** Signatures of recent calls, by sequence number, and whether each completed. */
  readonly #log = new Map<number, { sig: Signature; done: boolean }>();
  readonly #answers = new Map<string, (answer: Extract<Control, { t: 'answer' }>) => void>();
  #poison: Error | undefined;
  readonly #poisonWaiters = new Set<(error: Error) => void>();
  /** Renders an algorithm number, for messages. */
  readonly #algName: (kind: number, alg: number) => string;

  constructor(engine: Engine, group: Group, rank: number, collContext: number, controlContext: number, algName: (kind: number, alg: number) => string) {
    this.#engine = engine;
    this.#group = group;
    this.#rank = rank;
    this.#collContext = collContext;
    this.#controlContext = controlContext;
    this.#algName = algName;
    engine.listen(controlContext, (message) => this.#onControl(message));
    guards.add(this);
  }

  readonly #active = new Map<number, ActiveCollective>();

  /** The calls of this communicator in progress. */
  active(): ActiveCollective[] {
    return [...this.#active.values()].map((a) => ({ ...a, call: this.#describe(this.#log.get(a.seq)?.sig ?? ({} as Signature)) }));
  }

  /** A mismatch another rank reported against this communicator, if any. */
  get poison(): Error | undefined {
    return this.#poison;
  }

  /** A call's signature as reports name it, with its algorithm's name. */
  describe(sig: Signature): string {
    return this.#describe(sig);
  }

  #describe(sig: Signature): string {
    return describeSignature(sig, (alg) => this.#algName(sig.kind, alg));
  }

  #localOf(world: number): number {
    for (let r = 0; r < this.#group.size; r++) if (this.#group.world(r) === world) return r;
    return -1;
  }

  #notify(peer: number, message: Control): void {
    this.#engine.send(this.#group.world(peer), this.#controlContext, 0, encodePayload(message)).catch(() => undefined);
  }

  /** Builds the error for a mismatch with `peer`, tells the peer, and returns the error. */
  #mismatch(seq: number, peer: number, mine: Signature, theirs: Signature | undefined, reason: string): CollectiveMismatchError {
    const mineText = this.#describe(mine);
    const theirsText = theirs ? this.#describe(theirs) : 'no matching collective';
    this.#notify(peer, { t: 'mismatch', seq, mine: theirsText, theirs: mineText, reason });
    return new CollectiveMismatchError({ rank: this.#rank, peer, mine: mineText, theirs: theirsText, reason, seq });
  }

  #setPoison(error: Error): void {
    if (this.#poison) return;
    this.#poison = error;
    for (const reject of this.#poisonWaiters) reject(error);
    this.#poisonWaiters.clear();
  }

  #onControl(message: Received): void {
    const from = this.#localOf(message.source);
    let control: Control;
    try {
      control = decodePayload(message.envelope.kind, message.envelope.datatype, message.envelope.count, message.payload) as Control;
    } catch {
      return;
    }
    if (control.t === 'mismatch') {
      this.#setPoison(new CollectiveMismatchError({ rank: this.#rank, peer: from, mine: control.mine, theirs: control.theirs, reason: control.reason, seq: control.seq }));
    } else if (control.t === 'query') {
      const entry = this.#log.get(control.seq);
      const state = entry === undefined ? 'unknown' : entry.done ? 'done' : 'active';
      this.#notify(from, { t: 'answer', seq: control.seq, state, ...(entry ? { sig: entry.sig } : {}) });
    } else if (control.t === 'answer') {
      this.#answers.get(`${from}:${control.seq}`)?.(control);
    }
  }

  /**
   * Starts a collective call: checks for orphans of completed calls and
   * returns the call's channel. Throws the poison or a mismatch found.
   */
  begin(sig: Signature): { seq: number; channel: CollectiveChannel } {
    if (this.#poison) throw this.#poison;
    this.#checkOrphans();
    const seq = this.#next;
    this.#next = (this.#next + 1) % TAG_MODULUS;
    this.#log.set(seq, { sig, done: false });
    this.#log.delete((seq - LOG_SIZE + TAG_MODULUS) % TAG_MODULUS);
    const active: ActiveCollective = { context: this.#collContext - 1, seq, call: '', step: 0, waitingOn: undefined, since: Date.now() };
    this.#active.set(seq, active);
    const check: MismatchCheck = {
      check: (source, theirs) => {
        if (theirs === undefined) throw new ProtocolError(this.#group.world(source), `it sent a message of collective #${seq} without a signature`);
        const reason = signatureMismatch(sig, theirs);
        if (reason !== undefined) throw this.#mismatch(seq, source, sig, theirs, reason);
        // Learn what a non-root could not know when it called.
        if (sig.count < 0) sig.count = theirs.count;
        if (sig.datatype === 0) sig.datatype = theirs.datatype;
        if (sig.alg === 0) sig.alg = theirs.alg;
      },
      wait: (source, receive) => {
        active.step++;
        active.waitingOn = this.#group.world(source);
        return this.#watch(seq, sig, source, receive).finally(() => (active.waitingOn = undefined));
      },
    };
    return { seq, channel: new CollectiveChannel(this.#engine, this.#group, this.#rank, this.#collContext, seq, sig, check) };
  }

  /** Ends call `seq`: a message still queued for it was meant for a call this rank did not make. */
  end(seq: number): void {
    this.abandon(seq);
    this.#checkOrphans();
  }

  /** Marks call `seq` done after it failed (no orphan check: the communicator is being torn down). */
  abandon(seq: number): void {
    const entry = this.#log.get(seq);
    if (entry) entry.done = true;
    this.#active.delete(seq);
  }

  /** See {@link checkLeftovers}. */
  checkLeftovers(): void {
    this.#checkOrphans();
  }

  #checkOrphans(): void {
    for (const tag of this.#engine.queuedTags(this.#collContext)) {
      const entry = this.#log.get(tag);
      const message = entry?.done ? this.#engine.iprobe(this.#collContext, ANY_SOURCE, tag) : undefined;
      if (entry === undefined || message === undefined) continue;
      this.#engine.discard(this.#collContext, message);
      const peer = this.#localOf(message.source);
      const theirs = message.envelope.coll;
      throw this.#mismatch(tag, peer, entry.sig, theirs, (theirs && signatureMismatch(entry.sig, theirs)) ?? `rank ${peer} sent to rank ${this.#rank}, which expected nothing from it`);
    }
  }

  #query(peer: number, seq: number, limitMs: number): Promise<Extract<Control, { t: 'answer' }> | undefined> {
    return new Promise((resolve) => {
      const key = `${peer}:${seq}`;
      const timer = setTimeout(() => {
        this.#answers.delete(key);
        resolve(undefined);
      }, limitMs);
      this.#answers.set(key, (answer) => {
        clearTimeout(timer);
        this.#answers.delete(key);
        resolve(answer);
      });
      this.#notify(peer, { t: 'query', seq });
    });
  }

  async #watch<T>(seq: number, sig: Signature, source: number, receive: Promise<T>): Promise<T> {
    if (this.#poison) throw this.#poison;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let onPoison: ((error: Error) => void) | undefined;
    const guard = new Promise<never>((_, reject) => {
      onPoison = reject;
      this.#poisonWaiters.add(reject);
      const arm = (delay: number): void => {
        timer = setTimeout(() => {
          void this.#query(source, seq, delay).then((answer) => {
            if (settled) return;
            if (answer?.sig && answer.state !== 'unknown') {
              const reason = signatureMismatch(sig, answer.sig);
              if (reason !== undefined) return reject(this.#mismatch(seq, source, sig, answer.sig, reason));
              if (answer.state === 'done') {
                return reject(this.#mismatch(seq, source, sig, answer.sig, `rank ${source} completed the call without sending to rank ${this.#rank}`));
              }
            }
            arm(Math.min(delay * 2, 60_000));
          });
        }, delay);
        timer.unref?.();
      };
      arm(this.#checkMs);
    });
    guard.catch(() => undefined);
    try {
      return await Promise.race([receive, guard]);
    } finally {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      if (onPoison) this.#poisonWaiters.delete(onPoison);
    }
  }

  /** Stops handling control traffic (the communicator was freed). */
  close(): void {
    guards.delete(this);
    this.#engine.unlisten(this.#controlContext);
  }
}
