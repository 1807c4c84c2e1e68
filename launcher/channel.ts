/**
 * The launcher <-> host agent channel: protobuf messages of proto/tsmpi.proto
 * (`AgentInput` one way, `AgentOutput` the other), length-delimited, over a
 * pair of byte streams (the agent's stdin and stdout, inside ssh or srun).
 */
import type { Readable, Writable } from 'node:stream';
import type protobuf from 'protobufjs';

/** Largest message accepted (a compiled program travels in one). */
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: Number, bytes: Buffer, defaults: true, oneofs: true };

/** One end of the channel: sends `Out` messages, receives `In` messages. */
export class MessageChannel<In extends object, Out extends object> {
  readonly #out: Writable;
  readonly #outType: protobuf.Type;

  /**
   * `onMessage` gets each message in order; `onEnd` once, when `input` ends,
   * errs or carries a malformed message (with why).
   */
  constructor(
    input: Readable,
    output: Writable,
    types: { in: protobuf.Type; out: protobuf.Type },
    onMessage: (message: In) => void,
    onEnd: (why?: string) => void,
  ) {
    this.#out = output;
    this.#outType = types.out;
    output.on('error', () => undefined);
    let pending: Buffer = Buffer.alloc(0);
    let ended = false;
    const end = (why?: string): void => {
      if (ended) return;
      ended = true;
      input.destroy();
      onEnd(why);
    };
    input.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const header = readVarint(pending);
        if (header === undefined) return;
        if (header.value > MAX_MESSAGE_BYTES) return end(`a ${header.value}-byte message exceeds ${MAX_MESSAGE_BYTES}`);
        if (pending.length < header.length + header.value) return;
        const body = pending.subarray(header.length, header.length + header.value);
        pending = pending.subarray(header.length + header.value);
        let message: In;
        try {
          message = types.in.toObject(types.in.decode(body), TO_OBJECT) as In;
        } catch (error) {
          return end(`a malformed message (${(error as Error).message})`);
        }
        onMessage(message);
        if (ended) return;
      }
    });
    input.on('end', () => end());
    input.on('error', (error) => end(error.message));
  }

  /** Sends a message; false when the other end should be waited for ('drain' on the output). */
  send(message: Out): boolean {
    if (this.#out.destroyed || !this.#out.writable) return true;
    return this.#out.write(this.#outType.encodeDelimited(this.#outType.fromObject(message)).finish());
  }

  /** The output stream, for 'drain'. */
  get output(): Writable {
    return this.#out;
  }

  /** Ends the output (the other end sees its input end). */
  close(): void {
    this.#out.end();
  }
}

/** A varint at the start of `bytes`: its value and how many bytes it took; `undefined` when incomplete. */
function readVarint(bytes: Buffer): { value: number; length: number } | undefined {
  let value = 0;
  for (let i = 0; i < Math.min(bytes.length, 5); i++) {
    const b = bytes[i] as number;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, length: i + 1 };
  }
  return bytes.length >= 5 ? { value: Infinity, length: 5 } : undefined;
}
