/**
 * The queues of MPI matching, with a cost per message that does not grow
 * with the queue: items are kept in FIFO buckets by (source, tag), each with
 * a sequence number of arrival, so that "the oldest item that matches" is
 * the oldest front among the buckets a key selects. An exact key selects one
 * bucket; a wildcard (`ANY` = -1) selects the buckets of one source, of one
 * tag, or all: their count, never the number of items queued.
 *
 * Used twice by the engine: unexpected messages (exact keys) are looked up
 * with a receive's pattern (`oldestMatching`), and posted receives (pattern
 * keys) with an arriving message's exact key (`oldestAccepting`).
 */

/** Matches any source or any tag (`MPI_ANY_SOURCE`, `MPI_ANY_TAG`). */
export const ANY = -1;

interface Entry<T> {
  seq: number;
  item: T;
  dead: boolean;
}

/** A FIFO with O(1) push, front and pop, and lazy removal from the middle. */
class Bucket<T> {
  #entries: Array<Entry<T>> = [];
  #head = 0;
  live = 0;

  push(entry: Entry<T>): void {
    this.#entries.push(entry);
    this.live++;
  }

  /** The oldest live entry. */
  front(): Entry<T> | undefined {
    while (this.#head < this.#entries.length && (this.#entries[this.#head] as Entry<T>).dead) this.#head++;
    this.#compact();
    return this.#entries[this.#head];
  }

  kill(entry: Entry<T>): void {
    if (entry.dead) return;
    entry.dead = true;
    this.live--;
  }

  *[Symbol.iterator](): IterableIterator<Entry<T>> {
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i] as Entry<T>;
      if (!entry.dead) yield entry;
    }
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** Items keyed by (source, tag), either of which may be {@link ANY} in the key of a pattern. */
export class MatchQueue<T> {
  #seq = 0;
  #size = 0;
  /** source -> tag -> bucket. */
  readonly #buckets = new Map<number, Map<number, Bucket<T>>>();
  readonly #where = new Map<T, { bucket: Bucket<T>; entry: Entry<T>; source: number; tag: number }>();

  get size(): number {
    return this.#size;
  }

  push(source: number, tag: number, item: T): void {
    let tags = this.#buckets.get(source);
    if (tags === undefined) this.#buckets.set(source, (tags = new Map()));
    let bucket = tags.get(tag);
    if (bucket === undefined) tags.set(tag, (bucket = new Bucket()));
    const entry: Entry<T> = { seq: this.#seq++, item, dead: false };
    bucket.push(entry);
    this.#where.set(item, { bucket, entry, source, tag });
    this.#size++;
  }

  /** Removes `item`; false when it is not queued. */
  remove(item: T): boolean {
    const where = this.#where.get(item);
    if (where === undefined) return false;
    where.bucket.kill(where.entry);
    this.#where.delete(item);
    this.#size--;
    if (where.bucket.live === 0) {
      const tags = this.#buckets.get(where.source);
      tags?.delete(where.tag);
      if (tags?.size === 0) this.#buckets.delete(where.source);
    }
    return true;
  }

  #oldest(buckets: Iterable<Bucket<T> | undefined>): T | undefined {
    let best: Entry<T> | undefined;
    for (const bucket of buckets) {
      const front = bucket?.front();
      if (front !== undefined && (best === undefined || front.seq < best.seq)) best = front;
    }
    return best?.item;
  }

  /** The oldest item with an exact key that the pattern (`source`, `tag`) matches (either may be ANY). */
  oldestMatching(source: number, tag: number): T | undefined {
    if (source !== ANY) {
      const tags = this.#buckets.get(source);
      if (tags === undefined) return undefined;
      return tag !== ANY ? this.#oldest([tags.get(tag)]) : this.#oldest(tags.values());
    }
    const buckets: Array<Bucket<T> | undefined> = [];
    for (const tags of this.#buckets.values()) {
      if (tag !== ANY) buckets.push(tags.get(tag));
      else buckets.push(...tags.values());
    }
    return this.#oldest(buckets);
  }

  /** The buckets whose pattern key accepts the exact key (`source`, `tag`). */
  #accepting(source: number, tag: number): Array<Bucket<T> | undefined> {
    const exact = this.#buckets.get(source);
    const any = this.#buckets.get(ANY);
    return [exact?.get(tag), exact?.get(ANY), any?.get(tag), any?.get(ANY)];
  }

  /** The oldest item whose pattern key accepts the exact key (`source`, `tag`). */
  oldestAccepting(source: number, tag: number): T | undefined {
    return this.#oldest(this.#accepting(source, tag));
  }

  /** Every item whose pattern key accepts the exact key (`source`, `tag`), oldest first. */
  allAccepting(source: number, tag: number): T[] {
    const entries = this.#accepting(source, tag).flatMap((b) => (b ? [...b] : []));
    return entries.sort((a, b) => a.seq - b.seq).map((e) => e.item);
  }

  /** Every item keyed with `source` (not with ANY), oldest first. */
  fromSource(source: number): T[] {
    const entries = [...(this.#buckets.get(source)?.values() ?? [])].flatMap((b) => [...b]);
    return entries.sort((a, b) => a.seq - b.seq).map((e) => e.item);
  }

  /** The tags that have items (of any source). */
  tags(): Set<number> {
    const tags = new Set<number>();
    for (const byTag of this.#buckets.values()) for (const [tag, bucket] of byTag) if (bucket.live > 0) tags.add(tag);
    return tags;
  }

  /** Every item, oldest first. */
  all(): T[] {
    const entries = [...this.#buckets.values()].flatMap((tags) => [...tags.values()].flatMap((b) => [...b]));
    return entries.sort((a, b) => a.seq - b.seq).map((e) => e.item);
  }
}
