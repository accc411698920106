/**
 * Reconcile timeout (reconciler-lessons 13): a reconcile stuck on a Coolify call that does not
 * answer is aborted at the queue's timeout, counted as a failed reconcile and retried with
 * backoff, and it does not hold the worker: with one worker, another stack still converges while
 * the stuck request is still unanswered.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoolifyClient } from '../../src/coolify/client.js';
import { RateLimiter } from '../../src/coolify/rate-limiter.js';
import { systemClock } from '../../src/clock.js';
import { createPlan, createStack, createTenant } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, simStatus, startHarness, type Harness } from './harness.js';

/** Value of one sample line of the Prometheus text format, 0 when absent. */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('reconcile timeout', () => {
  const STUCK_MS = 8_000;
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ startDaemon: false, env: { RECONCILE_CONCURRENCY: '1' } });
    // A per-attempt HTTP timeout longer than the stuck request, so only the reconcile timeout can
    // release the worker.
    const coolify = new CoolifyClient({
      baseUrl: h.sim.url,
      token: h.sim.token,
      limiter: new RateLimiter({ limit: 600, clock: systemClock }),
      clock: systemClock,
      logger: h.logger,
      timeoutMs: 30_000,
      deadlineMs: 60_000,
    });
    await h.start({ coolify, reconcileTimeoutMs: 1_500 });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('aborts a stuck reconcile, counts it as failed, retries it, and other keys proceed', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const a = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const b = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const ra = await h.waitStack(a.id, (r) => r.status === 'running');
    const rb = await h.waitStack(b.id, (r) => r.status === 'running');
    const uuidA = String(ra.coolify_service_uuid);
    const uuidB = String(rb.coolify_service_uuid);
    const metricsBefore = await (await fetch(`${h.daemon!.url}/metrics`)).text();

    // The stop is the one call A's reconcile makes (its status comes from the shared view).
    h.sim.faults.delayNext(`POST services/${uuidA}/stop`, STUCK_MS);
    await h.admin.collection('stacks').update(a.id, { desired_status: 'stopped' });
    // A's reconcile has sent the request the simulator now holds.
    await waitFor(() => h.sim.faults.pending === 0, 10_000, { what: 'stuck request sent' });
    const heldAt = Date.now();
    await h.admin.collection('stacks').update(b.id, { desired_status: 'stopped' });

    // B needs the only worker, which A's reconcile holds until it is aborted: B cannot converge
    // within this bound if the worker waited for the held request.
    await h.waitStack(b.id, (r) => r.status === 'stopped', STUCK_MS - 2_000, 'stack B stopped');
    await waitFor(() => simStatus(h.sim.state.service(uuidB)) === 'exited', 10_000, { what: 'B exited' });

    // A's retry finds Coolify answering again and converges.
    await h.waitStack(a.id, (r) => r.status === 'stopped', 10_000, 'stack A stopped');
    await waitFor(() => simStatus(h.sim.state.service(uuidA)) === 'exited', 10_000, { what: 'A exited' });

    const metrics = await (await fetch(`${h.daemon!.url}/metrics`)).text();
    const errors = (t: string) => sample(t, 'cf_reconciles_total', 'kind="stack",result="error"');
    expect(errors(metrics)).toBeGreaterThan(errors(metricsBefore));
    const failure = h.logs.find((l) => l.includes('reconcile failed; retrying with backoff') && l.includes(`stack:${a.id}`));
    expect(failure).toContain('timed out after 1500 ms');
    expect(h.servicesOf(a.id)).toHaveLength(1);

    // The held request is answered at last, to nobody: A stays as its retry left it.
    const isHeld = (r: { method: string; path: string; time: number }) =>
      r.method === 'POST' && r.path === `/api/v1/services/${uuidA}/stop` && r.time >= heldAt + STUCK_MS - 50;
    await waitFor(() => h.sim.requestLog.some(isHeld), STUCK_MS + 5_000, { what: 'held request answered' });
    await h.daemon!.resync();
    expect((await h.stack(a.id))?.status).toBe('stopped');
    expect(simStatus(h.sim.state.service(uuidA))).toBe('exited');
    expect(h.servicesOf(a.id)).toHaveLength(1);
  });
});
