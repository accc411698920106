/**
 * The daemon as a manager of runnables: the HTTP server answers /healthz and /metrics before
 * PocketBase sign-in succeeds, /readyz names what it waits for, and stop() completes within the
 * one shutdown deadline even while reconciles wait on the rate limiter.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Daemon } from '../../src/engine/daemon.js';
import { createPlan, createStack, createTenant } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, type Harness } from './harness.js';

describe('HTTP before PocketBase', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ startDaemon: false });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('answers /healthz and /metrics while PocketBase is down, and /readyz says it is signing in', async () => {
    await h.pb.server.stop();
    let url: string | undefined;
    const starting = h.start({ onListening: (u) => (url = u) });
    await waitFor(() => url, 10_000, { what: 'the HTTP server' });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^cf_leader 0$/m);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { role: string; failing: { check: string; message: string }[] };
    expect(body.role).toBe('standby');
    expect(body.failing).toEqual(expect.arrayContaining([expect.objectContaining({ check: 'pocketbase', message: expect.stringContaining('signing in') })]));

    await h.pb.server.start();
    const daemon = await starting;
    expect(daemon.role()).toBe('leader');
    expect(daemon.runnables()).toEqual(['http', 'queue-workers', 'change-feed', 'drift-resync', 'env-checks', 'event-pruning', 'coolify-access-check', 'leader-election']);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^cf_leader 1$/m);
  }, 60_000);
});

describe('shutdown while calls wait on the rate limiter', () => {
  let h: Harness;
  beforeAll(async () => {
    // Ten calls a minute: a tenant with eight new stacks needs far more, so most reconciles wait.
    h = await startHarness({ env: { COOLIFY_RATE_LIMIT_PER_MINUTE: '10' }, deps: { envChecksPerMinute: 0 } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('stops within 30 s and sends nothing afterwards', async () => {
    const plan = await createPlan(h.admin, { max_stacks: 10 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    for (let i = 0; i < 8; i++) await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const daemon = h.daemon as Daemon;
    await waitFor(() => h.sim.requestLog.filter((r) => r.path.startsWith('/api/v1/')).length >= 10, 30_000, { what: 'the budget spent' });
    await waitFor(() => daemon.queue.inFlight >= 2, 10_000, { what: 'reconciles waiting on the limiter' });
    const started = Date.now();
    await h.stopDaemon();
    const took = Date.now() - started;
    expect(took).toBeLessThan(30_000);
    const after = h.sim.requestLog.length;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(h.sim.requestLog.slice(after).filter((r) => r.path.startsWith('/api/v1/'))).toEqual([]);
  }, 90_000);
});
