/**
 * Forwards a rank's output line by line, so that lines of different ranks
 * never interleave inside a line. Bytes are split on `\n` without decoding,
 * so multi-byte characters survive chunk boundaries.
 */
import type { Readable, Writable } from 'node:stream';

/** Copies `from` to `to` whole lines at a time, each prefixed by `prefix`. Resolves at the end of `from`. */
export function forwardLines(from: Readable, to: Writable, prefix: string): Promise<void> {
  const head = Buffer.from(prefix);
  let pending: Buffer[] = [];
  const write = (line: Buffer): void => {
    if (to.destroyed || !to.writable) return; // the reader went away: keep draining the rank
    const ok = to.write(head.length > 0 ? Buffer.concat([head, line]) : line);
    if (!ok && !from.isPaused()) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  };
  return new Promise((resolve) => {
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
      resolve();
    });
    from.on('error', () => resolve());
  });
}
