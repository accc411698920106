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
