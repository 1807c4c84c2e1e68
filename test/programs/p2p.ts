// Point-to-point semantics over the real transport. Prints "ok <name>" per check on rank 0.
import { ANY_SOURCE, ANY_TAG, finalize, init, type Status } from 'tsmpi';
import { check } from './check.js';

const world = await init();
const { rank, size } = world;
const ok = (name: string): void => {
  if (rank === 0) console.log(`ok ${name}`);
};
const status = (): Status => ({ source: -1, tag: -1, count: -1, bytes: -1 });

// Tag selectivity: rank 0 receives tag 2 before tag 1 from every other rank.
if (rank === 0) {
  for (let src = 1; src < size; src++) {
    const b = await world.recv({ source: src, tag: 2 });
    const a = await world.recv({ source: src, tag: 1 });
    check(rank, `tags from ${src}`, [a, b], [`a${src}`, `b${src}`]);
  }
} else {
  await world.send(`a${rank}`, 0, { tag: 1 });
  await world.send(`b${rank}`, 0, { tag: 2 });
}
await world.barrier();
ok('tag selectivity');

// ANY_SOURCE with status.
if (rank === 0) {
  const seen = new Set<number>();
  for (let i = 1; i < size; i++) {
    const st = status();
    const data = await world.recv<Int32Array>({ source: ANY_SOURCE, tag: ANY_TAG, status: st });
    check(rank, 'ANY_SOURCE payload', [...data], [st.source, st.source]);
    check(rank, 'ANY_SOURCE status', [st.tag, st.count, st.bytes], [100 + st.source, 2, 8]);
    seen.add(st.source);
  }
  check(rank, 'ANY_SOURCE sources', seen.size, size - 1);
} else {
  await world.send(new Int32Array([rank, rank]), 0, { tag: 100 + rank });
}
await world.barrier();
ok('ANY_SOURCE with status');

// Non-overtaking: 1000 messages, mixed tags, received with ANY_TAG in order.
if (size > 1) {
  if (rank === 1) {
    await Promise.all(Array.from({ length: 1000 }, (_, i) => world.send(i, 0, { tag: i % 5 })));
  } else if (rank === 0) {
    const got: number[] = [];
    for (let i = 0; i < 1000; i++) got.push(await world.recv<number>({ source: 1, tag: ANY_TAG }));
    check(rank, 'order of 1000 messages', got, Array.from({ length: 1000 }, (_, i) => i));
  }
}
await world.barrier();
ok('non-overtaking 1000');

// Self-send.
const self = world.recv({ source: rank, tag: 9 });
await world.send({ me: rank }, rank, { tag: 9 });
check(rank, 'self-send', await self, { me: rank });
ok('self-send');

// Every TypedArray type, zero-length and offset views, Buffers, objects: rank 0 sends to every rank.
const samples = (): unknown[] => [
  new Int8Array([-1, 2]),
  new Uint8Array([255]),
  new Uint8ClampedArray([9]),
  new Int16Array([-300]),
  new Uint16Array([65535]),
  new Int32Array([-70000]),
  new Uint32Array([4e9]),
  new Float32Array([1.5, -0]),
  new Float64Array([Math.E, NaN]),
  new BigInt64Array([-5n]),
  new BigUint64Array([2n ** 64n - 1n]),
  new Float64Array(0),
  new Float64Array([0, 1, 2, 3, 4, 5]).subarray(1, 4),
  new Uint16Array([1, 2, 3, 4]).subarray(3),
  Buffer.from('tsmpi'),
  { map: new Map([[1, new Set(['x'])]]), when: new Date(86_400_000), big: 10n ** 30n, nested: [new Int8Array([3])] },
];
if (rank === 0) {
  for (let dest = 0; dest < size; dest++) for (const value of samples()) await world.send(value, dest, { tag: 20 });
}
for (const expected of samples()) {
  const got = await world.recv({ source: 0, tag: 20 });
  check(rank, `type ${Object.prototype.toString.call(expected)}`, Object.getPrototypeOf(got), Object.getPrototypeOf(expected));
  check(rank, `value ${Object.prototype.toString.call(expected)}`, got, expected);
}
await world.barrier();
ok('every payload type');

// A large message: several chunks, received intact.
const big = Float64Array.from({ length: 700_000 }, (_, i) => i * 0.5);
if (rank === 0 && size > 1) await world.send(big, size - 1, { tag: 30 });
if (rank === size - 1 && size > 1) {
  const got = await world.recv<Float64Array>({ source: 0, tag: 30 });
  check(rank, 'large message length', got.length, big.length);
  const bad = got.findIndex((v, i) => v !== big[i]);
  check(rank, 'large message first differing index', bad, -1);
}
await world.barrier();
ok('large message');

// Receiving into out (MPI_Recv's buf): small and large messages land in the caller's array; a
// shorter message gives a view of its first elements; one that does not fit is received and raises.
if (rank === 0 && size > 1) {
  await world.send(Float64Array.of(1, 2, 3), size - 1, { tag: 35 });
  await world.send(big, size - 1, { tag: 36 });
  await world.send(new Float64Array(10), size - 1, { tag: 37 });
  await world.send(new Int32Array(2), size - 1, { tag: 38 });
  await world.send('after', size - 1, { tag: 39 });
}
if (rank === size - 1 && size > 1) {
  const out = new Float64Array(big.length);
  const small = await world.recv<Float64Array>({ source: 0, tag: 35, out });
  check(rank, 'out: shorter message is a view of out', [small.buffer === out.buffer, small.length, [...small]], [true, 3, [1, 2, 3]]);
  const large = await world.recv<Float64Array>({ source: 0, tag: 36, out });
  check(rank, 'out: large message is out itself', [large === out, large.findIndex((v, i) => v !== big[i])], [true, -1]);
  const failures: string[] = [];
  for (const [tag, into] of [[37, new Float64Array(4)], [38, new Float64Array(4)]] as const) {
    await world.recv({ source: 0, tag, out: into }).catch((error: { code?: string }) => failures.push(String(error.code)));
  }
  check(rank, 'out: too long and wrong type', failures, ['ERR_TSMPI_TRUNCATE', 'ERR_TSMPI_TRUNCATE']);
  check(rank, 'out: the link goes on', await world.recv({ source: 0, tag: 39 }), 'after');
}
await world.barrier();
ok('receive into out');

// Probe, then receive exactly what was probed.
if (rank === 0 && size > 1) {
  const st = await world.probe({ source: ANY_SOURCE, tag: 40 });
  const data = await world.recv<Uint8Array>({ source: st.source, tag: st.tag });
  check(rank, 'probe count', data.length, st.count);
} else if (rank === 1) {
  await world.send(new Uint8Array(33), 0, { tag: 40 });
}
await world.barrier();
ok('probe');

await finalize();
