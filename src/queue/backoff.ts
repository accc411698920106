/**
 * Per-key retry delay for failed reconciles. Pure: the caller keeps the failure count (the work queue
 * does, per key) and supplies randomness, so the schedule is a plain function tests can tabulate.
 *
 * Start near 1 s and cap at minutes: a 5 ms base hammers an external API that is already failing, and
 * a 1000 s cap makes self-healing slow (reconciler-lessons 13, Flux 750 ms / 15 min, Crossplane 1 s / 60 s).
 */
export interface BackoffOptions {
  /** Delay after the first failure, in ms. @default 1000 */
  baseMs?: number;
  /** Upper bound of any delay, in ms; jitter never pushes a delay above it. @default 300000 (5 min) */
  maxMs?: number;
  /** Growth per further failure. @default 2 */
  factor?: number;
  /**
   * Fraction of the delay that random() may take away: the delay lies in [d × (1 − jitter), d].
   * Jitter is applied downwards so that keys which hit the cap together still spread out. @default 0.2
   */
  jitter?: number;
  /** Uniform random number in [0, 1). Injected so tests can pin it. @default Math.random */
  random?: () => number;
}

export class Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: number;
  readonly #random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 1000;
    this.maxMs = options.maxMs ?? 300_000;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.2;
    this.#random = options.random ?? Math.random;
    check('baseMs', this.baseMs, Number.isFinite(this.baseMs) && this.baseMs > 0, 'a finite number > 0');
    check('maxMs', this.maxMs, Number.isFinite(this.maxMs) && this.maxMs >= this.baseMs, `a finite number >= baseMs (${this.baseMs})`);
    check('factor', this.factor, Number.isFinite(this.factor) && this.factor >= 1, 'a finite number >= 1');
    check('jitter', this.jitter, this.jitter >= 0 && this.jitter <= 1, 'a number in [0, 1]');
  }

  /**
   * Delay in ms before retry number `failures` (1 = after the first failure). 0 failures → 0.
   * Without jitter: baseMs × factor^(failures − 1), capped at maxMs.
   */
  delayMs(failures: number): number {
    if (!(failures >= 1)) return 0;
    // Computed in log space so a key that failed thousands of times cannot overflow to Infinity/NaN.
    const exponent = failures - 1;
    const uncapped = exponent * Math.log(this.factor) + Math.log(this.baseMs);
    const ceiling = uncapped >= Math.log(this.maxMs) ? this.maxMs : Math.exp(uncapped);
    const r = Math.min(Math.max(this.#random(), 0), 1);
    return Math.round(ceiling * (1 - this.jitter * r));
  }
}

function check(name: string, value: number, ok: boolean, expected: string): void {
  if (!ok) throw new TypeError(`Backoff: expected \`${name}\` to be ${expected}, got ${String(value)}`);
}
