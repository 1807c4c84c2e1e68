// Baseline (a): raw node:tls mutual TLS 1.3 between two processes, the
// physical limit of our stack. Same sizes and method as bench/osu.ts.
//   node --import tsx bench/raw-tls.ts [--quick]     (prints JSON rows)
// The parent makes a job CA and two rank certificates with tsmpi's own PKI,
// and hands the server its key over a pipe (never argv or the environment).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import { createCsr, generateKeyPair, JobCa } from '../src/security/pki.js';
import { BANDWIDTH_SIZES, iterations, LATENCY_SIZES, median, QUICK, window, type Row } from './common.js';

interface Material {
  ca: string;
  cert: string;
  key: string;
}

const quick = process.argv.includes('--quick');

/** Reads exactly `n` bytes from a socket (discarding them) — a minimal framed reader. */
class Reader {
  #pending = 0;
  #waiter: (() => void) | undefined;
  #need = 0;
  constructor(socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.#pending += chunk.length;
      if (this.#waiter && this.#pending >= this.#need) {
        this.#pending -= this.#need;
        const w = this.#waiter;
        this.#waiter = undefined;
        w();
      }
    });
  }
  read(n: number): Promise<void> {
    if (this.#pending >= n) {
      this.#pending -= n;
      return Promise.resolve();
    }
    this.#need = n;
    return new Promise((resolve) => (this.#waiter = resolve));
  }
}

const write = (socket: tls.TLSSocket, buf: Buffer): Promise<void> =>
  socket.write(buf) ? Promise.resolve() : once(socket, 'drain').then(() => undefined);

async function server(m: Material): Promise<void> {
  const srv = tls.createServer({ ...m, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, async (socket) => {
    socket.setNoDelay(true);
    const reader = new Reader(socket);
    const sizes = quick ? QUICK : { latency: LATENCY_SIZES, bandwidth: BANDWIDTH_SIZES };
    for (const bytes of sizes.latency) {
      const { warmup, timed } = iterations(bytes, quick);
      const buf = Buffer.alloc(bytes);
      for (let i = 0; i < warmup + timed; i++) {
        await reader.read(bytes);
        await write(socket, buf);
      }
    }
    for (const bidirectional of [false, true]) {
      for (const bytes of sizes.bandwidth) {
        const w = window(bytes);
        const { warmup, timed } = iterations(bytes * w, quick);
        const buf = Buffer.alloc(bytes);
        for (let i = 0; i < warmup + timed; i++) {
          const sending = bidirectional ? (async () => { for (let k = 0; k < w; k++) await write(socket, buf); })() : Promise.resolve();
          await reader.read(bytes * w);
          await sending;
          await write(socket, Buffer.alloc(4)); // ack
        }
      }
    }
  });
  srv.listen(0, '127.0.0.1', () => process.stdout.write(`${(srv.address() as { port: number }).port}\n`));
}

async function client(m: Material, port: number): Promise<Row[]> {
  const socket = tls.connect({ ...m, host: '127.0.0.1', port, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
  await once(socket, 'secureConnect');
  socket.setNoDelay(true);
  const reader = new Reader(socket);
  const rows: Row[] = [];
  const now = (): number => Number(process.hrtime.bigint()) / 1e3;
  const sizes = quick ? QUICK : { latency: LATENCY_SIZES, bandwidth: BANDWIDTH_SIZES };
  for (const bytes of sizes.latency) {
    const { warmup, timed } = iterations(bytes, quick);
    const buf = Buffer.alloc(bytes);
    const rtts: number[] = [];
    for (let i = 0; i < warmup + timed; i++) {
      const t = now();
      await write(socket, buf);
      await reader.read(bytes);
      if (i >= warmup) rtts.push(now() - t);
    }
    rows.push({ stack: 'raw-tls', test: 'latency', np: 2, bytes, value: median(rtts) / 2, unit: 'us' });
  }
  for (const bidirectional of [false, true]) {
    for (const bytes of sizes.bandwidth) {
      const w = window(bytes);
      const { warmup, timed } = iterations(bytes * w, quick);
      const buf = Buffer.alloc(bytes);
      const rates: number[] = [];
      for (let i = 0; i < warmup + timed; i++) {
        const t = now();
        const receiving = bidirectional ? reader.read(bytes * w) : Promise.resolve();
        for (let k = 0; k < w; k++) await write(socket, buf);
        await receiving;
        await reader.read(4);
        if (i >= warmup) rates.push(((bidirectional ? 2 : 1) * bytes * w) / (now() - t));
      }
      rows.push({ stack: 'raw-tls', test: bidirectional ? 'bibw' : 'bw', np: 2, bytes, value: median(rates), unit: 'MB/s' });
    }
  }
  socket.destroy();
  return rows;
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

async function material(ca: JobCa, rank: number): Promise<Material> {
  const keys = await generateKeyPair();
  return { ca: ca.certPem, cert: await ca.issue(await createCsr(keys, `rank ${rank}`), { jobId: ca.jobId, role: 'rank', rank }), key: keys.privateKeyPem };
}

if (process.argv[2] === '--serve') {
  await server(JSON.parse(await readStdin()) as Material);
} else {
  const ca = await JobCa.create();
  const [serverMaterial, clientMaterial] = await Promise.all([material(ca, 0), material(ca, 1)]);
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', ...(quick ? ['--quick'] : [])], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin.end(JSON.stringify(serverMaterial));
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const rows = await client(clientMaterial, Number(line.toString().trim()));
  child.kill();
  for (const row of rows) console.log(JSON.stringify(row));
}
