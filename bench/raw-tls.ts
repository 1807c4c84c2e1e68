// Baseline (a): raw node:tls mutual TLS 1.3 between two processes, the
// physical limit of our stack. Same sizes and method as bench/osu.ts.
//   node bench/.build/raw-tls.mjs [--quick] [--sizes=B,...]   (compiled by bench/run.ts; prints JSON rows)
// Certificates and the server process as in bench/pair.ts.
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import type { TlsMaterial } from './material.js';
import { iterations, median, suiteSizes, window, type Row } from './common.js';
import { ByteReader, runPair } from './pair.js';

const quick = process.argv.includes('--quick');

const write = (socket: tls.TLSSocket, buf: Buffer): Promise<void> =>
  socket.write(buf) ? Promise.resolve() : once(socket, 'drain').then(() => undefined);

async function server(m: TlsMaterial): Promise<void> {
  const srv = tls.createServer({ ca: m.caPem, cert: m.certPem, key: m.keyPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, async (socket) => {
    socket.setNoDelay(true);
    const reader = new ByteReader(socket);
    const sizes = suiteSizes();
    for (const bytes of sizes.latency) {
      const { warmup, timed } = iterations(bytes, quick);
      const buf = Buffer.alloc(bytes);
      for (let i = 0; i < warmup + timed; i++) {
        await reader.take(bytes);
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
          await reader.take(bytes * w);
          await sending;
          await write(socket, Buffer.alloc(4)); // ack
        }
      }
    }
  });
  srv.listen(0, '127.0.0.1', () => process.stdout.write(`${(srv.address() as { port: number }).port}\n`));
}

async function client(m: TlsMaterial, port: number): Promise<Row[]> {
  const socket = tls.connect({ ca: m.caPem, cert: m.certPem, key: m.keyPem, host: '127.0.0.1', port, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
  await once(socket, 'secureConnect');
  socket.setNoDelay(true);
  const reader = new ByteReader(socket);
  const rows: Row[] = [];
  const now = (): number => Number(process.hrtime.bigint()) / 1e3;
  const sizes = suiteSizes();
  for (const bytes of sizes.latency) {
    const { warmup, timed } = iterations(bytes, quick);
    const buf = Buffer.alloc(bytes);
    const rtts: number[] = [];
    for (let i = 0; i < warmup + timed; i++) {
      const t = now();
      await write(socket, buf);
      await reader.take(bytes);
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
        const receiving = bidirectional ? reader.take(bytes * w) : Promise.resolve();
        for (let k = 0; k < w; k++) await write(socket, buf);
        await receiving;
        await reader.take(4);
        if (i >= warmup) rates.push(((bidirectional ? 2 : 1) * bytes * w) / (now() - t));
      }
      rows.push({ stack: 'raw-tls', test: bidirectional ? 'bibw' : 'bw', np: 2, bytes, value: median(rates), unit: 'MB/s' });
    }
  }
  socket.destroy();
  return rows;
}

await runPair(fileURLToPath(import.meta.url), server, client);
