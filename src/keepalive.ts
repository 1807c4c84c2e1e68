/**
 * What keeps a rank's process alive. The runtime's sockets and timers never
 * do (they are unreferenced), so that a program whose work is done exits and
 * is finalized on the way out (`beforeExit`), as mpi4py finalizes at exit.
 * An operation in progress (a send, a receive, a collective, init, finalize)
 * holds the event loop open instead, through one referenced timer, for as
 * long as any is pending.
 */

let pending = 0;
let timer: NodeJS.Timeout | undefined;

/** Holds the event loop open until the returned function is called (once; later calls do nothing). */
export function hold(): () => void {
  timer ??= setInterval(() => undefined, 2 ** 31 - 1);
  if (pending++ === 0) timer.ref();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--pending === 0) timer?.unref();
  };
}

/**
 * Runs `operation`, holding the event loop open until it settles; `relabel`
 * may replace the error it fails with. (Not an async function: every send
 * and receive passes here, and each async frame costs microtask turns.)
 */
export function held<T>(operation: () => Promise<T>, relabel: (error: unknown) => unknown = (error) => error): Promise<T> {
  const release = hold();
  let running: Promise<T>;
  try {
    running = operation();
  } catch (error) {
    release();
    return Promise.reject(relabel(error));
  }
  return running.then(
    (value) => {
      release();
      return value;
    },
    (error: unknown) => {
      release();
      throw relabel(error);
    },
  );
}
