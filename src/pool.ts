/**
 * `tsmpi/pool`: a task pool over the ranks of a communicator, as Python's
 * `multiprocessing.Pool` and mpi4py's `MPICommExecutor`. One rank (the root)
 * is the manager and hands out tasks; the others are workers, which run them.
 *
 * ```ts
 * import { finalize, init } from 'tsmpi';
 * import { openPool, task } from 'tsmpi/pool';
 *
 * await init();
 * const pool = await openPool();          // workers serve inside, until the pool closes
 * if (pool) {                             // the manager (rank 0)
 *   const scores = await pool.map(task(new URL('./work.js', import.meta.url), 'score'), params);
 *   await pool.close();
 * }
 * await finalize();
 * ```
 *
 * A task is named, never shipped: a module and an export, which every worker
 * imports from its own file system (code received from a peer is never
 * evaluated). Arguments and results travel as the runtime's payloads (typed
 * arrays as raw bytes, other values structured-cloned).
 *
 * Scheduling is dynamic: each worker has up to two chunks of items at a time
 * (the one it runs and the next, so that it never waits a round trip), and
 * gets another as it returns one.
 *
 * @packageDocumentation
 */
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { dynamicImport } from './dynamic-import.js';
import { type Communicator, finalize, world } from './index.js';
import { AbortedError, InvalidArgumentError, MpiError, PeerFailedError } from './errors.js';

/** A task: an exported function of a module, by name. */
export interface TaskRef {
  /** An absolute URL (`file:` or `data:`) or a bare package specifier, resolved from the program's folder. */
  readonly module: string;
  /** The export to call; `'default'` for the default export. */
  readonly name: string;
}

/**
 * Names a task: `task(new URL('./work.js', import.meta.url), 'score')`, or
 * `task('pkg/sub#fn')`. The function gets one argument (an item) and returns
 * its result or a promise of it. TypeScript modules (`.ts`, `.mts`) are
 * loaded with tsx in the worker.
 * @throws InvalidArgumentError for a relative path (a worker could not know relative to what) or an empty name.
 */
export function task(module: string | URL, name?: string): TaskRef {
  let spec = module instanceof URL ? module.href : module;
  let exportName = name;
  if (exportName === undefined && typeof module === 'string' && spec.includes('#') && !spec.startsWith('file:') && !spec.startsWith('data:')) {
    exportName = spec.slice(spec.lastIndexOf('#') + 1);
    spec = spec.slice(0, spec.lastIndexOf('#'));
  }
  if (typeof spec !== 'string' || spec === '') throw new InvalidArgumentError('task', 'the module is empty');
  if (spec.startsWith('.') || spec.startsWith('/')) {
    throw new InvalidArgumentError('task', `'${spec}' is a path: give a URL, e.g. new URL('${spec}', import.meta.url)`);
  }
  exportName ??= 'default';
  if (exportName === '') throw new InvalidArgumentError('task', 'the export name is empty');
  return { module: spec, name: exportName };
}

/** A task that threw on a worker: `map` rejects with it (`onError: 'throw'`), or it takes the item's place (`'collect'`). */
export class PoolTaskError extends MpiError {
  /** The item's index in the input. */
  readonly index: number;
  /** The worker's rank (in the pool's communicator). */
  readonly rank: number;
  /** The worker's host. */
  readonly host: string;
  /** The error's name as the worker saw it (`TypeError`). */
  readonly remoteName: string;
  /** The error's message as the worker saw it. */
  readonly remoteMessage: string;
  /** The error's stack on the worker, when it had one. */
  readonly remoteStack: string | undefined;

  /** @internal Made by the pool from a worker's report. */
  constructor(task: TaskRef, index: number, rank: number, host: string, remote: RemoteError) {
    super('ERR_TSMPI_TASK', `task ${task.name} of ${task.module} failed on item ${index} (rank ${rank} on ${host}): ${remote.name}: ${remote.message}`);
    this.index = index;
    this.rank = rank;
    this.host = host;
    this.remoteName = remote.name;
    this.remoteMessage = remote.message;
    this.remoteStack = remote.stack;
    if (remote.stack !== undefined) this.stack = `${this.name}: ${this.message}\n    --- on rank ${rank} (${host}) ---\n${remote.stack}`;
  }
}

/** One item's outcome with `onError: 'collect'`: its value, or the task's error. */
export type Settled<R> =
  | {
      /** The task returned. */
      ok: true;
      /** What it returned. */
      value: R;
    }
  | {
      /** The task threw. */
      ok: false;
      /** What it threw, with where. */
      error: PoolTaskError;
    };

/** Options of {@link Pool.map}, {@link Pool.imap} and {@link Pool.imapUnordered}. */
export interface MapOptions {
  /**
   * Items per message to a worker. `map` defaults, as Python's, to about four
   * chunks per worker (`ceil(items / (4 × workers))`); `imap` and
   * `imapUnordered` to 1.
   */
  chunksize?: number;
  /** Stops handing out items; the call rejects (the iterator throws) with `AbortedError`. */
  signal?: AbortSignal;
  /** Called after each returned chunk with the items done and the total. */
  onProgress?: (done: number, total: number) => void;
  /** `'throw'` (default): the first failed item rejects the call. `'collect'`: each item resolves to a {@link Settled}. */
  onError?: 'throw' | 'collect';
}

/** Options of {@link openPool}. */
export interface PoolOptions {
  /** The ranks of the pool (default: the world); the call is collective over it. */
  comm?: Communicator;
  /** The manager's rank in `comm` (default 0). */
  root?: number;
}

/** An error as a worker reports it: what of it survives the trip to the manager. */
interface RemoteError {
  name: string;
  message: string;
  stack?: string;
}

/** Manager -> worker. */
type Order = { kind: 'run'; batch: number; task: TaskRef; args: unknown[] } | { kind: 'close' };
/** Worker -> manager: per item a value, or an error at its position. */
interface Reply {
  batch: number;
  values: unknown[];
  errors: Array<[number, RemoteError]>;
}

const TAG_ORDER = 1;
const TAG_REPLY = 2;
/** Chunks a worker holds at a time: the one it runs and the next. */
const PREFETCH = 2;

/** One call's items, handed out in chunks. */
interface Job {
  task: TaskRef;
  args: unknown[];
  chunksize: number;
  next: number;
  done: number;
  settle(index: number, outcome: Settled<unknown>): void;
  progress?: ((done: number, total: number) => void) | undefined;
  /** Ends the call with an error not of one item (abort, a failed link). */
  fail(error: Error): void;
  /** Removes the call's abort listener: it is done. */
  end(): void;
  cancelled: boolean;
}

interface Batch {
  job: Job;
  first: number;
  count: number;
  worker: number;
  /** The items were given to a worker that died before, and are tried once more. */
  retry: boolean;
}

/** Items to try again on another worker: a dead worker's chunk. */
type Retry = Omit<Batch, 'worker'>;

/** The manager's side of a pool (only the root gets one). */
export class Pool {
  readonly #comm: Communicator;
  readonly #workers: number[];
  readonly #load = new Map<number, number>();
  readonly #queue: Job[] = [];
  readonly #retries: Retry[] = [];
  readonly #batches = new Map<number, Batch>();
  #nextBatch = 0;
  /** The loop that receives replies while chunks are out, and whether it runs (set and cleared synchronously). */
  #running: Promise<void> = Promise.resolve();
  #receiving = false;
  #closed = false;
  #failure: Error | undefined;

  /** @internal use {@link openPool}. */
  constructor(comm: Communicator, root: number) {
    this.#comm = comm;
    this.#workers = Array.from({ length: comm.size }, (_, r) => r).filter((r) => r !== root);
    for (const w of this.#workers) this.#load.set(w, 0);
  }

  /** The number of workers (the communicator's size less the manager). */
  get workers(): number {
    return this.#workers.length;
  }

  /**
   * Runs `task` on every item, in parallel over the workers; resolves to the
   * results in input order (`Pool.map`).
   * @throws PoolTaskError for the first item whose task threw (unless `onError: 'collect'`); AbortedError when `signal` aborts; InvalidArgumentError for bad options.
   */
  map<R = unknown>(task: TaskRef, items: Iterable<unknown>, options: MapOptions & { onError: 'collect' }): Promise<Array<Settled<R>>>;
  map<R = unknown>(task: TaskRef, items: Iterable<unknown>, options?: MapOptions): Promise<R[]>;
  async map<R = unknown>(task: TaskRef, items: Iterable<unknown>, options: MapOptions = {}): Promise<R[] | Array<Settled<R>>> {
    const args = [...items];
    const results: unknown[] = new Array(args.length);
    const chunksize = options.chunksize ?? Math.max(1, Math.ceil(args.length / (4 * Math.max(1, this.workers))));
    await new Promise<void>((resolve, reject) => {
      let left = args.length;
      const job = this.#submitJob(task, args, chunksize, options, (index, outcome) => {
        if (!outcome.ok && options.onError !== 'collect') return job.fail(outcome.error);
        results[index] = outcome.ok && options.onError !== 'collect' ? outcome.value : outcome;
        if (--left === 0) resolve();
      }, reject);
      if (left === 0) resolve();
    });
    return results as R[];
  }

  /** As {@link Pool.map}, yielding each result, in input order, as soon as it and those before it are back. */
  async *imap<R = unknown>(task: TaskRef, items: Iterable<unknown>, options: MapOptions = {}): AsyncGenerator<R | Settled<R>, void, undefined> {
    const stream = this.#stream(task, items, options);
    const ready = new Map<number, Settled<unknown>>();
    try {
      for (let next = 0; next < stream.total; next++) {
        while (!ready.has(next)) {
          const got = await stream.take();
          ready.set(got.index, got.outcome);
        }
        yield this.#yielded<R>(ready.get(next) as Settled<unknown>, options);
        ready.delete(next);
      }
    } finally {
      stream.cancel();
    }
  }

  /** As {@link Pool.imap}, yielding results in the order they come back. */
  async *imapUnordered<R = unknown>(task: TaskRef, items: Iterable<unknown>, options: MapOptions = {}): AsyncGenerator<R | Settled<R>, void, undefined> {
    const stream = this.#stream(task, items, options);
    try {
      for (let n = 0; n < stream.total; n++) yield this.#yielded<R>((await stream.take()).outcome, options);
    } finally {
      stream.cancel();
    }
  }

  /**
   * Runs `task` on one argument on some worker; resolves to its result (a future).
   * @throws PoolTaskError when the task threw; AbortedError when `signal` aborts before the result is back.
   */
  async submit<R = unknown>(task: TaskRef, arg: unknown, options: { signal?: AbortSignal } = {}): Promise<R> {
    const [result] = await this.map<R>(task, [arg], { chunksize: 1, ...(options.signal ? { signal: options.signal } : {}) });
    return result as R;
  }

  /** Waits for the work handed out, then ends every worker's loop: their {@link openPool} resolves. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#receiving) await this.#running;
    if (this.#failure) throw this.#failure;
    await Promise.all(this.#workers.map((w) => this.#comm.send({ kind: 'close' } satisfies Order, w, { tag: TAG_ORDER })));
  }

  #yielded<R>(outcome: Settled<unknown>, options: MapOptions): R | Settled<R> {
    if (options.onError === 'collect') return outcome as Settled<R>;
    if (!outcome.ok) throw outcome.error;
    return outcome.value as R;
  }

  #stream(task: TaskRef, items: Iterable<unknown>, options: MapOptions) {
    const args = [...items];
    const arrived: Array<{ index: number; outcome: Settled<unknown> }> = [];
    let waiting: { resolve(): void; reject(error: Error): void } | undefined;
    let failure: Error | undefined;
    const wake = (): void => {
      const w = waiting;
      waiting = undefined;
      if (w && failure) w.reject(failure);
      else w?.resolve();
    };
    const job = this.#submitJob(
      task,
      args,
      options.chunksize ?? 1,
      options,
      (index, outcome) => {
        arrived.push({ index, outcome });
        wake();
      },
      (error) => {
        failure = error;
        wake();
      },
    );
    return {
      total: args.length,
      take: async (): Promise<{ index: number; outcome: Settled<unknown> }> => {
        while (arrived.length === 0) {
          if (failure) throw failure;
          await new Promise<void>((resolve, reject) => (waiting = { resolve, reject }));
        }
        return arrived.shift() as { index: number; outcome: Settled<unknown> };
      },
      cancel: (): void => {
        job.end();
        job.cancelled = true;
      },
    };
  }

  #submitJob(task: TaskRef, args: unknown[], chunksize: number, options: MapOptions, settle: Job['settle'], fail: (error: Error) => void): Job {
    if (this.#closed) throw new InvalidArgumentError('pool', 'it is closed');
    checkTask(task);
    if (!Number.isInteger(chunksize) || chunksize < 1) throw new InvalidArgumentError('chunksize', `${String(chunksize)} is not a positive integer`);
    if (options.onError !== undefined && options.onError !== 'throw' && options.onError !== 'collect') {
      throw new InvalidArgumentError('onError', `${String(options.onError)} is neither 'throw' nor 'collect'`);
    }
    if (options.signal?.aborted) throw new AbortedError('pool map', { cause: options.signal.reason });
    if (this.#failure) throw this.#failure;
    const job: Job = {
      task,
      args,
      chunksize,
      next: 0,
      done: 0,
      settle,
      progress: options.onProgress,
      cancelled: false,
      fail: (error) => {
        job.end();
        if (job.cancelled) return;
        job.cancelled = true;
        fail(error);
      },
      end: () => options.signal?.removeEventListener('abort', onAbort),
    };
    const onAbort = (): void => job.fail(new AbortedError('pool map', { cause: options.signal?.reason }));
    if (args.length === 0) return job;
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.#queue.push(job);
    this.#dispatch();
    if (!this.#receiving) {
      this.#receiving = true;
      this.#running = this.#run();
    }
    return job;
  }

  /** The least loaded worker with room (ties: the lowest rank), if any. */
  #freeWorker(): number | undefined {
    let worker: number | undefined;
    for (const w of this.#workers) if ((this.#load.get(w) as number) < PREFETCH && (worker === undefined || (this.#load.get(w) as number) < (this.#load.get(worker) as number))) worker = w;
    return worker;
  }

  /** Hands chunks to workers with room: a dead worker's first, then the calls' in the order they came. */
  #dispatch(): void {
    for (;;) {
      while (this.#retries[0]?.job.cancelled) this.#retries.shift();
      while (this.#queue.length > 0 && (this.#queue[0]?.cancelled || (this.#queue[0] as Job).next >= (this.#queue[0] as Job).args.length)) this.#queue.shift();
      if (this.#retries.length === 0 && this.#queue.length === 0) return;
      const worker = this.#freeWorker();
      if (worker === undefined) return;
      let chunk: Retry;
      if (this.#retries.length > 0) chunk = this.#retries.shift() as Retry;
      else {
        const job = this.#queue[0] as Job;
        chunk = { job, first: job.next, count: Math.min(job.chunksize, job.args.length - job.next), retry: false };
        job.next += chunk.count;
      }
      const batch = this.#nextBatch++;
      this.#batches.set(batch, { ...chunk, worker });
      this.#load.set(worker, (this.#load.get(worker) as number) + 1);
      const order: Order = { kind: 'run', batch, task: chunk.job.task, args: chunk.job.args.slice(chunk.first, chunk.first + chunk.count) };
      // A failed send shows itself as a failed receive of the reply too (the peer is gone).
      this.#comm.send(order, worker, { tag: TAG_ORDER }).catch(() => undefined);
    }
  }

  /**
   * Receives replies while chunks are out, one receive per worker that has
   * some. A worker that dies (PeerFailedError: the job goes on only under
   * `tsmpirun --enable-recovery`) leaves the pool and its chunks are tried
   * once more elsewhere; any other failure ends every call and the pool.
   */
  async #run(): Promise<void> {
    const receiving = new Map<number, Promise<void>>();
    try {
      while (this.#batches.size > 0) {
        for (const w of this.#workers) {
          if ((this.#load.get(w) as number) > 0 && !receiving.has(w)) {
            receiving.set(w, this.#receiveFrom(w).finally(() => receiving.delete(w)));
          }
        }
        await Promise.race(receiving.values());
      }
    } catch (error) {
      this.#failure ??= error as Error;
      const jobs = new Set([...this.#queue, ...this.#retries.map((r) => r.job), ...[...this.#batches.values()].map((b) => b.job)]);
      this.#queue.length = 0;
      this.#retries.length = 0;
      this.#batches.clear();
      for (const job of jobs) job.fail(error as Error);
    } finally {
      this.#receiving = false;
    }
  }

  async #receiveFrom(worker: number): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.#comm.recv<Reply>({ source: worker, tag: TAG_REPLY });
    } catch (error) {
      if (!(error instanceof PeerFailedError)) throw error;
      return this.#lost(worker, error);
    }
    const batch = this.#batches.get(reply.batch);
    if (batch === undefined || batch.worker !== worker) throw new MpiError('ERR_TSMPI_PROTOCOL', `rank ${worker} returned chunk ${reply.batch}, which it was not given`);
    this.#batches.delete(reply.batch);
    this.#load.set(worker, (this.#load.get(worker) as number) - 1);
    this.#dispatch();
    const { job } = batch;
    if (job.cancelled) return;
    const failed = new Map(reply.errors);
    const host = this.#comm.hostOf(worker);
    for (let k = 0; k < batch.count && !job.cancelled; k++) {
      const index = batch.first + k;
      const error = failed.get(k);
      job.settle(index, error === undefined ? { ok: true, value: reply.values[k] } : { ok: false, error: new PoolTaskError(job.task, index, worker, host, error) });
    }
    job.done += batch.count;
    if (job.done === job.args.length) job.end();
    job.progress?.(job.done, job.args.length);
  }

  /** A worker died: it leaves the pool; its chunks go to the others once, or end their calls if they were already a retry. */
  #lost(worker: number, error: PeerFailedError): void {
    this.#workers.splice(this.#workers.indexOf(worker), 1);
    this.#load.delete(worker);
    for (const [id, batch] of [...this.#batches]) {
      if (batch.worker !== worker) continue;
      this.#batches.delete(id);
      if (batch.retry) batch.job.fail(error);
      else this.#retries.push({ job: batch.job, first: batch.first, count: batch.count, retry: true });
    }
    if (this.#workers.length === 0) {
      const none = new PeerFailedError({ rank: worker, host: error.host, op: 'pool', reason: `${error.reason}, and no worker is left` });
      for (const r of this.#retries.splice(0)) r.job.fail(none);
      for (const job of this.#queue.splice(0)) job.fail(none);
      this.#failure ??= none;
      return;
    }
    this.#dispatch();
  }
}

function checkTask(t: TaskRef): void {
  if (t === null || typeof t !== 'object' || typeof t.module !== 'string' || typeof t.name !== 'string') {
    throw new InvalidArgumentError('task', 'expected a task from task(module, name)');
  }
}

/** Imports a task's module as the program would, from this rank's own file system. */
async function load(ref: TaskRef, cache: Map<string, (arg: unknown) => unknown>): Promise<(arg: unknown) => unknown> {
  const key = `${ref.module}#${ref.name}`;
  const cached = cache.get(key);
  if (cached) return cached;
  let url = ref.module;
  if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) {
    // A bare specifier: resolved from the program's folder, as its own imports are.
    const from = process.argv[1] ? path.resolve(process.argv[1]) : path.join(process.cwd(), 'index.js');
    url = pathToFileURL(createRequire(from).resolve(url)).href;
  }
  let mod: Record<string, unknown>;
  if (/\.(c|m)?tsx?$/.test(new URL(url).pathname)) {
    const tsx = (await dynamicImport('tsx/esm/api')) as { tsImport(specifier: string, parent: string): Promise<Record<string, unknown>> };
    mod = await tsx.tsImport(url, import.meta.url);
  } else {
    mod = (await dynamicImport(url)) as Record<string, unknown>;
  }
  const fn = mod[ref.name];
  if (typeof fn !== 'function') throw new InvalidArgumentError('task', `${ref.module} has no exported function ${ref.name}`);
  cache.set(key, fn as (arg: unknown) => unknown);
  return fn as (arg: unknown) => unknown;
}

function remote(error: unknown): RemoteError {
  if (error instanceof Error) return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  return { name: 'Error', message: String(error) };
}

async function serve(comm: Communicator, root: number): Promise<void> {
  const cache = new Map<string, (arg: unknown) => unknown>();
  for (;;) {
    const order = await comm.recv<Order>({ source: root, tag: TAG_ORDER });
    if (order.kind === 'close') return;
    const values: unknown[] = new Array(order.args.length);
    const errors: Array<[number, RemoteError]> = [];
    let fn: ((arg: unknown) => unknown) | undefined;
    try {
      fn = await load(order.task, cache);
    } catch (error) {
      for (let k = 0; k < order.args.length; k++) errors.push([k, remote(error)]);
    }
    if (fn) {
      for (let k = 0; k < order.args.length; k++) {
        try {
          values[k] = await fn(order.args[k]);
        } catch (error) {
          errors.push([k, remote(error)]);
        }
      }
    }
    await comm.send({ batch: order.batch, values, errors } satisfies Reply, root, { tag: TAG_REPLY });
  }
}

/**
 * Opens a pool over `comm` (collective: every rank calls it). The root gets
 * the {@link Pool}; on every other rank the call serves tasks and resolves to
 * `undefined` once the root closes the pool, so that a program's shape is
 * `const pool = await openPool(); if (pool) { ...; await pool.close(); }`.
 * The pool works on a duplicate of `comm`, so its messages never mix with
 * the program's.
 * @throws InvalidArgumentError for a root outside `comm`; errors of the communicator (e.g. PeerFailedError when a worker dies).
 */
export async function openPool(options: PoolOptions = {}): Promise<Pool | undefined> {
  const base = options.comm ?? world();
  const root = options.root ?? 0;
  if (!Number.isInteger(root) || root < 0 || root >= base.size) throw new InvalidArgumentError('root', `${String(root)} is not a rank of a communicator of size ${base.size}`);
  if (base.size < 2) throw new InvalidArgumentError('comm', 'a pool needs at least two ranks, a manager and a worker (run it with tsmpirun -n 2 or more)');
  const comm = await base.dup();
  if (comm.rank === root) return new Pool(comm, root);
  await serve(comm, root);
  return undefined;
}

/**
 * The manager-only program shape, as `mpiexec -n N python -m mpi4py.futures
 * script.py`: collective like {@link openPool}; the root gets the
 * {@link Pool}; every other rank serves, and when the pool closes it
 * finalizes and ends its process (status 0), so that what follows the call
 * runs on the root only.
 *
 * ```ts
 * await init();
 * const pool = await startPool();
 * console.log(await pool.map(task(new URL('./work.js', import.meta.url), 'score'), items));
 * await pool.close();
 * await finalize();
 * ```
 * @throws as {@link openPool}.
 */
export async function startPool(options: PoolOptions = {}): Promise<Pool> {
  const pool = await openPool(options);
  if (pool) return pool;
  await finalize();
  process.exit(0);
}
