import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../src/clock.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { checkLeaseTimings, LeaderElector, type LeaseTimings } from '../../../src/leader/elector.js';
import type { LeaseRecord, LeaseStore } from '../../../src/leader/lease-store.js';

/** An in-memory lease collection with PocketBase's guarantee: one create per epoch wins. */
class MemoryLeases implements LeaseStore {
  readonly records = new Map<number, LeaseRecord>();
  down = false;
  /** A renewal that never answers (a hung PocketBase). */
  hang = false;
  #version = 0;
  #check(): void {
    if (this.down) throw new Error('PocketBase unreachable');
  }
  latest(): Promise<LeaseRecord | null> {
    this.#check();
    const top = Math.max(0, ...this.records.keys());
    return Promise.resolve(this.records.get(top) ?? null);
  }
  create(epoch: number, holder: string): Promise<LeaseRecord | 'taken'> {
    this.#check();
    if (this.records.has(epoch)) return Promise.resolve('taken');
    const r = { id: `e${epoch}`, epoch, holder, released: false, renewedAt: null, version: String(++this.#version) };
    this.records.set(epoch, r);
    return Promise.resolve(r);
  }
  renew(record: LeaseRecord): Promise<LeaseRecord> {
    if (this.hang) return new Promise(() => {});
    this.#check();
    const r = { ...record, version: String(++this.#version) };
    this.records.set(record.epoch, r);
    return Promise.resolve(r);
  }
  release(record: LeaseRecord): Promise<void> {
    this.#check();
    this.records.set(record.epoch, { ...record, released: true, version: String(++this.#version) });
    return Promise.resolve();
  }
  prune(): Promise<void> {
    return Promise.resolve();
  }
}

const T: LeaseTimings = { leaseMs: 15_000, renewDeadlineMs: 10_000, retryMs: 2_000 };

function setup(store = new MemoryLeases(), clock = new ManualClock()) {
  const make = (identity: string) => {
    const events: string[] = [];
    const e = new LeaderElector({
      store,
      clock,
      logger: silentLogger(),
      identity,
      timings: T,
      random: () => 0,
      onStartedLeading: () => events.push('started'),
      onStoppedLeading: (why) => events.push(`stopped: ${why}`),
    });
    return { e, events };
  };
  /** Moves time in small steps, letting the electors' promises settle in between. */
  const advance = async (ms: number, step = 100) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
  };
  return { store, clock, make, advance };
}

describe('LeaderElector', () => {
  it('a lone daemon leads at once; a second one waits as a standby', async () => {
    const { make } = setup();
    const a = make('a');
    const b = make('b');
    await a.e.start();
    await b.e.start();
    expect(a.e.holding()).toBe(true);
    expect(a.events).toEqual(['started']);
    expect(b.e.holding()).toBe(false);
    expect(b.events).toEqual([]);
  });

  it('two contenders for the same epoch: exactly one wins', async () => {
    const { make, store } = setup();
    const a = make('a');
    const b = make('b');
    await Promise.all([a.e.start(), b.e.start()]);
    expect([a.e.holding(), b.e.holding()].filter(Boolean)).toHaveLength(1);
    expect(store.records.size).toBe(1);
  });

  it('a standby takes over only after the lease went unrenewed for the lease duration', async () => {
    const { make, advance, store } = setup();
    const a = make('a');
    const b = make('b');
    await a.e.start();
    await b.e.start();
    // While the holder renews, the standby never takes over.
    await advance(60_000);
    expect(b.e.holding()).toBe(false);
    expect(a.e.holding()).toBe(true);
    // The holder dies (kill -9): it neither renews nor releases.
    await a.e.stop().catch(() => undefined);
    store.records.set(1, { ...store.records.get(1)!, released: false });
    await advance(14_000);
    expect(b.e.holding()).toBe(false);
    await advance(5_000);
    expect(b.e.holding()).toBe(true);
    expect(b.e.epoch).toBe(2);
  });

  it('stop() gives the lease back: a standby takes over at its next retry', async () => {
    const { make, advance } = setup();
    const a = make('a');
    const b = make('b');
    await a.e.start();
    await b.e.start();
    await advance(4_000);
    await a.e.stop();
    expect(a.e.holding()).toBe(false);
    await advance(2_500);
    expect(b.e.holding()).toBe(true);
    expect(b.events).toEqual(['started']);
  });

  it('a holder cut off from PocketBase stops holding exactly at its renew deadline, before anyone can take over', async () => {
    const { make, advance, store, clock } = setup();
    const a = make('a');
    const b = make('b');
    await a.e.start();
    const acquiredAt = clock.now();
    await b.e.start();
    store.down = true;
    await advance(9_900);
    expect(a.e.holding()).toBe(true);
    await advance(200);
    // Renewed last at acquisition (the renewals since failed): the deadline counts from there.
    expect(clock.now() - acquiredAt).toBeGreaterThanOrEqual(10_000);
    expect(a.e.holding()).toBe(false);
    expect(a.events).toEqual(['started', `stopped: not renewed within the renew deadline of 10000 ms`]);
    expect(b.e.holding()).toBe(false);
  });

  it('notices the deadline even while a renewal hangs', async () => {
    const { make, advance, store } = setup();
    const a = make('a');
    await a.e.start();
    store.hang = true;
    await advance(10_100);
    expect(a.e.holding()).toBe(false);
    expect(a.events.at(-1)).toMatch(/^stopped: not renewed/);
  });

  it('a holder whose epoch was superseded steps down at its next renewal', async () => {
    const { make, advance, store } = setup();
    const a = make('a');
    await a.e.start();
    await store.create(2, 'intruder');
    await advance(2_500);
    expect(a.e.holding()).toBe(false);
    expect(a.events.at(-1)).toBe('stopped: epoch 2 was taken by intruder');
  });

  it('rejects timings client-go would reject', () => {
    expect(() => checkLeaseTimings({ leaseMs: 10_000, renewDeadlineMs: 10_000, retryMs: 2_000 })).toThrow('lease > renew deadline');
    expect(() => checkLeaseTimings({ leaseMs: 15_000, renewDeadlineMs: 2_000, retryMs: 2_000 })).toThrow('1.2 × retry');
    expect(() => checkLeaseTimings(T)).not.toThrow();
  });
});
