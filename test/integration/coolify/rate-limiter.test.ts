import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../src/clock.js';
import { RateLimiter, type RateLimitLease } from '../../../src/coolify/rate-limiter.js';

/** Lets promise callbacks run after the clock moved. */
const flush = () => new Promise((r) => setImmediate(r));

describe('RateLimiter (ManualClock)', () => {
  it('never starts more than N calls in any rolling window, stamping slots at completion', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ limit: 3, windowMs: 1_000, clock });
    const started: number[] = [];
    const leases: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      leases.push(
        limiter.acquire().then((lease) => {
          started.push(clock.now());
          // Each call takes 100 ms.
          clock.schedule(() => lease.release(), 100);
        }),
      );
    }
    for (let t = 0; t < 5_000 && started.length < 10; t += 50) {
      await flush();
      clock.advance(50);
    }
    await Promise.all(leases);
    expect(started).toHaveLength(10);
    // Three at once, then each next three only once the window after their predecessors' completion passed.
    expect(started.slice(0, 3)).toEqual([0, 0, 0]);
    for (let i = 3; i < started.length; i++) {
      expect((started[i] ?? 0) - (started[i - 3] ?? 0)).toBeGreaterThanOrEqual(1_100);
    }
  });

  it('holds every caller during pauseUntil, capped at maxPauseMs', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ limit: 100, clock, maxPauseMs: 2_000 });
    limiter.pauseUntil(10_000);
    expect(limiter.pausedUntil).toBe(2_000);
    let got: RateLimitLease | undefined;
    void limiter.acquire().then((l) => (got = l));
    await flush();
    clock.advance(1_999);
    await flush();
    expect(got).toBeUndefined();
    clock.advance(1);
    await flush();
    expect(got).toBeDefined();
    // A shorter pause never shortens a running one.
    limiter.pauseUntil(5_000);
    limiter.pauseUntil(2_500);
    expect(limiter.pausedUntil).toBe(4_000);
  });

  it('rejects a waiting caller whose signal aborts, and frees its place', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ limit: 1, windowMs: 1_000, clock });
    const first = await limiter.acquire();
    const ac = new AbortController();
    const waiting = limiter.acquire(ac.signal);
    ac.abort(new Error('deadline'));
    await expect(waiting).rejects.toThrow('deadline');
    expect(limiter.waiting).toBe(0);
    first.release();
    first.release();
    expect(limiter.inFlight).toBe(0);
  });

  it('rejects a non-positive limit', () => {
    expect(() => new RateLimiter({ limit: 0, clock: new ManualClock() })).toThrow(RangeError);
  });
});
