import { describe, expect, it } from '@jest/globals';
import { setImmediate as tick } from 'node:timers/promises';
import { ManualClock } from '../../../src/clock.js';
import type { CoolifyApi, CoolifyEnvVar } from '../../../src/coolify/types.js';
import { EnvChecker, envDifferences, envFingerprint } from '../../../src/engine/env-check.js';
import type { EnvTarget } from '../../../src/engine/drift-plan.js';
import { silentLogger } from '../../../src/logging/logger.js';

/** A Coolify whose every service holds exactly the wanted env; records when each was read. */
function recordingCoolify(clock: ManualClock, reads: { uuid: string; at: number }[]): CoolifyApi {
  return {
    listServiceEnvs: (uuid: string): Promise<CoolifyEnvVar[]> => {
      reads.push({ uuid, at: clock.now() });
      return Promise.resolve([{ uuid: `e-${uuid}`, key: 'A', value: '1', isCoolify: false }]);
    },
  } as unknown as CoolifyApi;
}

function targets(n: number): EnvTarget[] {
  return Array.from({ length: n }, (_, i) => ({ stackId: `s${String(i).padStart(5, '0')}`, serviceUuid: `u${i}`, env: envFingerprint([{ key: 'A', value: '1' }]) }));
}

/** Moves the clock in steps, letting each fired check's promise settle before the next step. */
async function run(clock: ManualClock, ms: number, stepMs = 50): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(stepMs);
    await tick();
    await tick();
  }
}

function maxInWindow(times: number[], windowMs: number): number {
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= windowMs) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

describe('EnvChecker pacing', () => {
  it('checks each service once per period, spread evenly, when the budget allows it', async () => {
    const clock = new ManualClock();
    const reads: { uuid: string; at: number }[] = [];
    const periods: number[] = [];
    const checker = new EnvChecker({
      coolify: recordingCoolify(clock, reads),
      clock,
      logger: silentLogger(),
      periodMs: 10_000,
      perWindow: 100,
      windowMs: 60_000,
      onDrift: () => undefined,
      onPeriod: (s) => periods.push(s),
    });
    checker.setTargets(targets(10));
    checker.start();
    await run(clock, 30_000);
    await checker.stop();
    // One read a second: 10 services in 10 s, three rounds.
    expect(reads.length).toBeGreaterThanOrEqual(29);
    expect(reads.length).toBeLessThanOrEqual(30);
    const gaps = reads.slice(1).map((r, i) => r.at - reads[i]!.at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1050);
    for (let i = 0; i + 10 <= reads.length; i++) expect(new Set(reads.slice(i, i + 10).map((r) => r.uuid)).size).toBe(10);
    expect(periods.at(-1)).toBe(10);
  });

  it('never spends more than its budget per window: the period stretches instead', async () => {
    const clock = new ManualClock();
    const reads: { uuid: string; at: number }[] = [];
    const periods: number[] = [];
    const checker = new EnvChecker({
      coolify: recordingCoolify(clock, reads),
      clock,
      logger: silentLogger(),
      periodMs: 10_000,
      perWindow: 30,
      windowMs: 60_000,
      onDrift: () => undefined,
      onPeriod: (s) => periods.push(s),
    });
    checker.setTargets(targets(200));
    checker.start();
    await run(clock, 180_000, 250);
    await checker.stop();
    expect(maxInWindow(reads.map((r) => r.at), 60_000)).toBeLessThanOrEqual(30);
    expect(reads.length).toBeGreaterThanOrEqual(85);
    // 200 services at 30 a minute: a full round takes 400 s.
    expect(periods.at(-1)).toBe(400);
  });

  it('brings the next check forward when many services arrive while it waits a long spacing', async () => {
    const clock = new ManualClock();
    const reads: { uuid: string; at: number }[] = [];
    const checker = new EnvChecker({
      coolify: recordingCoolify(clock, reads),
      clock,
      logger: silentLogger(),
      periodMs: 3_600_000,
      perWindow: 120,
      windowMs: 60_000,
      onDrift: () => undefined,
    });
    checker.setTargets(targets(1));
    checker.start();
    await run(clock, 1000);
    expect(reads).toHaveLength(0);
    checker.setTargets(targets(3600));
    // One service: an hour apart; 3,600 services: a second apart.
    await run(clock, 10_000);
    await checker.stop();
    expect(reads.length).toBeGreaterThanOrEqual(9);
    expect(reads.length).toBeLessThanOrEqual(11);
  });

  it('passes over services a reconcile read within the period, and checks them again after it', async () => {
    const clock = new ManualClock();
    const reads: { uuid: string; at: number }[] = [];
    const checker = new EnvChecker({ coolify: recordingCoolify(clock, reads), clock, logger: silentLogger(), periodMs: 10_000, perWindow: 100, windowMs: 60_000, onDrift: () => undefined });
    checker.setTargets(targets(10));
    // Adoption read the env vars of u0 to u7 a moment ago.
    for (let i = 0; i < 8; i++) checker.noteRead(`u${i}`);
    checker.start();
    await run(clock, 10_000);
    // One turn a second as before, but only the two services nobody read cost a call.
    expect(reads.map((r) => r.uuid)).toEqual(['u8', 'u9']);
    await run(clock, 10_000);
    await checker.stop();
    // In the next round every service has its turn again.
    expect(reads.map((r) => r.uuid)).toEqual(['u8', 'u9', 'u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9']);
  });

  it('checks nothing without targets and costs no timer', async () => {
    const clock = new ManualClock();
    const reads: { uuid: string; at: number }[] = [];
    const checker = new EnvChecker({
      coolify: recordingCoolify(clock, reads),
      clock,
      logger: silentLogger(),
      periodMs: 1000,
      perWindow: 30,
      onDrift: () => undefined,
    });
    checker.start();
    expect(clock.pending).toBe(0);
    await run(clock, 5000);
    expect(reads).toHaveLength(0);
    await checker.stop();
  });
});

describe('envDifferences', () => {
  const have = (value: string | null): CoolifyEnvVar[] => [{ uuid: 'e', key: 'CLOUDFREEDOM_API_KEY', value, isCoolify: false }];
  it('compares values as Coolify stores them (trimmed), so a blank around a value is no drift', () => {
    expect(envDifferences([{ key: 'CLOUDFREEDOM_API_KEY', value: 'router-key ' }], have('router-key'))).toEqual([]);
    expect(envDifferences([{ key: 'CLOUDFREEDOM_API_KEY', value: ' router-key' }], have('router-key'))).toEqual([]);
  });
  it('still reports a different, a missing and never a hidden value', () => {
    expect(envDifferences([{ key: 'CLOUDFREEDOM_API_KEY', value: 'new-key' }], have('router-key'))).toEqual(['CLOUDFREEDOM_API_KEY']);
    expect(envDifferences([{ key: 'OTHER', value: 'x' }], have('router-key'))).toEqual(['OTHER']);
    expect(envDifferences([{ key: 'CLOUDFREEDOM_API_KEY', value: 'x' }], have(null))).toEqual([]);
  });
  it('compares a fingerprint (digests, no values) exactly as the values it was made from', () => {
    const want = [
      { key: 'CLOUDFREEDOM_API_KEY', value: 'router-key ' },
      { key: 'TOKEN', value: 'a=b\nc' },
    ];
    const print = envFingerprint(want);
    expect(print).not.toContain('router-key');
    expect(print).not.toContain('a=b');
    const coolify: CoolifyEnvVar[] = [
      { uuid: 'e1', key: 'CLOUDFREEDOM_API_KEY', value: 'router-key', isCoolify: false },
      { uuid: 'e2', key: 'TOKEN', value: 'a=b\nc', isCoolify: false },
    ];
    expect(envDifferences(print, coolify)).toEqual([]);
    expect(envDifferences(print, [coolify[0]!, { ...coolify[1]!, value: 'a=b' }])).toEqual(['TOKEN']);
    expect(envDifferences(print, [coolify[1]!])).toEqual(['CLOUDFREEDOM_API_KEY']);
    expect(envDifferences(print, [{ ...coolify[0]!, value: null }, coolify[1]!])).toEqual([]);
    expect(envDifferences(envFingerprint([]), coolify)).toEqual([]);
  });
});
