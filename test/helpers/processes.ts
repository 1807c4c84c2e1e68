// Waiting on processes from tests: whether a pid is alive, and a condition polled until a limit.

/** Whether a process with `pid` exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `condition` every `everyMs` until it holds or `limitMs` have passed; resolves to its last value. */
export async function eventually(condition: () => boolean, limitMs: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return condition();
}
