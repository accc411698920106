/**
 * Keeps secrets out of everything the daemon writes for people: logs, reconcile_events and status
 * messages. Two rules:
 *  - values registered as secret are replaced wherever they appear inside any string;
 *  - fields whose name looks like a credential are replaced whatever their value.
 *
 * Three kinds of registration, so memory stays bounded in a daemon that lives for months:
 *  - `add`: for the life of the process (PocketBase password, Coolify token);
 *  - `set`: one value per named slot, replaced by the next (a PocketBase auth token, refreshed
 *    every day: the old one is useless once replaced, and keeping each would grow forever);
 *  - `track`: secrets read from records (router keys, secret template params). Each full resync
 *    calls `sweep()`; a tracked secret not seen again for two sweeps is forgotten, so rotated keys
 *    and the secrets of deleted stacks do not pile up. Two sweeps (not one) keep a secret masked
 *    while a reconcile that read it before the last listing may still be logging.
 */
export const REDACTED = '[REDACTED]';

/** Field names whose values are credentials regardless of content. */
const SECRET_KEY = /pass(word)?|secret|token|api[_-]?key|authorization|credential|cookie/i;

/** Values shorter than this are not masked by content: masking "1" or "ab" would shred logs. */
const MIN_SECRET_LENGTH = 4;

export class Redactor {
  #permanent = new Set<string>();
  /** Named slot → its current secret. */
  #slots = new Map<string, string>();
  /** Tracked secret → sweep generation in which it was last seen. */
  #tracked = new Map<string, number>();
  #generation = 0;
  /**
   * Every secret by its first MIN_SECRET_LENGTH characters, longest first within each: rebuilt
   * lazily after a change. (One regular expression of all of them took 300 ms to build at 12,000
   * secrets, and was rebuilt by the next log line after every new or forgotten secret.)
   */
  #index: Map<string, string[]> | undefined;

  /** Registers secrets for the life of the process. */
  add(...values: (string | undefined | null)[]): void {
    for (const v of values) {
      if (!isMaskable(v) || this.#permanent.has(v)) continue;
      this.#permanent.add(v);
      this.#index = undefined;
    }
  }

  /** Masks `value` under `slot`, no longer masking what the slot held before. */
  set(slot: string, value: string | undefined | null): void {
    const before = this.#slots.get(slot);
    if (before === value) return;
    if (isMaskable(value)) this.#slots.set(slot, value);
    else this.#slots.delete(slot);
    this.#index = undefined;
  }

  /** Registers secrets read from records; they live until two sweeps pass without seeing them. */
  track(...values: (string | undefined | null)[]): void {
    for (const v of values) {
      if (!isMaskable(v) || this.#permanent.has(v)) continue;
      if (!this.#tracked.has(v)) this.#index = undefined;
      this.#tracked.set(v, this.#generation);
    }
  }

  /** Starts a new generation and forgets tracked secrets not seen in the previous two. */
  sweep(): void {
    this.#generation++;
    for (const [v, seen] of this.#tracked) {
      if (seen < this.#generation - 1) {
        this.#tracked.delete(v);
        this.#index = undefined;
      }
    }
  }

  get size(): number {
    return this.#permanent.size + this.#slots.size + this.#tracked.size;
  }

  /** Masks every registered secret inside `text`. */
  redact(text: string): string {
    if (this.size === 0 || text.length < MIN_SECRET_LENGTH) return text;
    const index = (this.#index ??= this.#buildIndex());
    // Left to right; at each position the longest secret that starts there, so a secret that
    // contains another is masked whole.
    let out = '';
    let done = 0;
    for (let i = 0; i <= text.length - MIN_SECRET_LENGTH; ) {
      const candidates = index.get(text.slice(i, i + MIN_SECRET_LENGTH));
      const hit = candidates?.find((secret) => text.startsWith(secret, i));
      if (hit === undefined) {
        i++;
        continue;
      }
      out += text.slice(done, i) + REDACTED;
      i += hit.length;
      done = i;
    }
    return done === 0 ? text : out + text.slice(done);
  }

  #buildIndex(): Map<string, string[]> {
    const index = new Map<string, string[]>();
    for (const secret of new Set([...this.#permanent, ...this.#slots.values(), ...this.#tracked.keys()])) {
      const prefix = secret.slice(0, MIN_SECRET_LENGTH);
      const list = index.get(prefix);
      if (list) list.push(secret);
      else index.set(prefix, [secret]);
    }
    for (const list of index.values()) list.sort((a, b) => b.length - a.length);
    return index;
  }

  /** Deep copy of `value` with secret keys and secret substrings masked. Cycles become "[Circular]". */
  redactValue(value: unknown, seen = new WeakSet<object>()): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return '[Circular]';
    seen.add(value);
    if (value instanceof Error) {
      const out: Record<string, unknown> = { name: value.name, message: this.redact(value.message) };
      if (value.stack) out.stack = this.redact(value.stack);
      for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : this.redactValue(v, seen);
      return out;
    }
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '' ? REDACTED : this.redactValue(v, seen);
    }
    return out;
  }
}

function isMaskable(v: string | undefined | null): v is string {
  return typeof v === 'string' && v.length >= MIN_SECRET_LENGTH;
}
