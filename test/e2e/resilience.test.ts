/**
 * Resilience: Coolify 500s and 429 bursts are waited out with exactly one service per stack; the
 * daemon's Coolify calls never exceed the limiter's budget in any rolling window; a graceful stop
 * finishes the reconcile in flight; and no secret reaches logs, events or status messages.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseMarker } from '../../src/coolify/markers.js';
import { createPlan, createStack, createTenant, createTenantWithStack } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, type Harness } from './harness.js';

/** Largest number of requests inside any window of `windowMs` (a sliding check over the log). */
function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= windowMs) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

describe('resilience against Coolify failures, with a budgeted rate', () => {
  const WINDOW_MS = 6_000;
  const LIMIT = 30;
  let h: Harness;
  beforeAll(async () => {
    // The daemon builds its own client and limiter from COOLIFY_RATE_LIMIT_PER_MINUTE (and the
    // env-check budget of limit/4 from it); only the window is scaled down, so a short test can
    // fill it many times over.
    h = await startHarness({ env: { COOLIFY_RATE_LIMIT_PER_MINUTE: String(LIMIT) }, deps: { rateWindowMs: WINDOW_MS } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('waits out 500s and 429 bursts and ends with exactly one service per stack', async () => {
    h.sim.faults.failNext('POST services', 2);
    h.sim.faults.failNext('GET services', 2);
    h.sim.faults.rateLimitNext(6, 1);
    const plan = await createPlan(h.admin, { max_stacks: 20 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stacks = [];
    for (let i = 0; i < 8; i++) stacks.push(await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } }));
    for (const s of stacks) await h.waitStack(s.id, (r) => r.status === 'running', 60_000);
    for (const s of stacks) expect(h.servicesOf(s.id)).toHaveLength(1);
    expect(h.sim.requestLog.some((r) => r.status === 500)).toBe(true);
    expect(h.sim.requestLog.some((r) => r.status === 429)).toBe(true);
    const failed = (await h.events()).filter((e) => e.outcome === 'error' && e.action === 'create_service');
    expect(failed.length).toBeGreaterThanOrEqual(1);
  });

  it('never sends more calls than COOLIFY_RATE_LIMIT_PER_MINUTE in any rolling window', async () => {
    // Its own load: a tenant with ten stacks at once, far more calls than one window allows.
    const since = Date.now();
    const plan = await createPlan(h.admin, { max_stacks: 20 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stacks = [];
    for (let i = 0; i < 10; i++) stacks.push(await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } }));
    for (const s of stacks) await h.waitStack(s.id, (r) => r.status === 'running', 90_000);
    const times = h.sim.requestLog.filter((r) => r.time >= since && r.path.startsWith('/api/v1/')).map((r) => r.time);
    expect(times.length).toBeGreaterThan(LIMIT);
    // Over the whole run, too (the previous test's retries and 429s included).
    expect(maxInWindow(times, WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
    const all = h.sim.requestLog.filter((r) => r.path.startsWith('/api/v1/')).map((r) => r.time);
    expect(maxInWindow(all, WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
  });

  it("logs each reconcile's lines with its key and a reconcile id", async () => {
    const { stack } = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    await h.waitStack(stack.id, (r) => r.status === 'running', 60_000);
    const key = `stack:${stack.id}`;
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const created = lines.filter((l) => l.action === 'create_service' && l.subject === key);
    expect(created).toHaveLength(1);
    expect(created[0]!.key).toBe(key);
    expect(typeof created[0]!.reconcileId).toBe('number');
    // Every line of that run carries the same key, from its start to the audit of its writes.
    const run = lines.filter((l) => l.reconcileId === created[0]!.reconcileId);
    expect(run.some((l) => l.message === 'reconcile started')).toBe(true);
    for (const l of run) expect(l.key).toBe(key);
  });

  it('finishes the reconcile in flight on a graceful stop', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready');
    h.sim.faults.delayNext('POST services', 2_000);
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    // The stack's create has reached the simulator, which holds it.
    await waitFor(() => h.sim.faults.pending === 0, 10_000, { what: 'create held' });
    expect(h.daemon!.queue.inFlight).toBeGreaterThan(0);
    await h.stopDaemon();
    // stop() resolved only after the create completed and its uuid was written back.
    const services = h.servicesOf(stack.id);
    expect(services).toHaveLength(1);
    expect((await h.stack(stack.id))?.coolify_service_uuid).toBe(services[0]!.uuid);
    await h.start();
    await h.waitStack(stack.id, (r) => r.status === 'running', 30_000);
    expect(h.servicesOf(stack.id)).toHaveLength(1);
  });

  it('keeps every secret out of logs, events and status messages', async () => {
    const bad = await createTenantWithStack(h.admin, {
      stack: { params: { TELEGRAM_BOT_TOKEN: 'Sup3rSecretButMalformedToken' } },
    });
    await h.waitStack(bad.stack.id, (r) => r.status === 'error', 20_000);
    const secrets = [BOT_TOKEN, 'Sup3rSecretButMalformedToken', h.pb.server.password, h.sim.token, h.sim.token.split('|')[1]!];
    for (const t of await h.admin.collection('tenants').getFullList()) secrets.push(String(t.router_api_key));
    const events = JSON.stringify(await h.events());
    const statuses = JSON.stringify((await h.admin.collection('stacks').getFullList()).map((s) => [s.status_message]));
    const logs = h.logs.join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    for (const secret of secrets) {
      expect(logs).not.toContain(secret);
      expect(events).not.toContain(secret);
      expect(statuses).not.toContain(secret);
    }
    const metrics = await fetch(`${h.daemon!.url}/metrics`).then((r) => r.text());
    for (const secret of secrets) expect(metrics).not.toContain(secret);
  });
});

describe('a deletion cancelled and requested again while the daemon did not look', () => {
  const RETENTION_MS = 4_000;
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { DELETE_RETENTION_SECONDS: String(RETENTION_MS / 1000) } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('gets a full retention from the second request, not the first deadline', async () => {
    const { stack } = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    const uuid = String((await h.waitStack(stack.id, (r) => r.status === 'running')).coolify_service_uuid);
    const extra = () => parseMarker(h.sim.state.service(uuid)?.description)?.extra ?? {};
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'deleted' });
    await waitFor(() => extra()['delete-seen'], 10_000, { what: 'the deletion recorded on the service' });
    const first = extra()['delete-after']!;
    // The daemon's own writes do not count as a change: another pass keeps the deadline.
    await h.daemon!.resync();
    await h.daemon!.queue.onIdle();
    expect(extra()['delete-after']).toBe(first);

    await h.stopDaemon();
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'running' });
    const again = Date.now();
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'deleted' });
    await waitFor(() => Date.now() > Date.parse(first) + 500, RETENTION_MS + 5_000, { what: 'the first deadline to pass', intervalMs: 100 });
    await h.start();

    const second = await waitFor(() => (extra()['delete-after'] !== first ? extra()['delete-after'] : undefined), 10_000, {
      what: 'a new deadline on the service',
    });
    expect(Date.parse(second)).toBeGreaterThanOrEqual(again + RETENTION_MS);
    await waitFor(async () => (await h.stack(stack.id)) === null, 20_000, { what: 'stack record deleted' });
    const deletes = h.sim.requestLog.filter((r) => r.method === 'DELETE' && r.path === `/api/v1/services/${uuid}`);
    expect(deletes.length).toBeGreaterThanOrEqual(1);
    expect(deletes[0]!.time).toBeGreaterThanOrEqual(Date.parse(second));
    const scheduled = (await h.events(`stack:${stack.id}`)).filter((e) => e.action === 'schedule_delete').map((e) => String(e.message));
    expect(scheduled).toHaveLength(2);
    expect(scheduled[1]).toContain('the retention starts over');
  });
});
