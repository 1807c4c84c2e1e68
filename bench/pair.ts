// What the two-process baselines (raw-tls.ts, grpc-baseline.ts) share: the
// measured client reads two sets of TLS material (made by bench/run.ts with
// tsmpi's PKI, see material.ts) from stdin, starts the same script as the
// server with `--serve`, hands it its set over stdin (never argv or the
// environment) and reads its port. Neither measured process loads anything
// of tsmpi's: a few MB more of live heap (PKI.js, for one) were measured to
// halve grpc-js's bandwidth through V8's collections (bench/README.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Row } from './common.js';
import type { PairMaterial, TlsMaterial } from './material.js';

/** Counts the bytes a stream delivers; `take(n)` resolves once `n` more have arrived. */
export class ByteReader {
  #pending = 0;
  #need = 0;
  #waiter: (() => void) | undefined;

  constructor(source: { on(event: 'data', listener: (chunk: Buffer) => void): unknown }) {
    source.on('data', (chunk: Buffer) => {
      this.#pending += chunk.length;
      if (this.#waiter !== undefined && this.#pending >= this.#need) {
        this.#pending -= this.#need;
        const w = this.#waiter;
        this.#waiter = undefined;
        w();
      }
    });
  }

  take(n: number): Promise<void> {
    if (this.#pending >= n) {
      this.#pending -= n;
      return Promise.resolve();
    }
    this.#need = n;
    return new Promise((resolve) => (this.#waiter = resolve));
  }
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

/**
 * Runs a two-process baseline: with `--serve` in argv this process is the
 * server (`serve` gets its TLS material from stdin and prints its port);
 * otherwise it reads both sets of material from stdin, starts
 * `script --serve`, runs `measure` against it and prints the rows, one JSON
 * object per line.
 */
export async function runPair(
  script: string,
  serve: (material: TlsMaterial) => Promise<void>,
  measure: (material: TlsMaterial, port: number) => Promise<Row[]>,
): Promise<void> {
  if (process.argv.includes('--serve')) {
    await serve(JSON.parse(await readStdin()) as TlsMaterial);
    return;
  }
  const { server, client } = JSON.parse(await readStdin()) as PairMaterial;
  const args = process.argv.slice(2);
  // The server runs as this process does: plain JavaScript when bench/run.ts compiled the baseline.
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, script, '--serve', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin?.end(JSON.stringify(server));
  const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const rows = await measure(client, Number(line.toString().trim())).finally(() => child.kill());
  for (const row of rows) console.log(JSON.stringify(row));
}
