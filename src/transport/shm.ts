/**
 * The shared-memory link between the ranks of one host (the role of Open
 * MPI's vader BTL), under the rendezvous protocol like the gRPC link.
 *
 * Each rank owns one segment (native/shm.cc): a POSIX shared-memory object,
 * mode 0600 under a random name, holding one single-producer ring per other
 * rank of its host; it reads every ring, each peer writes its own. The name,
 * a random key and the path of the rank's doorbell travel only in the
 * mutual-TLS session with the coordinator, which gives them only to the
 * ranks of the same host. A writer maps the segment, connects to the
 * doorbell (a Unix socket in a 0700 folder of the job's) and proves itself
 * with the key; once every peer has, the owner unlinks the segment's name.
 * The operating-system user is the boundary on one host, as for Open MPI,
 * MPICH and NCCL.
 *
 * A frame is a record [envelope (protobuf, length-delimited)][payload], or,
 * when larger than a quarter of the ring, a first record and continuation
 * records. The reader copies each payload out once, into a buffer of its
 * own, or for rendezvous data into the receive's buffer. Wake-ups never
 * spin: a reader about to sleep says so in the ring, and a writer that finds
 * it asleep rings its doorbell (one byte); a writer that finds no room waits
 * for the reader's. A peer whose doorbell closes without its FIN record has
 * died.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PeerFailedError, ProtocolError, TransportError } from '../errors.js';
import { debug } from '../log.js';
import type { ShmNative } from '../reduce/native.js';
import { frameProblem } from './frame-check.js';
import type { Frame, FrameHandler, Link } from './transport.js';
import { decodeEnvelope, encodeEnvelope, Rendezvous, type WireEnvelope } from './wire.js';

/** What a rank tells the ranks of its host (through the coordinator's mTLS session). */
export interface ShmOffer {
  /** The segment's name, `/tsmpi-<job>-<rank>-<random>`. */
  segment: string;
  /** A random key: a writer shows it on the doorbell. */
  key: Buffer;
  /** The doorbell's socket path. */
  doorbell: string;
}

const FIRST = 1;
const CONT = 2;
const FIN = 4;
const DOORBELL_DATA = 0x44; // 'D': the writer published while the reader slept
const DOORBELL_ROOM = 0x52; // 'R': the reader made room while the writer waited
const HELLO = 0x48; // 'H' + key (32 bytes) + writer rank (u32 LE)
const EMPTY = new Uint8Array(0);

/** Segment names of a job: the launcher removes what a killed rank left (`/dev/shm/tsmpi-<job>-*`). */
export function segmentPrefix(jobId: string): string {
  return `tsmpi-${jobId}-`;
}

interface Writer {
  /** The peer's segment, mapped. */
  segment: ArrayBuffer;
  /** This rank's ring in it. */
  ring: number;
  doorbell: net.Socket;
  seq: number;
  /** Serializes whole frames. */
  tail: Promise<void>;
  pending: number;
  /** Resolves when the reader rings for room. */
  room: (() => void) | undefined;
  failure: Error | undefined;
  closed: boolean;
}

interface Reader {
  peer: number;
  ring: number;
  expectedSeq: number;
  /** A frame spanning several records, being assembled. */
  current: { frame: WireEnvelope; bytes: Uint8Array; filled: number } | undefined;
  /** The peer's doorbell connection (to ring it for room). */
  doorbell: net.Socket | undefined;
  finished: boolean;
}

export interface ShmLinkOptions {
  jobId: string;
  rank: number;
  /** Ranks on this rank's host, this one included (`TSMPI_COMM_WORLD_LOCAL_SIZE`). */
  localSize: number;
  /** A 0700 folder of the job's for the doorbell socket. */
  dir: string;
  /** Bytes of each ring (a power of two). */
  ringBytes: number;
  native: ShmNative;
  hostOf(rank: number): string;
}

export class ShmLink implements Link {
  readonly #options: ShmLinkOptions;
  readonly #shm: ShmNative;
  readonly #name: string;
  readonly #key = randomBytes(32);
  readonly #segment: ArrayBuffer;
  readonly #view: DataView;
  readonly #doorbellPath: string;
  readonly #server: net.Server;
  /** The world ranks of this host, this one included, in rank order (from the address table). */
  #local: readonly number[] = [];
  /** The other ranks of this host, in rank order: ring i of a segment is written by the i-th of its owner's peers. */
  #peers: readonly number[] = [];
  readonly #readers = new Map<number, Reader>();
  readonly #writers = new Map<number, Writer>();
  readonly #failures = new Map<number, Error>();
  #handler: FrameHandler | undefined;
  #unlinked = false;
  #closing = false;
  #draining = false;

  private constructor(options: ShmLinkOptions, segment: ArrayBuffer, name: string, server: net.Server, doorbellPath: string) {
    this.#options = options;
    this.#shm = options.native;
    this.#segment = segment;
    this.#view = new DataView(segment);
    this.#name = name;
    this.#server = server;
    this.#doorbellPath = doorbellPath;
  }

  /** Creates this rank's segment and doorbell. */
  static async create(options: ShmLinkOptions): Promise<ShmLink> {
    const peers = options.localSize - 1;
    const name = `/${segmentPrefix(options.jobId)}${options.rank}-${randomBytes(12).toString('hex')}`;
    const segment = options.native.create(name, Math.max(1, peers), options.ringBytes);
    const doorbellPath = path.join(options.dir, `r${options.rank}-${randomBytes(6).toString('hex')}.sock`);
    const made: { link?: ShmLink } = {};
    const server = net.createServer((socket) => (made.link === undefined ? socket.destroy() : made.link.#accept(socket)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new TransportError(`cannot make the shared-memory doorbell ${doorbellPath}: ${error.message}`, { cause: error })));
      server.listen(doorbellPath, () => resolve());
    });
    server.unref();
    const link = new ShmLink(options, segment, name, server, doorbellPath);
    made.link = link;
    if (peers === 0) link.#unlink();
    // However this process ends (short of kill -9, which the launcher cleans up after), its segment's name goes.
    process.once('exit', () => link.#unlink());
    return link;
  }

  /** What the ranks of this host need to write to this rank. */
  offer(): ShmOffer {
    return { segment: this.#name, key: this.#key, doorbell: this.#doorbellPath };
  }

  setFrameHandler(handler: FrameHandler): void {
    this.#handler = handler;
  }

  /** Whether frames to `rank` go here. */
  reaches(rank: number): boolean {
    return this.#writers.has(rank);
  }

  // -- wire-up --------------------------------------------------------------

  /**
   * With `local`, the world ranks of this host in rank order (this one
   * included), maps the segment of every other one and connects to its
   * doorbell, showing its key; resolves once every one of them has done the
   * same here (this rank's segment is then unlinked).
   */
  async connect(local: readonly number[], offers: ReadonlyMap<number, ShmOffer>): Promise<void> {
    if (local.length !== this.#options.localSize) throw new TransportError(`the address table puts ${local.length} ranks on this host, the launcher ${this.#options.localSize}`);
    this.#local = local;
    this.#peers = local.filter((r) => r !== this.#options.rank);
    this.#peers.forEach((peer, ring) => this.#readers.set(peer, { peer, ring, expectedSeq: 0, current: undefined, doorbell: undefined, finished: false }));
    // Tell every writer this rank sleeps: the first record after it rings the doorbell.
    this.#drain();
    // Writers faster than this rank's address table said hello already.
    for (const early of this.#early.splice(0)) early();
    const allIn = new Promise<void>((resolve) => {
      this.#allConnected = resolve;
      this.#checkAllConnected();
    });
    await Promise.all(
      this.#peers.map(async (peer) => {
        const offer = offers.get(peer);
        if (offer === undefined) throw new TransportError(`rank ${peer} of this host offered no shared memory`);
        const segment = this.#shm.open(offer.segment);
        const doorbell = await new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(offer.doorbell, () => resolve(socket));
          socket.once('error', (error) => reject(new TransportError(`cannot reach rank ${peer}'s doorbell: ${error.message}`, { cause: error })));
        });
        doorbell.setNoDelay?.(true);
        doorbell.unref();
        const hello = Buffer.alloc(37);
        hello[0] = HELLO;
        offer.key.copy(hello, 1);
        hello.writeUInt32LE(this.#options.rank, 33);
        doorbell.write(hello);
        // This rank's ring in the peer's segment: its place among the peer's peers.
        const ring = this.#local.filter((r) => r !== peer).indexOf(this.#options.rank);
        const writer: Writer = { segment, ring, doorbell, seq: 0, tail: Promise.resolve(), pending: 0, room: undefined, failure: undefined, closed: false };
        this.#writers.set(peer, writer);
        doorbell.on('data', (bytes: Buffer) => {
          if (bytes.includes(DOORBELL_ROOM)) {
            const room = writer.room;
            writer.room = undefined;
            room?.();
          }
        });
        doorbell.on('error', () => undefined);
        doorbell.on('close', () => {
          writer.closed = true;
          // A peer that finalized (its FIN record came) closes its doorbell at the end: no failure.
          this.#drain();
          if (!this.#readers.get(peer)?.finished) this.#lost(peer, 'its process ended (its shared-memory doorbell closed)');
        });
      }),
    );
    await allIn;
  }

  #allConnected: (() => void) | undefined;

  #checkAllConnected(): void {
    if ([...this.#readers.values()].every((r) => r.doorbell !== undefined)) {
      this.#unlink();
      this.#allConnected?.();
    }
  }

  #unlink(): void {
    if (this.#unlinked) return;
    this.#unlinked = true;
    this.#shm.unlink(this.#name);
  }

  /** Hellos that came before this rank knew its peers (connect() runs them). */
  readonly #early: Array<() => void> = [];

  /** A writer connects to this rank's doorbell: it must show the key first. */
  #accept(socket: net.Socket): void {
    socket.unref();
    socket.on('error', () => undefined);
    let reader: Reader | undefined;
    let pending = Buffer.alloc(0);
    socket.on('data', (bytes: Buffer) => {
      if (reader === undefined) {
        pending = Buffer.concat([pending, bytes]);
        if (pending.length < 37) return;
        if (this.#readers.size === 0 && this.#peers.length === 0 && this.#options.localSize > 1) {
          // A peer got the address table first: its hello waits for this rank's.
          socket.pause();
          this.#early.push(() => {
            socket.resume();
            socket.emit('data', Buffer.alloc(0));
          });
          return;
        }
        const writer = pending.readUInt32LE(33);
        const candidate = this.#readers.get(writer);
        if (pending[0] !== HELLO || !timingSafeEqual(pending.subarray(1, 33), this.#key) || candidate === undefined || candidate.doorbell !== undefined) {
          socket.destroy();
          return;
        }
        reader = candidate;
        reader.doorbell = socket;
        bytes = pending.subarray(37);
        this.#checkAllConnected();
      }
      if (bytes.includes(DOORBELL_DATA)) this.#drain();
    });
    socket.on('close', () => {
      if (reader === undefined) return;
      // What it wrote before it went (its FIN record, if it finalized) is read first.
      this.#drain();
      if (!reader.finished) this.#lost(reader.peer, 'its process ended (its shared-memory doorbell closed)');
    });
  }

  // -- sending ----------------------------------------------------------------

  sendFrame(dest: number, frame: Frame, payload: Uint8Array): Promise<void> {
    const writer = this.#writers.get(dest);
    if (writer === undefined) return Promise.reject(new TransportError(`rank ${dest} is not reached by shared memory`));
    if (writer.failure !== undefined) return Promise.reject(writer.failure);
    writer.pending++;
    const sent = writer.tail.then(() => this.#write(writer, frame, payload));
    writer.tail = sent.catch(() => undefined).finally(() => writer.pending--);
    return sent;
  }

  /** The largest body of one record: a quarter of the ring, so that writer and reader overlap. */
  #pieceBytes(writer: Writer): number {
    return this.#shm.ringBytes(writer.segment) / 4;
  }

  async #write(writer: Writer, frame: Frame, payload: Uint8Array): Promise<void> {
    const envelope = encodeEnvelope({ ...frame, seq: writer.seq++ });
    const piece = this.#pieceBytes(writer);
    let offset = Math.min(payload.byteLength, Math.max(0, piece - envelope.byteLength));
    await this.#record(writer, FIRST, envelope, payload.subarray(0, offset));
    while (offset < payload.byteLength) {
      const end = Math.min(payload.byteLength, offset + piece);
      await this.#record(writer, CONT, EMPTY, payload.subarray(offset, end));
      offset = end;
    }
  }

  /** Publishes one record, waiting for room as long as the reader takes to make it. */
  async #record(writer: Writer, flags: number, a: Uint8Array, b: Uint8Array): Promise<void> {
    for (;;) {
      if (writer.failure !== undefined) throw writer.failure;
      const result = this.#shm.write(writer.segment, writer.ring, flags, a, b);
      if (result === 3) writer.doorbell.write(Buffer.of(DOORBELL_DATA));
      if (result !== 0) return;
      await new Promise<void>((resolve) => (writer.room = resolve));
    }
  }

  // -- receiving ----------------------------------------------------------------

  /** Reads every ring until all are empty and their writers know this rank sleeps. */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let busy = true; busy; ) {
        busy = false;
        for (const reader of this.#readers.values()) {
          if (this.#failures.has(reader.peer)) continue;
          while (this.#readOne(reader)) busy = true;
          if (!this.#failures.has(reader.peer) && !this.#shm.sleep(this.#segment, reader.ring)) busy = true;
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Handles the next record of `reader`'s ring, if any. */
  #readOne(reader: Reader): boolean {
    const offset = this.#shm.peek(this.#segment, reader.ring);
    if (offset < 0) return false;
    const length = this.#view.getUint32(offset - 8, true);
    const flags = this.#view.getUint32(offset - 4, true);
    const body = new Uint8Array(this.#segment, offset, length);
    try {
      this.#take(reader, flags, body);
    } catch (error) {
      this.#refuse(reader.peer, error instanceof ProtocolError ? error.reason : (error as Error).message, error);
      return false;
    }
    if (this.#shm.consume(this.#segment, reader.ring)) reader.doorbell?.write(Buffer.of(DOORBELL_ROOM));
    return true;
  }

  /** One record's body (a view of the ring: copied out before it is consumed). Throws on a protocol violation. */
  #take(reader: Reader, flags: number, body: Uint8Array): void {
    if (flags === FIN) {
      reader.finished = true;
      this.#handler?.peerFinished(reader.peer);
      return;
    }
    if (flags === CONT) {
      const current = reader.current;
      if (current === undefined || current.filled + body.byteLength > current.bytes.byteLength) throw new TransportError('it sent a piece of no message, or past its end');
      current.bytes.set(body, current.filled);
      current.filled += body.byteLength;
      if (current.filled === current.bytes.byteLength) {
        reader.current = undefined;
        this.#handler?.frame(reader.peer, current.frame, current.bytes);
      }
      return;
    }
    if (flags !== FIRST || reader.current !== undefined) throw new TransportError(`it sent a record of kind ${flags} where a message was due`);
    let decoded: ReturnType<typeof decodeEnvelope>;
    try {
      decoded = decodeEnvelope(body);
    } catch (error) {
      throw new TransportError(`it sent a malformed envelope (${(error as Error).message})`, { cause: error });
    }
    const { envelope, inline } = decoded;
    if (envelope.seq !== reader.expectedSeq) throw new TransportError(`it sent message ${envelope.seq} where ${reader.expectedSeq} was due`);
    reader.expectedSeq++;
    const target = envelope.rndv === Rendezvous.DATA ? this.#handler?.dataTarget(reader.peer, envelope.rndvId) : undefined;
    const wrong = frameProblem(envelope, target);
    if (wrong !== undefined) throw new TransportError(`it sent ${wrong}`);
    const follows = envelope.rndv === Rendezvous.RTS ? 0 : envelope.payloadBytes;
    if (inline.byteLength > follows) throw new TransportError('it sent a payload that overruns its message');
    // The payload leaves the ring once: into a buffer of the receiver's own, or the receive's.
    const bytes = target ?? new Uint8Array(Buffer.allocUnsafeSlow(follows).buffer, 0, follows);
    bytes.set(inline);
    if (inline.byteLength === follows) this.#handler?.frame(reader.peer, envelope, bytes);
    else reader.current = { frame: envelope, bytes, filled: inline.byteLength };
  }

  // -- failure and the end --------------------------------------------------------

  #lost(peer: number, reason: string, cause?: unknown): void {
    if (this.#closing || this.#failures.has(peer)) return;
    const error = new PeerFailedError({ rank: peer, host: this.#options.hostOf(peer), op: 'link', reason }, { cause });
    this.#failures.set(peer, error);
    debug('transport', `lost rank ${peer} (shared memory): ${reason}`);
    const writer = this.#writers.get(peer);
    if (writer !== undefined) {
      writer.failure = error;
      writer.room?.();
      writer.doorbell.destroy();
    }
    this.#readers.get(peer)?.doorbell?.destroy();
    this.#handler?.peerFailed(peer, error);
  }

  /** A peer broke the protocol: it is refused (its doorbells closed both ways) and reported by the caller's handler. */
  #refuse(peer: number, reason: string, cause?: unknown): void {
    if (this.#failures.has(peer)) return;
    this.#refused?.(`rank ${peer}`, reason);
    this.#lost(peer, `refused: ${reason}`, cause);
  }

  #refused: ((peer: string, reason: string) => void) | undefined;

  /** Called when a peer breaks the protocol and is refused. */
  onProtocolEvent(report: (peer: string, reason: string) => void): void {
    this.#refused = report;
  }

  peerDied(rank: number, reason: string): void {
    this.#lost(rank, reason);
  }

  peerFinalizing(): void {
    // Frames from a peer of this host come in its ring, its FIN record last.
  }

  /** Hands over what is queued, then a FIN record to every peer: nothing more comes from this rank. */
  async quiesce(): Promise<void> {
    await Promise.all(
      [...this.#writers.values()].map(async (writer) => {
        await writer.tail;
        if (writer.failure === undefined) await this.#record(writer, FIN, EMPTY, EMPTY).catch(() => undefined);
      }),
    );
  }

  async close(): Promise<void> {
    this.#closing = true;
    for (const writer of this.#writers.values()) writer.doorbell.end();
    for (const reader of this.#readers.values()) reader.doorbell?.end();
    this.#server.close();
    this.#unlink();
    rmSync(this.#doorbellPath, { force: true });
  }
}
