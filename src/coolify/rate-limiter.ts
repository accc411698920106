import type { Clock } from '../clock.js';

/**
 * The one gate every Coolify call passes through. Coolify throttles per user (notes §10), so a
 * single limiter per token is the only way to stay under it.
 *
 * Invariant (strict sliding window): for any N+1 calls, the span from the first one's completion
 * to the last one's start is at least `windowMs`. A call holds its slot while in flight and the
 * slot is stamped with the time the call *finished*; a new call may start only when fewer than N
 * slots are in flight or finished inside the last window. Because a request reaches Coolify
 * between its start and its finish, Coolify never sees more than N requests in any rolling
 * window, whatever the network latency.
 *
 * `pauseUntil` stops every caller (a 429 applies to the whole user, not to one route).
 */
export interface RateLimiterOptions {
  /** Calls allowed in any window. */
  limit: number;
  /** Window length in ms. Defaults to 60 000 (Coolify's limit is per minute). */
  windowMs?: number;
  clock: Clock;
  /** Longest pause a single `pauseUntil` may impose, in ms. Defaults to 120 000. */
  maxPauseMs?: number;
}

export interface RateLimitLease {
  /** Marks the call finished; idempotent. */
  release(): void;
}

interface Waiter {
  resolve: (lease: RateLimitLease) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class RateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxPauseMs: number;
  readonly #clock: Clock;
  #inFlight = 0;
  /** Finish times of completed calls still inside the window, ascending. */
  #finished: number[] = [];
  #waiters: Waiter[] = [];
  #pausedUntil = 0;
  #cancelTimer: (() => void) | undefined;

  constructor(options: RateLimiterOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new RangeError(`rate limit must be a positive integer, got ${options.limit}`);
    }
    this.limit = options.limit;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxPauseMs = options.maxPauseMs ?? 120_000;
    this.#clock = options.clock;
  }

  /** Epoch ms until which calls are held back by a 429; 0 when not paused. */
  get pausedUntil(): number {
    return this.#pausedUntil > this.#clock.now() ? this.#pausedUntil : 0;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Holds every call until `untilMs` (epoch), capped at `maxPauseMs` from now. Never shortens a pause. */
  pauseUntil(untilMs: number): void {
    const capped = Math.min(untilMs, this.#clock.now() + this.maxPauseMs);
    if (capped > this.#pausedUntil) this.#pausedUntil = capped;
    this.#pump();
  }

  /** Waits for a slot. Rejects with the signal's reason if aborted while waiting. */
  acquire(signal?: AbortSignal): Promise<RateLimitLease> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<RateLimitLease>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(signal?.reason as Error);
          this.#pump();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  #lease(): RateLimitLease {
    this.#inFlight++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#inFlight--;
        this.#finished.push(this.#clock.now());
        this.#pump();
      },
    };
  }

  #pump(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    while (this.#waiters.length > 0) {
      const now = this.#clock.now();
      if (now < this.#pausedUntil) {
        this.#wakeAt(this.#pausedUntil - now);
        return;
      }
      while (this.#finished.length > 0 && (this.#finished[0] ?? 0) <= now - this.windowMs) this.#finished.shift();
      if (this.#inFlight + this.#finished.length < this.limit) {
        const w = this.#waiters.shift();
        if (!w) return;
        w.signal?.removeEventListener('abort', w.onAbort);
        w.resolve(this.#lease());
        continue;
      }
      const oldest = this.#finished[0];
      // All slots in flight: the next release pumps again.
      if (oldest !== undefined) this.#wakeAt(oldest + this.windowMs - now);
      return;
    }
  }

  #wakeAt(delayMs: number): void {
    this.#cancelTimer = this.#clock.schedule(() => {
      this.#cancelTimer = undefined;
      this.#pump();
    }, Math.max(1, delayMs));
  }
}
