/**
 * Keeps secrets out of everything the daemon writes for people: logs, reconcile_events and status
 * messages. Two rules:
 *  - values registered as secret (PocketBase password, Coolify token, router keys, secret template
 *    params) are replaced wherever they appear inside any string;
 *  - fields whose name looks like a credential are replaced whatever their value.
 * Registration is cheap and idempotent; the set only grows while the process lives (a key that was
 * a secret once stays masked).
 */
export const REDACTED = '[REDACTED]';

/** Field names whose values are credentials regardless of content. */
const SECRET_KEY = /pass(word)?|secret|token|api[_-]?key|authorization|credential|cookie/i;

/** Values shorter than this are not masked by content: masking "1" or "ab" would shred logs. */
const MIN_SECRET_LENGTH = 4;

export class Redactor {
  #secrets = new Set<string>();
  #pattern: RegExp | undefined;

  add(...values: (string | undefined | null)[]): void {
    let changed = false;
    for (const v of values) {
      if (typeof v === 'string' && v.length >= MIN_SECRET_LENGTH && !this.#secrets.has(v)) {
        this.#secrets.add(v);
        changed = true;
      }
    }
    if (changed) this.#pattern = undefined;
  }

  get size(): number {
    return this.#secrets.size;
  }

  /** Masks every registered secret inside `text`. */
  redact(text: string): string {
    if (this.#secrets.size === 0) return text;
    if (!this.#pattern) {
      // Longest first so a secret that contains another is masked whole.
      const parts = [...this.#secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
      this.#pattern = new RegExp(parts.join('|'), 'g');
    }
    return text.replace(this.#pattern, REDACTED);
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

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
