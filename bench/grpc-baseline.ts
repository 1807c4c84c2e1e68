// Baseline (c): plain @grpc/grpc-js between two processes in its best
// configuration found (../shared/reference/grpc-ceiling): one bidi stream,
// mutual TLS 1.3 with tsmpi's credentials, a pass-through codec, bulk data
// server -> client in messages of at most 1 MiB with 'drain' backpressure,
// `grpc-node.flow_control_window` 1 MiB. It is what tsmpi's network path is
// built on, so `tsmpi ÷ grpc-js` is the cost of tsmpi's own layers.
//   node bench/.build/grpc-baseline.mjs [--quick]   (compiled by bench/run.ts; prints JSON rows)
// Latency: the client sends `bytes`, the server echoes them. Bandwidth: one
// request, then the server streams `count` messages of `bytes` without a
// pause; the rate is taken after the first quarter (the warm-up).
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { channelCredentials, mutualTlsServerCredentials, type TlsMaterial } from '../src/security/tls.js';
import { BANDWIDTH_SIZES, iterations, LATENCY_SIZES, median, QUICK, window, type Row } from './common.js';
import { ByteReader, runPair } from './pair.js';

const quick = process.argv.includes('--quick');
const CHUNK = 1 << 20;
const PATH = '/tsmpi.bench.Baseline/Stream';
const pass = (b: Buffer): Buffer => b;
const service: grpc.ServiceDefinition = {
  stream: { path: PATH, requestStream: true, responseStream: true, requestSerialize: pass, requestDeserialize: pass, responseSerialize: pass, responseDeserialize: pass },
};

async function serve(material: TlsMaterial): Promise<void> {
  const server = new grpc.Server({ 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
  server.addService(service, {
    stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const chunk = Buffer.alloc(CHUNK);
      let tail = Promise.resolve();
      call.on('data', (request: Buffer) => {
        tail = tail.then(async () => {
          // A 9-byte request [0x42, bytes, count] asks for a stream; anything else is echoed.
          if (request.length !== 9 || request[0] !== 0x42) {
            call.write(request);
            return;
          }
          const bytes = request.readUInt32BE(1);
          const count = request.readUInt32BE(5);
          for (let k = 0; k < count; k++) {
            for (let offset = 0; offset < bytes; offset += CHUNK) {
              if (!call.write(chunk.subarray(0, Math.min(CHUNK, bytes - offset)))) await once(call, 'drain');
            }
          }
        });
      });
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', mutualTlsServerCredentials(material), (error, p) => (error ? reject(error) : resolve(p))),
  );
  process.stdout.write(`${port}\n`);
}

async function client(material: TlsMaterial, port: number): Promise<Row[]> {
  const c = new grpc.Client(`127.0.0.1:${port}`, channelCredentials(material, () => undefined), {
    'grpc.ssl_target_name_override': 'tsmpi',
    'grpc-node.flow_control_window': CHUNK,
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
  const call = c.makeBidiStreamRequest(PATH, pass, pass) as grpc.ClientDuplexStream<Buffer, Buffer>;
  const receiver = new ByteReader(call);
  const rows: Row[] = [];
  const now = (): number => Number(process.hrtime.bigint()) / 1e3;
  const sizes = quick ? QUICK : { latency: LATENCY_SIZES, bandwidth: BANDWIDTH_SIZES };
  for (const bytes of sizes.latency) {
    const { warmup, timed } = iterations(bytes, quick);
    const buf = Buffer.alloc(bytes, 1);
    const rtts: number[] = [];
    for (let i = 0; i < warmup + timed; i++) {
      const t = now();
      call.write(buf);
      await receiver.take(bytes);
      if (i >= warmup) rtts.push(now() - t);
    }
    rows.push({ stack: 'grpc-js', test: 'latency', np: 2, bytes, value: median(rtts) / 2, unit: 'us' });
  }
  for (const bytes of sizes.bandwidth) {
    // As much as the window protocol of the other stacks moves in all its iterations, at least 256 MiB.
    const { warmup, timed } = iterations(bytes * window(bytes), quick);
    const count = Math.max(4, Math.ceil(Math.max(quick ? 8 << 20 : 256 << 20, bytes * window(bytes) * (warmup + timed)) / bytes));
    const warm = Math.ceil(count / 4);
    const request = Buffer.alloc(9);
    request[0] = 0x42;
    request.writeUInt32BE(bytes, 1);
    request.writeUInt32BE(count, 5);
    call.write(request);
    await receiver.take(bytes * warm);
    const t = now();
    await receiver.take(bytes * (count - warm));
    rows.push({ stack: 'grpc-js', test: 'bw', np: 2, bytes, value: (bytes * (count - warm)) / (now() - t), unit: 'MB/s' });
  }
  call.on('error', () => undefined);
  call.cancel();
  c.close();
  return rows;
}

await runPair(fileURLToPath(import.meta.url), serve, client);
