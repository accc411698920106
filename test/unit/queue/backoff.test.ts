import { describe, expect, it } from '@jest/globals';
import { Backoff } from '../../../src/queue/backoff.js';

describe('Backoff', () => {
  it('doubles from the base per failure and stops at the cap (no jitter drawn)', () => {
    const backoff = new Backoff({ baseMs: 1000, maxMs: 300_000, random: () => 0 });
    const delays = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50].map((n) => backoff.delayMs(n));
    expect(delays).toEqual([0, 1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000]);
  });

  it('defaults to 1 s base, factor 2 and a 5 minute cap', () => {
    const backoff = new Backoff({ random: () => 0 });
    expect([backoff.delayMs(1), backoff.delayMs(2), backoff.delayMs(9), backoff.delayMs(10)]).toEqual([
      1000, 2000, 256_000, 300_000,
    ]);
  });

  it('keeps every jittered delay within [ceiling × (1 − jitter), ceiling], never above the cap', () => {
    let seed = 42;
    // A small deterministic LCG so the sweep covers the whole [0, 1) range reproducibly.
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const backoff = new Backoff({ baseMs: 1000, maxMs: 60_000, jitter: 0.3, random });
    let sawSpread = false;
    for (let failures = 1; failures <= 12; failures++) {
      const ceiling = Math.min(60_000, 1000 * 2 ** (failures - 1));
      const seen = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const d = backoff.delayMs(failures);
        expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling * 0.7));
        expect(d).toBeLessThanOrEqual(ceiling);
        seen.add(d);
      }
      if (failures >= 7 && seen.size > 50) sawSpread = true; // keys at the cap still spread out
    }
    expect(sawSpread).toBe(true);
  });

  it('uses the extremes of random() as the bounds', () => {
    expect(new Backoff({ baseMs: 1000, jitter: 0.2, random: () => 0 }).delayMs(3)).toBe(4000);
    expect(new Backoff({ baseMs: 1000, jitter: 0.2, random: () => 0.999_999 }).delayMs(3)).toBe(3200);
  });

  it('stays finite for absurd failure counts', () => {
    const backoff = new Backoff({ baseMs: 1000, maxMs: 300_000, random: () => 0 });
    expect(backoff.delayMs(1_000_000)).toBe(300_000);
    expect(backoff.delayMs(Number.MAX_SAFE_INTEGER)).toBe(300_000);
  });

  it('rejects nonsensical options with a message naming the option and value', () => {
    expect(() => new Backoff({ baseMs: 0 })).toThrow('expected `baseMs` to be a finite number > 0, got 0');
    expect(() => new Backoff({ baseMs: 5000, maxMs: 1000 })).toThrow('`maxMs`');
    expect(() => new Backoff({ jitter: 1.5 })).toThrow('`jitter`');
    expect(() => new Backoff({ factor: 0.5 })).toThrow('`factor`');
  });
});
