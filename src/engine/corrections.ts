/**
 * Corrections that do not take (SPEC §3): the same correction of a key (the same desired state
 * sent against the same observed state: a create, a start, a delete) counted per key. Up to
 * `threshold` sends go out on the ordinary schedule; after that the key holds back exponentially
 * (Argo CD's self-heal backoff), `baseMs` doubling per further send up to `maxMs`, and the record
 * shows the reason. A change of the record (forget) or Coolify reaching the desired state (reset)
 * starts the count over. In memory only: a restart costs at most `threshold` more sends.
 */
import type { Clock } from '../clock.js';

export interface CorrectionsOptions {
  clock: Clock;
  /** Identical sends before the hold-back starts. @default 3 */
  threshold?: number;
  /** First hold-back (ms); doubles per further send. @default 120 000 */
  baseMs?: number;
  /** Longest hold-back (ms). @default 3 600 000 */
  maxMs?: number;
}

export interface Hold {
  /** Identical sends so far. */
  sent: number;
  /** ms until the next send is allowed. */
  retryInMs: number;
}

interface Entry {
  fingerprint: string;
  sent: number;
  lastAt: number;
}

export class Corrections {
  readonly threshold: number;
  readonly #clock: Clock;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #byKey = new Map<string, Entry>();

  constructor(options: CorrectionsOptions) {
    this.#clock = options.clock;
    this.threshold = options.threshold ?? 3;
    this.#baseMs = options.baseMs ?? 120_000;
    this.#maxMs = options.maxMs ?? 3_600_000;
  }

  /** Identical sends of `fingerprint` for `key` so far (0 when another or none was sent). */
  sent(key: string, fingerprint: string): number {
    const e = this.#byKey.get(key);
    return e?.fingerprint === fingerprint ? e.sent : 0;
  }

  /** Hold-back after `sent` identical sends (ms); 0 below the threshold. */
  holdMs(sent: number): number {
    if (sent < this.threshold) return 0;
    const exp = sent - this.threshold;
    return exp >= 30 ? this.#maxMs : Math.min(this.#maxMs, this.#baseMs * 2 ** exp);
  }

  /** Undefined when `fingerprint` may be sent for `key` now, else how long it is held back. */
  check(key: string, fingerprint: string): Hold | undefined {
    const e = this.#byKey.get(key);
    if (!e || e.fingerprint !== fingerprint) return undefined;
    const due = e.lastAt + this.holdMs(e.sent);
    const now = this.#clock.now();
    return now < due ? { sent: e.sent, retryInMs: due - now } : undefined;
  }

  /** Records a send; returns how many identical sends there have been. */
  record(key: string, fingerprint: string): number {
    const e = this.#byKey.get(key);
    const sent = e?.fingerprint === fingerprint ? e.sent + 1 : 1;
    this.#byKey.set(key, { fingerprint, sent, lastAt: this.#clock.now() });
    return sent;
  }

  /** Coolify reached the desired state, or the record changed: start over. */
  reset(key: string): void {
    this.#byKey.delete(key);
  }

  get size(): number {
    return this.#byKey.size;
  }
}

/** A hold's wait in words, e.g. "4 min". */
export function humanMs(ms: number): string {
  if (ms < 90_000) return `${Math.max(1, Math.round(ms / 1000))} s`;
  if (ms < 90 * 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}
