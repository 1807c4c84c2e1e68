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
 * own, or for rendezvous data into the receive's buffer. Where Linux lets a
 * rank read its peer's memory (cross-memory attach, as Open MPI's vader
 * does: same user; the reader tests it at wire-up and says so in its hello),
 * rendezvous data goes as a REMOTE record naming where the payload is in the
 * sender, which the reader copies straight into the receive's buffer
 * (process_vm_readv, one copy) and acknowledges (ACK); the sender's `send`
 * resolves then, so its buffer is not read after it. A reader about to
 * sleep says so in the ring, and a writer that finds it asleep rings its
 * doorbell (one byte); a writer that finds no room waits for the reader's.
 * Waking a sleeping process costs tens of microseconds, so for a short while
 * after its last send or receive (`pollMicros`) a reader looks at its rings
 * once per turn of the event loop (setImmediate: other I/O goes on) instead,
 * and writers need not ring; only where the host's ranks do not outnumber
 * its cores, as Open MPI yields when oversubscribed. A peer whose doorbell
 * closes without its FIN record has died.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { config } from '../config.js';
import { PeerFailedError, ProtocolError, TransportError } from '../errors.js';
import { debug } from '../log.js';
import type { ShmNative } from '../reduce/native.js';
import { decodeDue, frameProblem } from './frame-check.js';
import type { Frame, FrameHandler, Link } from './transport.js';
import { encodeEnvelope, Rendezvous, type WireEnvelope } from './wire.js';

/** What a rank tells the ranks of its host (through the coordinator's mTLS session). */
export interface ShmOffer {
  /** The segment's name, `/tsmpi-<job>-<rank>-<random>`. */
  segment: string;
  /** A random key: a writer shows it on the doorbell. */
  key: Buffer;
  /** The doorbell's socket path. */
  doorbell: string;
  /** The rank's process id. */
  pid: number;
  /** Where the segment is mapped in that process (decimal): a peer reads 8 bytes there to test cross-memory attach. */
  address: string;
}

const FIRST = 1;
const CONT = 2;
const FIN = 4;
const REMOTE = 8; // with FIRST: rendezvous data the reader copies from the writer's memory
const ACK = 16; // the reader has copied the REMOTE data of message `seq` (u32 LE)
const DOORBELL_DATA = 0x44; // 'D': the writer published while the reader slept
const DOORBELL_ROOM = 0x52; // 'R': the reader made room while the writer waited
const HELLO = 0x48; // 'H' + key (32 bytes) + writer rank (u32 LE) + 1 when the writer can read this rank's memory
const HELLO_BYTES = 38;
/** Rendezvous data at least this large goes by cross-memory attach where it can. */
const REMOTE_MIN_BYTES = 64 * 1024;
/** To a peer that reads this rank's memory, the largest message sent eagerly. */
const CMA_EAGER_BYTES = 128 * 1024;
const ESRCH = 3;
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
  /** Resolved when the reader rings for room. */
  room: Array<() => void>;
  /** REMOTE data sent, until the reader acknowledges it (in order). */
  remote: Array<{ seq: number; payload: Uint8Array; resolve(): void; reject(error: Error): void }>;
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
  /** The peer's process, when this rank can read its memory (it then may send REMOTE records). */
  pid: number | undefined;
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
  /** How long after its last activity a reader polls its rings before it sleeps, in microseconds (0: never polls). */
  pollMicros: number;
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
  /** Peers that can read this rank's memory (their hello said so). */
  readonly #readsMe = new Set<number>();
  #handler: FrameHandler | undefined;
  #unlinked = false;
  #closing = false;
  #draining = false;
  /** Until when (process.hrtime, ns) the reader polls instead of sleeping. */
  #pollUntil = 0n;
  #pollScheduled = false;

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
    return { segment: this.#name, key: this.#key, doorbell: this.#doorbellPath, pid: process.pid, address: String(this.#shm.address(new Uint8Array(this.#segment, 0, 8))) };
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
    this.#peers.forEach((peer, ring) => this.#readers.set(peer, { peer, ring, expectedSeq: 0, current: undefined, doorbell: undefined, finished: false, pid: undefined }));
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
        // Can this rank read the peer's memory? Its segment's first bytes, there, must be what this rank maps.
        const probe = new Uint8Array(8);
        const readable = /^\d+$/.test(offer.address) && this.#shm.readFrom(offer.pid, BigInt(offer.address), probe) === 0 && Buffer.compare(probe, new Uint8Array(segment, 0, 8)) === 0;
        const reader = this.#readers.get(peer);
        if (reader !== undefined && readable) reader.pid = offer.pid;
        debug('transport', `rank ${this.#options.rank} ${readable ? 'reads' : 'cannot read'} rank ${peer}'s memory (cross-memory attach)`);
        const hello = Buffer.alloc(HELLO_BYTES);
        hello[0] = HELLO;
        offer.key.copy(hello, 1);
        hello.writeUInt32LE(this.#options.rank, 33);
        hello[37] = readable ? 1 : 0;
        doorbell.write(hello);
        // This rank's ring in the peer's segment: its place among the peer's peers.
        const ring = this.#local.filter((r) => r !== peer).indexOf(this.#options.rank);
        const writer: Writer = { segment, ring, doorbell, seq: 0, tail: Promise.resolve(), pending: 0, room: [], remote: [], failure: undefined, closed: false };
        this.#writers.set(peer, writer);
        doorbell.on('data', (bytes: Buffer) => {
          if (bytes.includes(DOORBELL_ROOM)) for (const room of writer.room.splice(0)) room();
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
        if (pending.length < HELLO_BYTES) return;
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
        if (pending[37] === 1) this.#readsMe.add(writer);
        bytes = pending.subarray(HELLO_BYTES);
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

  /**
   * A peer that reads this rank's memory gets messages above 128 KiB by
   * rendezvous: their data is then copied once, by the peer, instead of
   * into the ring and out again (bench: 1.5 -> 3.8 GB/s at 256 KiB, 2.4 ->
   * 6.9 at 1 MiB; at 64 KiB the round trip costs more than the copy saves).
   */
  eagerLimit(dest: number): number {
    return this.#readsMe.has(dest) ? Math.min(config.eagerBytes, CMA_EAGER_BYTES) : config.eagerBytes;
  }

  sendFrame(dest: number, frame: Frame, payload: Uint8Array): Promise<void> {
    const writer = this.#writers.get(dest);
    if (writer === undefined) return Promise.reject(new TransportError(`rank ${dest} is not reached by shared memory`));
    if (writer.failure !== undefined) return Promise.reject(writer.failure);
    writer.pending++;
    this.#poll();
    // Frames to a peer are written one after the other; REMOTE data is acknowledged later.
    const written = writer.tail.then(() => this.#write(dest, writer, frame, payload));
    writer.tail = written.then(() => undefined, () => undefined).finally(() => writer.pending--);
    return written.then((w) => w.acked);
  }

  /** The largest body of one record: a quarter of the ring, so that writer and reader overlap. */
  #pieceBytes(writer: Writer): number {
    return this.#shm.ringBytes(writer.segment) / 4;
  }

  async #write(dest: number, writer: Writer, frame: Frame, payload: Uint8Array): Promise<{ acked?: Promise<void> }> {
    const seq = writer.seq++;
    const envelope = encodeEnvelope(frame, seq);
    if (frame.rndv === Rendezvous.DATA && payload.byteLength >= REMOTE_MIN_BYTES && this.#readsMe.has(dest)) {
      const where = Buffer.alloc(8);
      where.writeBigUInt64LE(this.#shm.address(payload));
      const acked = new Promise<void>((resolve, reject) => writer.remote.push({ seq, payload, resolve, reject }));
      acked.catch(() => undefined);
      await this.#record(writer, FIRST | REMOTE, envelope, where);
      return { acked };
    }
    const piece = this.#pieceBytes(writer);
    let offset = Math.min(payload.byteLength, Math.max(0, piece - envelope.byteLength));
    await this.#record(writer, FIRST, envelope, payload.subarray(0, offset));
    while (offset < payload.byteLength) {
      const end = Math.min(payload.byteLength, offset + piece);
      await this.#record(writer, CONT, EMPTY, payload.subarray(offset, end));
      offset = end;
    }
    return {};
  }

  /** Publishes one record, waiting for room as long as the reader takes to make it. */
  async #record(writer: Writer, flags: number, a: Uint8Array, b: Uint8Array): Promise<void> {
    for (;;) {
      if (writer.failure !== undefined) throw writer.failure;
      const result = this.#shm.write(writer.segment, writer.ring, flags, a, b);
      if (result === 3) writer.doorbell.write(Buffer.of(DOORBELL_DATA));
      if (result !== 0) return;
      await new Promise<void>((resolve) => writer.room.push(resolve));
    }
  }

  // -- receiving ----------------------------------------------------------------

  /** Polls the rings for the next `pollMicros` (a reply is likely soon): writers need not ring meanwhile. */
  #poll(): void {
    if (this.#options.pollMicros === 0 || this.#closing) return;
    this.#pollUntil = process.hrtime.bigint() + BigInt(this.#options.pollMicros) * 1000n;
    if (this.#pollScheduled) return;
    for (const reader of this.#readers.values()) this.#shm.awake(this.#segment, reader.ring);
    this.#schedulePoll();
  }

  #schedulePoll(): void {
    if (this.#pollScheduled) return;
    this.#pollScheduled = true;
    // Kept referenced: an unreferenced immediate would not stop the event loop from blocking
    // in its poll phase. Polling ends pollMicros after the last activity, so it holds no process.
    setImmediate(() => {
      this.#pollScheduled = false;
      this.#drain();
    });
  }

  /** Reads every ring until all are empty, then polls on or sleeps (its writers then know it sleeps). */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (;;) {
        let busy = false;
        for (const reader of this.#readers.values()) {
          if (this.#failures.has(reader.peer)) continue;
          while (this.#readOne(reader)) busy = true;
        }
        if (busy && this.#options.pollMicros > 0) this.#pollUntil = process.hrtime.bigint() + BigInt(this.#options.pollMicros) * 1000n;
        if (busy) continue;
        if (this.#options.pollMicros > 0 && !this.#closing && process.hrtime.bigint() < this.#pollUntil) {
          this.#schedulePoll();
          return;
        }
        let empty = true;
        for (const reader of this.#readers.values()) {
          if (!this.#failures.has(reader.peer) && !this.#shm.sleep(this.#segment, reader.ring)) empty = false;
        }
        if (empty) return;
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
    if (flags === ACK) {
      // Data this rank sent by REMOTE has been copied: its send completes.
      const writer = this.#writers.get(reader.peer);
      const sent = writer?.remote[0];
      if (body.byteLength !== 4 || sent === undefined || sent.seq !== new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true)) throw new TransportError('it acknowledged data this rank did not send it');
      writer?.remote.shift();
      sent.resolve();
      return;
    }
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
    if ((flags !== FIRST && flags !== (FIRST | REMOTE)) || reader.current !== undefined) throw new TransportError(`it sent a record of kind ${flags} where a message was due`);
    if ((flags & REMOTE) !== 0 && reader.pid === undefined) throw new TransportError('it sent data to be read from its memory, which this rank did not offer to do');
    const { envelope, inline } = decodeDue(body, reader.expectedSeq);
    reader.expectedSeq++;
    const target = envelope.rndv === Rendezvous.DATA ? this.#handler?.dataTarget(reader.peer, envelope.rndvId) : undefined;
    const wrong = frameProblem(envelope, target);
    if (wrong !== undefined) throw new TransportError(`it sent ${wrong}`);
    if ((flags & REMOTE) !== 0) return this.#takeRemote(reader, envelope, inline, target);
    const follows = envelope.rndv === Rendezvous.RTS ? 0 : envelope.payloadBytes;
    if (inline.byteLength > follows) throw new TransportError('it sent a payload that overruns its message');
    // The payload leaves the ring once: into a buffer of the receiver's own, or the receive's.
    const bytes = target ?? new Uint8Array(Buffer.allocUnsafeSlow(follows).buffer, 0, follows);
    bytes.set(inline);
    if (inline.byteLength === follows) this.#handler?.frame(reader.peer, envelope, bytes);
    else reader.current = { frame: envelope, bytes, filled: inline.byteLength };
  }

  /** REMOTE rendezvous data: copied from the writer's memory into the receive's buffer, then acknowledged. */
  #takeRemote(reader: Reader, envelope: WireEnvelope, where: Uint8Array, target: Uint8Array | undefined): void {
    if (envelope.rndv !== Rendezvous.DATA || target === undefined || where.byteLength !== 8 || reader.pid === undefined) throw new TransportError('it sent a malformed REMOTE record');
    const address = new DataView(where.buffer, where.byteOffset, 8).getBigUint64(0, true);
    const errno = this.#shm.readFrom(reader.pid, address, target);
    if (errno === ESRCH) {
      this.#lost(reader.peer, 'its process ended during a transfer (cross-memory attach: no such process)');
      return;
    }
    if (errno !== 0) throw new TransportError(`its data could not be read from its memory (process_vm_readv errno ${errno})`);
    const ack = new Uint8Array(4);
    new DataView(ack.buffer).setUint32(0, envelope.seq, true);
    const writer = this.#writers.get(reader.peer);
    if (writer !== undefined) void this.#record(writer, ACK, ack, EMPTY).catch(() => undefined);
    this.#handler?.frame(reader.peer, envelope, target);
  }

  // -- failure and the end --------------------------------------------------------

  #lost(peer: number, reason: string, cause?: unknown): void {
    if (this.#closing || this.#failures.has(peer)) return;
    const error = new PeerFailedError({ rank: peer, host: this.#options.hostOf(peer), op: 'link', reason }, { cause });
    this.#failures.set(peer, error);
    debug('transport', `lost rank ${peer} (shared memory): ${reason}`, 'lost', { peer, reason, path: 'shared memory' });
    const writer = this.#writers.get(peer);
    if (writer !== undefined) {
      writer.failure = error;
      for (const room of writer.room.splice(0)) room();
      for (const sent of writer.remote.splice(0)) sent.reject(error);
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
    const closed = new TransportError('the shared-memory link closed (finalize) before the peer read this data');
    for (const writer of this.#writers.values()) for (const sent of writer.remote.splice(0)) sent.reject(closed);
    for (const writer of this.#writers.values()) writer.doorbell.end();
    for (const reader of this.#readers.values()) reader.doorbell?.end();
    this.#server.close();
    this.#unlink();
    rmSync(this.#doorbellPath, { force: true });
  }
}
