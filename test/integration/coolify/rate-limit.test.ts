import { afterEach, describe, expect, it } from '@jest/globals';
import { eventually, startSimWithClient, type SimWithClient } from '../../helpers/coolify-sim.js';

/** Largest number of log entries inside any half-open window [t, t + windowMs). */
function maxInAnyWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while ((sorted[i] ?? 0) - (sorted[j] ?? 0) >= windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

describe('rate limiting against the simulator', () => {
  let t: SimWithClient | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('a burst of 100 calls never puts more than the limit into any rolling window of the request log', async () => {
    // 30 per "minute", with the minute shortened to one second on both sides.
    t = await startSimWithClient({ limit: 30, windowMs: 1_000, sim: { rateLimit: { limit: 30, windowMs: 1_000 } } });
    const { client, sim } = t;
    const { uuid } = await client.createProject({ name: 'hammered', description: '' });
    const calls = Array.from({ length: 100 }, (_, i) =>
      i % 3 === 0 ? client.listProjects() : i % 3 === 1 ? client.getProject(uuid) : client.listServices(),
    );
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const log = sim.requestLog.filter((e) => e.path.startsWith('/api/v1/'));
    expect(log).toHaveLength(101);
    expect(log.filter((e) => e.status === 429)).toEqual([]);
    expect(maxInAnyWindow(log.map((e) => e.time), 1_000)).toBeLessThanOrEqual(30);
  });

  it('a 429 burst is waited out: Retry-After pauses every caller, then all calls succeed', async () => {
    let second: Promise<unknown> | undefined;
    t = await startSimWithClient({
      client: {
        onResponse: (info) => {
          // Started once the first 429 has set the pause (after this attempt's microtasks).
          if (info.status === 429 && !second) setImmediate(() => (second = t?.client.listServices()));
        },
      },
    });
    const { client, sim } = t;
    sim.faults.rateLimitNext(2, 1);
    expect(await client.listProjects()).toEqual([]);
    expect(await eventually(() => second)).toEqual([]);
    const log = sim.requestLog;
    // After the first pause both calls go out together; one meets the second 429 and waits again.
    expect(log.map((e) => e.status)).toEqual([429, 429, 200, 200]);
    const [r1, r2, , last] = log;
    expect((r2?.time ?? 0) - (r1?.time ?? 0)).toBeGreaterThanOrEqual(1_000);
    expect((last?.time ?? 0) - (r2?.time ?? 0)).toBeGreaterThanOrEqual(1_000);
  });

  it('the simulator answers its own limit with Laravel’s 429 and rate headers', async () => {
    t = await startSimWithClient({ sim: { rateLimit: { limit: 2, windowMs: 60_000 } } });
    const { sim } = t;
    const h = { Authorization: `Bearer ${sim.token}`, Accept: 'application/json' };
    const a = await fetch(`${sim.url}/api/v1/projects`, { headers: h });
    expect(a.headers.get('x-ratelimit-limit')).toBe('2');
    expect(a.headers.get('x-ratelimit-remaining')).toBe('1');
    await fetch(`${sim.url}/api/v1/projects`, { headers: h });
    const c = await fetch(`${sim.url}/api/v1/projects`, { headers: h });
    expect(c.status).toBe(429);
    expect(await c.json()).toEqual({ message: 'Too Many Attempts.' });
    expect(Number(c.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(c.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    // Without Accept: application/json Laravel renders its HTML error page.
    const html = await fetch(`${sim.url}/api/v1/projects`, { headers: { Authorization: h.Authorization } });
    expect(html.status).toBe(429);
    expect(html.headers.get('content-type')).toContain('text/html');
  });
});
