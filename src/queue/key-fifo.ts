/**
 * A FIFO of distinct keys with O(1) push, delete, peek and shift (amortised).
 *
 * Why not a Map in insertion order: V8 leaves deleted Map entries as holes until it rehashes, so
 * repeatedly taking the first key of a Map that is drained from the front costs O(holes) per take,
 * quadratic over a 100k-key resync. Here deletion is lazy: the array slot is left behind and skipped
 * because its sequence number no longer matches the key's live entry.
 */
export class KeyFifo {
  #slots: Array<{ key: string; seq: number }> = [];
  #head = 0;
  #seq = 0;
  /** Live keys → { seq of their slot, enqueue time in ms }. */
  #live = new Map<string, { seq: number; since: number }>();

  get size(): number {
    return this.#live.size;
  }

  has(key: string): boolean {
    return this.#live.has(key);
  }

  /** When `key` was pushed (ms, caller's clock), or undefined if absent. */
  since(key: string): number | undefined {
    return this.#live.get(key)?.since;
  }

  /** Appends `key` unless present. Returns false if it was already queued. */
  push(key: string, since: number): boolean {
    if (this.#live.has(key)) return false;
    const seq = ++this.#seq;
    this.#live.set(key, { seq, since });
    this.#slots.push({ key, seq });
    return true;
  }

  delete(key: string): boolean {
    return this.#live.delete(key);
  }

  /** The oldest live key, without removing it. */
  peek(): string | undefined {
    while (this.#head < this.#slots.length) {
      const slot = this.#slots[this.#head];
      if (slot && this.#live.get(slot.key)?.seq === slot.seq) return slot.key;
      this.#head++;
    }
    if (this.#head > 0) this.#compact();
    return undefined;
  }

  /** Removes and returns the oldest live key. */
  shift(): string | undefined {
    const key = this.peek();
    if (key === undefined) return undefined;
    this.#live.delete(key);
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#slots.length) this.#compact();
    return key;
  }

  clear(): void {
    this.#slots = [];
    this.#head = 0;
    this.#live.clear();
  }

  /** Drops consumed slots so the array does not grow without bound. */
  #compact(): void {
    this.#slots = this.#slots.slice(this.#head);
    this.#head = 0;
  }
}
