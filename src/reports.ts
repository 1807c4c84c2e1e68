/**
 * Reports of repeated events at a bounded rate, so that a peer cannot flood
 * the launcher's output (connect-and-close churn at a rank's port made
 * thousands of lines a second): the first event of a kind is sent at once,
 * later ones of that kind are counted and sent as one summary per interval.
 */
export class ReportLimiter<R> {
  readonly #send: (report: R, count: number) => void;
  readonly #intervalMs: number;
  readonly #kinds = new Map<string, { last: R; count: number; timer: NodeJS.Timeout }>();

  constructor(send: (report: R, count: number) => void, intervalMs = 1000) {
    this.#send = send;
    this.#intervalMs = intervalMs;
  }

  /** Sends every pending summary now (before the channel to the launcher closes). */
  flush(): void {
    for (const [kind, entry] of this.#kinds) {
      clearInterval(entry.timer);
      if (entry.count > 0) this.#send(entry.last, entry.count);
      this.#kinds.delete(kind);
    }
  }

  /** Reports `report`, of kind `kind`. */
  report(kind: string, report: R): void {
    const pending = this.#kinds.get(kind);
    if (pending !== undefined) {
      pending.count++;
      pending.last = report;
      return;
    }
    this.#send(report, 1);
    const entry = {
      last: report,
      count: 0,
      timer: setInterval(() => {
        if (entry.count === 0) {
          clearInterval(entry.timer);
          this.#kinds.delete(kind);
          return;
        }
        this.#send(entry.last, entry.count);
        entry.count = 0;
      }, this.#intervalMs),
    };
    entry.timer.unref();
    this.#kinds.set(kind, entry);
  }
}
