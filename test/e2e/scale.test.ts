/**
 * A converged resync costs a constant number of Coolify calls and makes no writes, whether there
 * are 10 stacks or 200: the inventory is two list calls, and only keys that differ are enqueued.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPlan, createStack, createTenant } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, type Harness } from './harness.js';

describe('converged resync cost as stacks grow', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: { RECONCILE_CONCURRENCY: '8', RESYNC_INTERVAL_SECONDS: '3600', LOG_LEVEL: 'info', COOLIFY_RATE_LIMIT_PER_MINUTE: '100000' },
      sim: { lagMs: 0, rateLimit: { limit: 100_000 } },
      deps: { envChecksPerMinute: 0 },
    });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  async function grow(tenants: number, perTenant: number): Promise<string[]> {
    const plan = await createPlan(h.admin, { max_stacks: perTenant });
    const ids: string[] = [];
    for (let t = 0; t < tenants; t++) {
      const tenant = await createTenant(h.admin, { plan: plan.id });
      for (let i = 0; i < perTenant; i++) {
        ids.push((await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } })).id);
      }
    }
    return ids;
  }

  async function convergedResyncCalls(total: number): Promise<string[]> {
    await waitFor(
      async () => (await h.admin.collection('stacks').getFullList({ filter: 'status = "running"' })).length === total,
      120_000,
      { what: `${total} stacks running`, intervalMs: 250 },
    );
    await waitFor(async () => {
      await h.daemon!.queue.onIdle();
      return (await h.daemon!.resync())?.keys.size === 0;
    }, 60_000, { what: 'no differing keys' });
    // onIdle ignores timers: wait until no poll or retry is pending either, so the window below
    // holds only what the resync itself does (a poll firing meanwhile would add its own GET).
    const queue = h.daemon!.queue;
    await waitFor(async () => {
      await queue.onIdle();
      return queue.delayed === 0 && queue.depth === 0 && queue.inFlight === 0;
    }, 60_000, { what: 'queue quiet (no delayed polls)', intervalMs: 100 });
    const from = h.sim.requestLog.length;
    const plan = await h.daemon!.resync();
    await queue.onIdle();
    expect(plan?.keys.size).toBe(0);
    // The converged resync enqueued nothing, so nothing else could have run in the window.
    expect(queue.delayed + queue.depth + queue.inFlight).toBe(0);
    expect(plan?.managedServices).toBe(total);
    return h.sim.requestLog.slice(from).map((r) => `${r.method} ${r.path}`);
  }

  it('makes the same two list calls and no write with 10 and with 200 stacks', async () => {
    await grow(1, 10);
    const small = await convergedResyncCalls(10);
    // The bulk is written while the daemon is down (as after an import); its restart finds the
    // work through the feed's first resync.
    await h.stopDaemon();
    await grow(10, 19);
    await h.start();
    const large = await convergedResyncCalls(200);
    expect(small.sort()).toEqual(['GET /api/v1/projects', 'GET /api/v1/services']);
    expect(large.sort()).toEqual(small);
  }, 240_000);
});
