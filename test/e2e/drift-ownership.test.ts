/**
 * Drift correction and ownership: hand edits in Coolify are undone by the periodic resync (a
 * crashed service, a compose or env var edited by hand, a service deleted by hand), stale admin
 * saves of daemon fields are corrected without a second service, and resources without the
 * daemon's marker are never touched.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { formatServiceMarker, parseMarker } from '../../src/coolify/markers.js';
import { adminSave, createPlan, createTenant, createTenantWithStack, createStack } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, simStatus, type Harness } from './harness.js';

describe('drift and ownership', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.cleanup();
  });

  async function runningStack() {
    const created = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    const s = await h.waitStack(created.stack.id, (r) => r.status === 'running');
    return { ...created, uuid: String(s.coolify_service_uuid) };
  }

  it('starts a crashed service again', async () => {
    const { stack, uuid } = await runningStack();
    h.sim.edits.crashService(uuid);
    await waitFor(() => simStatus(h.sim.state.service(uuid)) === 'running', 20_000, { what: 'service restarted' });
    await h.waitStack(stack.id, (r) => r.status === 'running');
    const starts = (await h.events(`stack:${stack.id}`)).filter((e) => e.action === 'start');
    expect(starts.length).toBeGreaterThanOrEqual(1);
  });

  it('reports a degraded service as degraded', async () => {
    const { stack, uuid } = await runningStack();
    h.sim.edits.crashService(uuid, 'degraded');
    const s = await h.waitStack(stack.id, (r) => r.status === 'degraded', 20_000);
    expect(String(s.status_message)).toMatch(/degraded/);
  });

  it('re-applies a compose edited by hand in Coolify', async () => {
    const { stack, uuid } = await runningStack();
    const original = load(h.sim.state.service(uuid)!.composeRaw);
    h.sim.edits.editCompose(uuid, 'services:\n  bot:\n    image: attacker/miner:latest\n    privileged: true\n');
    await waitFor(() => !h.sim.state.service(uuid)!.composeRaw.includes('miner'), 20_000, { what: 'compose restored' });
    expect(load(h.sim.state.service(uuid)!.composeRaw)).toEqual(original);
    const update = await waitFor(async () => (await h.events(`stack:${stack.id}`)).find((e) => e.action === 'update_service'), 5_000);
    expect(String(update.message)).toMatch(/compose differs/);
    await h.waitStack(stack.id, (r) => r.status === 'running');
    expect(h.servicesOf(stack.id)).toHaveLength(1);
  });

  it('re-applies an env var edited by hand (budgeted env checks)', async () => {
    const { tenant, stack, uuid } = await runningStack();
    h.sim.edits.setEnv(uuid, 'CLOUDFREEDOM_API_KEY', 'hand-edited-wrong-key');
    await waitFor(
      () => h.sim.state.service(uuid)?.envs.find((e) => e.key === 'CLOUDFREEDOM_API_KEY')?.value === tenant.router_api_key,
      20_000,
      { what: 'env var restored' },
    );
    await h.waitStack(stack.id, (r) => r.status === 'running');
  });

  it('recreates a service deleted by hand, exactly once', async () => {
    const { stack, uuid } = await runningStack();
    h.sim.edits.deleteService(uuid);
    const s = await h.waitStack(stack.id, (r) => r.status === 'running' && r.coolify_service_uuid !== uuid, 20_000);
    const services = h.servicesOf(stack.id);
    expect(services).toHaveLength(1);
    expect(services[0]?.uuid).toBe(s.coolify_service_uuid);
  });

  it('adopts the service after a stale admin save emptied the stored uuid, never creating a second one', async () => {
    const { stack, uuid } = await runningStack();
    const stale = await h.stack(stack.id);
    // The admin UI writes back the whole record with daemon fields as they were when the page loaded.
    await adminSave(h.admin, 'stacks', { ...stale!, coolify_service_uuid: '', status: 'pending', delete_after: '' });
    const s = await h.waitStack(stack.id, (r) => r.coolify_service_uuid === uuid && r.status === 'running', 15_000);
    expect(s.status).toBe('running');
    expect(h.servicesOf(stack.id)).toHaveLength(1);
  });

  it('never touches a service without its marker: a stored uuid pointing at a foreign service is refused', async () => {
    const foreign = h.sim.edits.createForeignService({ name: 'hand-made', description: 'made by a human' });
    h.sim.edits.setStatus(foreign.uuid, 'running:healthy');
    const before = JSON.stringify({ d: foreign.description, c: foreign.composeRaw, s: foreign.subs.map((x) => x.status) });
    const { tenant, stack } = await runningStack();
    // An admin pastes a uuid that is not ours into the daemon field.
    const hijack = await createStack(h.admin, {
      tenant_id: tenant.id,
      params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN },
      desired_status: 'stopped',
      coolify_service_uuid: foreign.uuid,
    });
    const s = await h.waitStack(hijack.id, (r) => r.status === 'error', 15_000);
    expect(s.status_message).toBe(`service ${foreign.uuid} is not managed by cf-reconciler`);
    const refuse = (await h.events(`stack:${hijack.id}`)).find((e) => e.action === 'refuse');
    expect(refuse?.coolify_uuid).toBe(foreign.uuid);

    // Deleting it does not delete the foreign service either. The refusal is already recorded, so the
    // proof waits for other evidence that the daemon handled the deletion request: its reconcile
    // reads the stored uuid again after the update, and the queue then drains.
    const seen = (await h.events(`stack:${hijack.id}`)).length;
    const from = h.sim.requestLog.length;
    await h.admin.collection('stacks').update(hijack.id, { desired_status: 'deleted' });
    await waitFor(
      async () =>
        (await h.events(`stack:${hijack.id}`)).length > seen ||
        h.sim.requestLog.slice(from).some((r) => r.method === 'GET' && r.path === `/api/v1/services/${foreign.uuid}`),
      15_000,
      { what: 'the daemon to act on the deletion request' },
    );
    await h.daemon!.queue.onIdle();
    await h.daemon!.resync();
    await h.daemon!.queue.onIdle();
    expect((await h.stack(hijack.id))?.status).toBe('error');
    expect(h.sim.requestLog.filter((r) => r.path.includes(foreign.uuid) && r.method !== 'GET')).toEqual([]);
    const after = h.sim.state.service(foreign.uuid);
    expect(after?.deletionQueued).toBe(false);
    expect(after).toBeDefined();
    expect(JSON.stringify({ d: after!.description, c: after!.composeRaw, s: after!.subs.map((x) => x.status) })).toBe(before);
    expect(h.servicesOf(stack.id)).toHaveLength(1);
    // Foreign projects are not adopted or deleted either.
    expect(h.sim.state.project(h.sim.state.projectOfService(foreign)!.uuid)).toBeDefined();
  });

  it('keeps the running service of two with the same marker and retires the other like an orphan, never deleting it at once', async () => {
    const { tenant, stack, uuid } = await runningStack();
    const projectUuid = String((await h.tenant(tenant.id)).coolify_project_uuid);
    // A hand-made copy carrying the stack's marker (exited: it holds no live data).
    const copy = h.sim.edits.createForeignService({ projectUuid, description: formatServiceMarker({ stackId: stack.id, tenantId: tenant.id }) });
    expect(simStatus(copy)).toBe('exited');
    // A stale admin save empties the stored uuid, so the service is looked up by marker.
    const stale = await h.stack(stack.id);
    await adminSave(h.admin, 'stacks', { ...stale!, coolify_service_uuid: '' });

    const marked = await waitFor(() => parseMarker(h.sim.state.service(copy.uuid)?.description)?.extra['orphaned-at'], 10_000, {
      what: 'duplicate marked',
    });
    const s = await h.waitStack(stack.id, (r) => r.coolify_service_uuid === uuid && r.status === 'running', 10_000);
    expect(s.coolify_service_uuid).toBe(uuid);
    expect(simStatus(h.sim.state.service(uuid))).toBe('running');
    expect(h.sim.state.service(copy.uuid)?.deletionQueued).toBe(false);
    const dup = (await h.events(`stack:${stack.id}`)).find((e) => e.action === 'duplicate');
    expect(dup?.coolify_uuid).toBe(copy.uuid);

    // After the retention the copy goes; the kept service stays.
    await waitFor(() => h.sim.state.service(copy.uuid) === undefined, 20_000, { what: 'duplicate deleted' });
    // When Coolify received the DELETE, not when the test noticed it.
    const deletes = h.sim.requestLog.filter((r) => r.method === 'DELETE' && r.path === `/api/v1/services/${copy.uuid}`);
    expect(deletes.length).toBeGreaterThanOrEqual(1);
    expect(deletes[0]!.time).toBeGreaterThanOrEqual(Date.parse(marked) + h.config.deleteRetentionSeconds * 1000);
    expect(h.servicesOf(stack.id).map((x) => x.uuid)).toEqual([uuid]);
    expect(simStatus(h.sim.state.service(uuid))).toBe('running');
  });

  it('never creates a service in a project without the tenant marker, even when the tenant record points at one', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const ready = await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready');
    const foreign = h.sim.edits.createForeignProject({ name: 'someone elses project' });
    // An admin (or a stale save) points the tenant at a project that is not the tenant's.
    await adminSave(h.admin, 'tenants', ready, { coolify_project_uuid: foreign.uuid });
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });

    const s = await h.waitStack(stack.id, (r) => r.status === 'error', 15_000);
    expect(String(s.status_message)).toContain(`project ${foreign.uuid} is not managed by cf-reconciler`);
    expect(h.servicesOf(stack.id)).toHaveLength(0);
    expect(h.sim.state.servicesOfProject(foreign.id)).toHaveLength(0);
    const refuse = (await h.events(`stack:${stack.id}`)).find((e) => e.action === 'refuse');
    expect(refuse?.coolify_uuid).toBe(foreign.uuid);

    // Pointing the tenant back at its own project lets the stack converge there.
    await h.admin.collection('tenants').update(tenant.id, { coolify_project_uuid: ready.coolify_project_uuid });
    await h.waitStack(stack.id, (r) => r.status === 'running', 20_000);
    expect(h.sim.state.projectOfService(h.servicesOf(stack.id)[0]!)?.uuid).toBe(ready.coolify_project_uuid);
  });

  it('gives a stack whose update Coolify refuses (domain taken) status error naming the domain, and waits for a change', async () => {
    const plan = await createPlan(h.admin, { allowed_templates: ['openclaw-agent'], cpu_limit: 4, memory_mb: 8192 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const params = { AUTH_PASSWORD: 'a-long-password-123', OPENCLAW_GATEWAY_TOKEN: 'gw0123456789abcdef0123456789abcdef' };
    const stack = await createStack(h.admin, { tenant_id: tenant.id, template: 'openclaw-agent', params });
    const running = await h.waitStack(stack.id, (r) => r.status === 'running', 20_000);
    const uuid = String(running.coolify_service_uuid);
    const taken = `shop.${String(tenant.domain)}`;
    h.sim.edits.createForeignService({ name: 'hand-made-shop', urls: { web: `https://${taken}` } });

    await h.admin.collection('stacks').update(stack.id, { domains: [taken] });
    const s = await h.waitStack(stack.id, (r) => r.status === 'error', 15_000);
    expect(String(s.status_message)).toContain(taken);
    expect(String(s.status_message)).toContain('hand-made-shop');
    const failed = (await h.events(`stack:${stack.id}`)).filter((e) => e.action === 'update_service' && e.outcome === 'error');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(h.servicesOf(stack.id).map((x) => x.uuid)).toEqual([uuid]);

    // Choosing a free domain is enough.
    await h.admin.collection('stacks').update(stack.id, { domains: [`free.${String(tenant.domain)}`] });
    await h.waitStack(stack.id, (r) => r.status === 'running', 20_000);
  });

  it('makes no Coolify write when the system has converged', async () => {
    await runningStack();
    await waitFor(async () => (await h.daemon!.resync())?.keys.size === 0, 20_000, { what: 'converged' });
    h.daemon!.envChecker.setTargets([]);
    const from = h.sim.requestLog.length;
    const plan = await h.daemon!.resync();
    expect(plan?.keys.size).toBe(0);
    const calls = h.sim.requestLog.slice(from);
    // Every write counts, env writes (POST/PATCH/DELETE …/envs) included.
    expect(calls.filter((r) => r.method !== 'GET')).toEqual([]);
    const reads = calls.filter((r) => !r.path.endsWith('/envs'));
    expect(reads.map((r) => `${r.method} ${r.path}`).sort()).toEqual(['GET /api/v1/projects', 'GET /api/v1/services']);
  });
});
