/**
 * The engine under real faults (issue 9): a create Coolify refuses for a server that does not
 * exist fails that stack alone, backs off and escalates instead of looping between the tenant and
 * its stacks, while another tenant converges meanwhile; orphans already retiring cannot dilute the
 * orphan guard.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { formatServiceMarker, withMarkerTokens } from '../../src/coolify/markers.js';
import { createPlan, createStack, createTenant } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, changeOffline, simStatus, startHarness, type Harness } from './harness.js';

const LIMIT = 600;

describe('a tenant whose coolify_server_uuid names no server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      // Resyncs and env checks are not what is measured here: they run at their ordinary, slow pace.
      env: { COOLIFY_RATE_LIMIT_PER_MINUTE: String(LIMIT), RESYNC_INTERVAL_SECONDS: '30' },
      // The production retry schedule (1 s doubling), not the harness's quick one.
      deps: { backoff: { baseMs: 1000, maxMs: 300_000 }, envChecksPerMinute: 0 },
    });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('fails those stacks with the server named, at a tenth of the rate limit, while another tenant converges', async () => {
    const plan = await createPlan(h.admin, { max_stacks: 10 });
    const typo = await createTenant(h.admin, { plan: plan.id, coolify_server_uuid: 'no-such-server' });
    const stacks = [];
    for (let i = 0; i < 3; i++) stacks.push(await createStack(h.admin, { tenant_id: typo.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } }));
    const first = await waitFor(() => h.sim.requestLog.find((r) => r.method === 'POST' && r.path === '/api/v1/services' && r.status === 404), 20_000, {
      what: 'a create refused for the missing server',
    });
    const t0 = first.time;

    // Another tenant, created meanwhile, converges as usual.
    const healthy = await createTenant(h.admin, { plan: plan.id });
    const other = await createStack(h.admin, { tenant_id: healthy.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await h.waitStack(other.id, (r) => r.status === 'running', 30_000);

    for (const s of stacks) {
      const r = await h.waitStack(s.id, (x) => x.status === 'error', 20_000);
      expect(r.status_message).toContain('no-such-server');
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + 60_000 - Date.now())));
    const minute = h.sim.requestLog.filter((r) => r.time >= t0 && r.time < t0 + 60_000 && r.path.startsWith('/api/v1/'));
    expect(minute.length).toBeLessThanOrEqual(LIMIT / 10);
    // Each stack's create was tried a bounded number of times (3 before the hold-back).
    const refused = minute.filter((r) => r.method === 'POST' && r.path === '/api/v1/services' && r.status === 404);
    expect(refused.length).toBeLessThanOrEqual(3 * 3);
    for (const s of stacks) {
      const r = await h.stack(s.id);
      expect(r?.status).toBe('error');
      expect(String(r?.status_message)).toMatch(/no-such-server.*tried 3 times/);
      expect(h.servicesOf(s.id)).toHaveLength(0);
    }
    expect(h.servicesOf(other.id)).toHaveLength(1);
  }, 120_000);
});

describe('the orphan guard with many orphans already retiring', () => {
  let h: Harness;
  beforeAll(async () => {
    // Retiring orphans wait an hour: they stay in Coolify, stopped, for the whole test.
    h = await startHarness({ env: { DELETE_RETENTION_SECONDS: '3600' }, deps: { envChecksPerMinute: 0 } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('is not diluted: a restore that loses 3 of 10 live stacks is refused although 20 more services are retiring', async () => {
    const plan = await createPlan(h.admin, { max_stacks: 20 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stacks = [];
    for (let i = 0; i < 10; i++) stacks.push(await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } }));
    for (const s of stacks) await h.waitStack(s.id, (r) => r.status === 'running', 60_000);
    // Twenty orphans of stacks deleted long ago, marked an hour ago and stopped.
    const projectUuid = String((await h.tenant(tenant.id)).coolify_project_uuid);
    const markedAt = new Date(Date.now() - 3_600_000).toISOString();
    for (let i = 0; i < 20; i++) {
      const stackId = `gone${String(i).padStart(11, '0')}`;
      await h.coolify.createService({
        name: `old-${i}`,
        description: withMarkerTokens(formatServiceMarker({ stackId, tenantId: tenant.id }), { 'orphaned-at': markedAt }),
        projectUuid,
        environmentName: 'production',
        serverUuid: h.sim.serverUuid,
        composeYaml: 'services:\n  app:\n    image: nginx:1.27\n',
      });
    }
    await h.daemon!.resync();
    await h.daemon!.queue.onIdle();

    // A restore from a backup that lacks three of the ten live stacks (no delete events).
    const lost = stacks.slice(0, 3);
    await changeOffline(h, lost.map((s) => `app.delete(app.findRecordById('stacks', '${s.id}'));`).join('\n'));
    await waitFor(async () => /cf_guard_refusals_total\{guard="orphan-ratio"\} [1-9]/.test(await h.daemon!.metrics.text()), 30_000, {
      what: 'the orphan-ratio guard to refuse',
    });
    // Several resyncs later, the three services still run, unmarked.
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    for (const s of lost) {
      const [service] = h.servicesOf(s.id);
      expect(simStatus(service)).toBe('running');
      expect(service?.description).not.toContain('orphaned-at');
    }
    expect(h.logs.some((l) => l.includes('3 of 10 live managed services would become orphans'))).toBe(true);
  }, 120_000);
});

describe('creates whose answer is lost', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deps: { envChecksPerMinute: 0 } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  const creates = (path: string) => h.sim.requestLog.filter((r) => r.method === 'POST' && r.path === path);

  it('sends no second create of a service or a project that Coolify carries out after the answer was lost', async () => {
    // Coolify finishes both creates 3 s after the connection was lost: a lookup by marker in
    // between finds nothing.
    h.sim.faults.loseAnswerNext('POST projects', 1, 3_000);
    h.sim.faults.loseAnswerNext('POST services', 1, 3_000);
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    // telegram-bot has no public host: nothing but the marker tells the two creates apart.
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await h.waitStack(stack.id, (r) => String(r.status_message).includes('got no answer'), 30_000, 'the stack waiting for its lost create');
    await h.waitStack(stack.id, (r) => r.status === 'running', 60_000);
    expect(h.servicesOf(stack.id)).toHaveLength(1);
    expect(creates('/api/v1/services')).toHaveLength(1);
    expect(h.sim.state.projects.filter((p) => p.description.includes(`tenant=${tenant.id}`))).toHaveLength(1);
    expect(creates('/api/v1/projects')).toHaveLength(1);
    expect((await h.stack(stack.id))?.coolify_service_uuid).toBe(h.servicesOf(stack.id)[0]!.uuid);
  }, 90_000);

  it('keeps the unknown outcome across a restart: the next daemon waits for the service instead of creating one', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready');
    const before = creates('/api/v1/services').length;
    h.sim.faults.loseAnswerNext('POST services', 1, 4_000);
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await waitFor(() => h.sim.faults.pending === 0, 20_000, { what: 'the create whose answer is lost' });
    await h.stopDaemon();
    await h.start();
    await h.waitStack(stack.id, (r) => r.status === 'running', 60_000);
    expect(h.servicesOf(stack.id)).toHaveLength(1);
    expect(creates('/api/v1/services').length - before).toBe(1);
  }, 90_000);
});

describe('a service that never starts', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deps: { envChecksPerMinute: 0 } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('is started three times, then the stack is in error saying so and the starts are held back', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await h.waitStack(stack.id, (r) => r.status === 'running', 30_000);
    const uuid = h.servicesOf(stack.id)[0]!.uuid;
    // Its image now crashes on boot: every start ends in `exited`.
    h.sim.edits.failStarts(uuid);
    h.sim.edits.crashService(uuid);
    const since = Date.now();
    const r = await h.waitStack(stack.id, (x) => x.status === 'error', 30_000, 'the stack in error');
    expect(r.status_message).toMatch(/does not start the service: started 3 times, it still reports exited/);
    // Resyncs every 3 s and polls every second go on; the starts do not.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const starts = h.sim.requestLog.filter((x) => x.time >= since && x.method === 'POST' && x.path === `/api/v1/services/${uuid}/start`);
    expect(starts).toHaveLength(3);
    expect((await h.stack(stack.id))?.status).toBe('error');

    // An admin change (here: fixed image, record touched) resets it: the next start is sent at once.
    h.sim.edits.failStarts(uuid, false);
    await h.admin.collection('stacks').update(stack.id, { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN, BOT_NAME: 'fixed' } });
    await h.waitStack(stack.id, (x) => x.status === 'running', 30_000);
  }, 90_000);
});

describe('a stale admin save of an old service uuid', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { DELETE_RETENTION_SECONDS: '3600' }, deps: { envChecksPerMinute: 0 } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('never makes the keeper retire the running copy', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const running = await h.waitStack(stack.id, (r) => r.status === 'running', 30_000);
    const serving = String(running.coolify_service_uuid);
    // An old copy of the stack's service, stopped and already being retired as a duplicate.
    const old = await h.coolify.createService({
      name: 'old-copy',
      description: withMarkerTokens(formatServiceMarker({ stackId: stack.id, tenantId: tenant.id }), { 'orphaned-at': new Date().toISOString() }),
      projectUuid: String((await h.tenant(tenant.id)).coolify_project_uuid),
      environmentName: 'production',
      serverUuid: h.sim.serverUuid,
      composeYaml: 'services:\n  app:\n    image: nginx:1.27\n',
    });
    await h.daemon!.resync();
    await h.daemon!.queue.onIdle();
    // The admin UI writes back a copy of the record from when the old uuid was stored.
    await h.admin.collection('stacks').update(stack.id, { coolify_service_uuid: old.uuid });
    await h.waitStack(stack.id, (r) => r.coolify_service_uuid === serving, 20_000, 'the stored uuid corrected');
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const service = h.sim.state.service(serving);
    expect(simStatus(service)).toBe('running');
    expect(service?.description).not.toContain('orphaned-at');
    expect(h.sim.requestLog.some((r) => r.method === 'POST' && r.path === `/api/v1/services/${serving}/stop`)).toBe(false);
    expect((await h.stack(stack.id))?.status).toBe('running');
  }, 60_000);
});

describe('a PocketBase restart with 40 converged stacks', () => {
  let h: Harness;
  beforeAll(async () => {
    // The periodic resync is left for later: what is measured is the reconnect itself.
    h = await startHarness({ env: { RESYNC_INTERVAL_SECONDS: '120' }, deps: { envChecksPerMinute: 0 } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it("costs the resync's constant number of Coolify calls, not one per record", async () => {
    const plan = await createPlan(h.admin, { max_stacks: 10 });
    const stacks = [];
    for (let t = 0; t < 8; t++) {
      const tenant = await createTenant(h.admin, { plan: plan.id });
      for (let i = 0; i < 5; i++) stacks.push(await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } }));
    }
    for (const s of stacks) await h.waitStack(s.id, (r) => r.status === 'running', 120_000);
    await h.daemon!.queue.onIdle();
    // One resync before: the inventory's first pass reads each project's environments once.
    await h.daemon!.resync();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await h.daemon!.queue.onIdle();

    const resyncs = async () => Number(/^cf_resync_duration_seconds_count (\d+)/m.exec(await h.daemon!.metrics.text())?.[1] ?? 0);
    const before = await resyncs();
    const since = h.sim.requestLog.length;
    await h.pb.server.restart();
    // The feed reconnects, lists PocketBase and hands the listing to a drift resync.
    await waitFor(async () => (await resyncs()) > before, 30_000, { what: 'the resync after the reconnect' });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await h.daemon!.queue.onIdle();
    const calls = h.sim.requestLog.slice(since).filter((r) => r.path.startsWith('/api/v1/'));
    // GET /projects and GET /services (the resync's lists), whatever the number of records.
    expect(calls.map((r) => `${r.method} ${r.path}`).sort()).toEqual(['GET /api/v1/projects', 'GET /api/v1/services']);
    for (const s of stacks) expect((await h.stack(s.id))?.status).toBe('running');
  }, 240_000);
});
