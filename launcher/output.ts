/**
 * Forwards a rank's output line by line, so that lines of different ranks
 * never interleave inside a line. Bytes are split on `\n` without decoding,
 * so multi-byte characters survive chunk boundaries.
 *
 * Each line may get a prefix (`--timestamp-output`, `--tag-output`), and a
 * copy may go to a file (`--output-filename`, as Open MPI's: the file gets
 * the timestamp, not the tag).
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Where one output stream of a rank goes, and how its lines are marked. */
export interface LineSink {
  to: Writable;
  /** Put before every line on `to` (after the timestamp), e.g. `[1@host] `. */
  tag: string;
  /** Start every line with the time it was forwarded, `2026-12-02T03:45:34.123Z `. */
  timestamp: boolean;
  /** A copy of every line, without the tag. */
  file?: Writable | undefined;
}

/** Copies `from` to the sink whole lines at a time. Resolves at the end of `from` (the file is ended then). */
export function forwardLines(from: Readable, sink: LineSink): Promise<void> {
  const head = Buffer.from(sink.tag);
  const marked = head.length > 0 || sink.timestamp;
  let pending: Buffer[] = [];
  let waiting = 0;
  const wait = (stream: Writable): void => {
    waiting++;
    if (!from.isPaused()) from.pause();
    stream.once('drain', () => {
      if (--waiting === 0) from.resume();
    });
  };
  const put = (stream: Writable | undefined, chunk: Buffer): void => {
    if (stream === undefined || stream.destroyed || !stream.writable) return; // the reader went away: keep draining the rank
    if (!stream.write(chunk)) wait(stream);
  };
  const write = (line: Buffer): void => {
    const time = sink.timestamp ? Buffer.from(`${new Date().toISOString()} `) : undefined;
    put(sink.to, marked ? Buffer.concat(time ? [time, head, line] : [head, line]) : line);
    if (sink.file) put(sink.file, time ? Buffer.concat([time, line]) : line);
  };
  return new Promise((resolve) => {
    const finish = (): void => {
      sink.file?.end();
      resolve();
    };
    from.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, nl + 1);
        write(pending.length > 0 ? Buffer.concat([...pending, piece]) : piece);
        pending = [];
        start = nl + 1;
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    });
    from.on('end', () => {
      if (pending.length > 0) write(Buffer.concat([...pending, Buffer.from('\n')]));
      pending = [];
      finish();
    });
    from.on('error', finish);
  });
}

/**
 * The file of `rank`'s `stream` under `--output-filename DIR`:
 * `DIR/1/rank.N/stdout` and `…/stderr`, as Open MPI lays them out (1: the job).
 * @throws the file system's error when the folder cannot be made.
 */
export function outputFile(dir: string, rank: number, stream: 'stdout' | 'stderr'): Writable {
  const folder = path.join(path.resolve(dir), '1', `rank.${rank}`);
  mkdirSync(folder, { recursive: true });
  const file = createWriteStream(path.join(folder, stream));
  file.on('error', (error) => process.stderr.write(`tsmpirun: --output-filename: ${error.message}\n`));
  return file;
}
