/**
 * Laravel's `ThrottleRequests` as Coolify configures it (notes §10): a fixed window per key that
 * starts at the key's first hit and lasts `windowMs`; `limit` hits per window.
 */
export interface ThrottleOptions {
  /** Requests per window. Coolify's default is 200. */
  limit: number;
  /** Window length in ms. Default 60 000. */
  windowMs?: number;
}

export interface ThrottleVerdict {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch ms when the window resets. */
  resetAt: number;
}

export class Throttle {
  readonly limit: number;
  readonly windowMs: number;
  #windows = new Map<string, { startedAt: number; hits: number }>();

  constructor(options: ThrottleOptions) {
    this.limit = options.limit;
    this.windowMs = options.windowMs ?? 60_000;
  }

  hit(key: string, now: number): ThrottleVerdict {
    let w = this.#windows.get(key);
    if (!w || now >= w.startedAt + this.windowMs) {
      w = { startedAt: now, hits: 0 };
      this.#windows.set(key, w);
    }
    const resetAt = w.startedAt + this.windowMs;
    if (w.hits >= this.limit) return { allowed: false, limit: this.limit, remaining: 0, resetAt };
    w.hits++;
    return { allowed: true, limit: this.limit, remaining: this.limit - w.hits, resetAt };
  }
}
