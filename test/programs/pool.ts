// The task pool (tsmpi/pool) on every rank: rank 0 manages, the others work.
// Prints "ok <check>" per passed check; any failure throws, naming what differed.
import { AbortedError, finalize, init, InvalidArgumentError } from 'tsmpi';
import { openPool, PoolTaskError, task } from 'tsmpi/pool';
import { check } from './check.js';

const world = await init();
const tasks = new URL('./pool-tasks.ts', import.meta.url);
const pool = await openPool();
if (pool) {
  const r = world.rank;
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  check(r, 'workers', pool.workers, world.size - 1);

  check(r, 'map', await pool.map(task(tasks, 'square'), range(100)), range(100).map((x) => x * x));
  check(r, 'map with chunksize 7', await pool.map(task(tasks, 'square'), range(50), { chunksize: 7 }), range(50).map((x) => x * x));
  check(r, 'map of nothing', await pool.map(task(tasks, 'square'), []), []);
  const ranks = new Set(await pool.map<number>(task(tasks, 'who'), range(6 * pool.workers).map(() => 20), { chunksize: 1 }));
  check(r, 'every worker took a share', [...ranks].sort(), range(world.size).slice(1));
  console.log('ok map');

  const ordered: number[] = [];
  for await (const x of pool.imap<number>(task(tasks, 'late'), range(20))) ordered.push(x as number);
  check(r, 'imap keeps input order', ordered, range(20));
  const unordered: number[] = [];
  for await (const x of pool.imapUnordered<number>(task(tasks, 'late'), range(20))) unordered.push(x as number);
  check(r, 'imapUnordered yields every result', [...unordered].sort((a, b) => a - b), range(20));
  if (pool.workers > 1) check(r, 'imapUnordered yields as results come', unordered.join() !== range(20).join(), true);
  console.log('ok imap');

  check(r, 'submit', await pool.submit(task(tasks, 'square'), 12), 144);
  check(r, 'submit of a default export', await pool.submit(task(tasks), { a: [1, 2] }), { a: [1, 2] });
  check(r, 'typed arrays travel', await pool.map(task(tasks, 'sum'), [new Float64Array([1, 2, 3]), new Float64Array([0.5])]), [6, 0.5]);
  console.log('ok submit');

  const failing = pool.map(task(tasks, 'failOn3'), range(10), { chunksize: 1 });
  const alongside = pool.map(task(tasks, 'square'), range(30));
  const error = await failing.then(() => undefined, (e: unknown) => e);
  check(r, 'a throwing task rejects map with PoolTaskError', error instanceof PoolTaskError, true);
  const e = error as PoolTaskError;
  check(r, 'it names the item, the worker and its host', [e.index, e.rank >= 1, e.host, e.remoteName, e.remoteMessage], [3, true, world.hostOf(e.rank), 'RangeError', 'three is not allowed']);
  check(r, 'it carries the remote stack', /pool-tasks/.test(e.remoteStack ?? '') && /on rank \d/.test(e.stack ?? ''), true);
  check(r, 'other calls lose nothing', await alongside, range(30).map((x) => x * x));
  const settled = await pool.map(task(tasks, 'failOn3'), range(5), { onError: 'collect' });
  check(r, "onError: 'collect'", settled.map((s) => (s.ok ? s.value : s.error.index)), [0, 1, 2, 3, 4]);
  check(r, "onError: 'collect' marks the failed item", settled.map((s) => s.ok), [true, true, true, false, true]);
  const missing = await pool.submit(task(tasks, 'nope'), 1).then(() => undefined, (x: unknown) => x);
  check(r, 'a missing export is a PoolTaskError', missing instanceof PoolTaskError && /no exported function nope/.test((missing as Error).message), true);
  console.log('ok errors');

  const controller = new AbortController();
  const aborted = pool.map(task(tasks, 'who'), range(200).map(() => 10), { chunksize: 1, signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  const abortError = await aborted.then(() => undefined, (x: unknown) => x);
  check(r, 'abort rejects with AbortedError', abortError instanceof AbortedError, true);
  check(r, 'the pool works after an abort', await pool.map(task(tasks, 'square'), [3]), [9]);
  const progress: Array<[number, number]> = [];
  await pool.map(task(tasks, 'square'), range(12), { chunksize: 4, onProgress: (done, total) => progress.push([done, total]) });
  check(r, 'onProgress counts to the total', progress.map(([d]) => d).sort((a, b) => a - b), [4, 8, 12]);
  check(r, 'onProgress gives the total', progress.every(([, t]) => t === 12), true);
  console.log('ok abort and progress');

  const invalid = (f: () => unknown): unknown => {
    try {
      f();
    } catch (x) {
      return x;
    }
    return undefined;
  };
  check(r, 'a relative path is refused', invalid(() => task('./pool-tasks.js', 'square')) instanceof InvalidArgumentError, true);
  const bad = await pool.map(task(tasks, 'square'), [1], { chunksize: 0 }).then(() => undefined, (x: unknown) => x);
  check(r, 'chunksize 0 is refused', bad instanceof InvalidArgumentError, true);
  console.log('ok bad input');
  await pool.close();
}
await finalize();
