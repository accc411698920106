/**
 * The everyday lifecycle against a real PocketBase and the Coolify simulator: creation, suspend and
 * resume, stop and start, deletion with retention (and its cancellation), tenant deletion down to
 * the project, and an invalid stack that errors while the others converge.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseMarker } from '../../src/coolify/markers.js';
import { createPlan, createStack, createTenant, createTenantWithStack } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, simStatus, type Harness } from './harness.js';

describe('stack and tenant lifecycle', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { DELETE_RETENTION_SECONDS: '4' } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  /**
   * Proof that "nothing happened by `deadlineMs`": waits until the deadline has passed, then forces
   * a resync and waits for every reconcile it queued, so a pass after the deadline has run.
   */
  async function passAfter(deadlineMs: number): Promise<void> {
    await waitFor(() => Date.now() > deadlineMs, deadlineMs - Date.now() + 10_000, { what: 'the deadline to pass', intervalMs: 100 });
    await h.daemon!.resync();
    await h.daemon!.queue.onIdle();
  }

  it('creates the tenant project and the stack service, and the stack reaches running', async () => {
    const { tenant, stack } = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    const s = await h.waitStack(stack.id, (r) => r.status === 'running', 20_000, 'stack running');
    const t = await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready');

    const project = h.sim.state.project(String(t.coolify_project_uuid));
    expect(project?.name).toBe(`cf-tenant-${String(tenant.slug)}`);
    expect(parseMarker(project?.description)?.tenantId).toBe(tenant.id);

    const services = h.servicesOf(stack.id);
    expect(services).toHaveLength(1);
    const svc = services[0]!;
    expect(svc.uuid).toBe(s.coolify_service_uuid);
    expect(svc.name).toBe(`${String(tenant.slug)}-${String(stack.name)}`);
    expect(simStatus(svc)).toBe('running');
    expect(h.sim.state.projectOfService(svc)?.uuid).toBe(project?.uuid);
    // Router variables and secret params reach the service as env vars, never as compose text.
    const env = new Map(svc.envs.map((e) => [e.key, e.value]));
    expect(env.get('CLOUDFREEDOM_API_KEY')).toBe(tenant.router_api_key);
    expect(env.get('CLOUDFREEDOM_ROUTER_BASE_URL')).toBe('https://router.cloudfreedom.test');
    expect(env.get('TELEGRAM_BOT_TOKEN')).toBe(BOT_TOKEN);
    expect(svc.composeRaw).not.toContain(BOT_TOKEN);
    expect(svc.composeRaw).not.toContain(String(tenant.router_api_key));
    expect(s.applied_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(s.template_version).toBe('1.0.0');

    const actions = (await h.events(`stack:${stack.id}`)).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['create_service', 'set_env', 'deploy']));
    expect((await h.events(`tenant:${tenant.id}`)).map((e) => e.action)).toContain('create_project');
  });

  it('suspends every service of a suspended tenant and starts them again on reactivation', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const a = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const b = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await h.waitStack(a.id, (r) => r.status === 'running');
    await h.waitStack(b.id, (r) => r.status === 'running');

    await h.admin.collection('tenants').update(tenant.id, { status: 'suspended' });
    for (const s of [a, b]) {
      await h.waitStack(s.id, (r) => r.status === 'suspended' && r.status_message === '', 15_000, 'stack suspended');
      expect(simStatus(h.servicesOf(s.id)[0])).toBe('exited');
    }
    await h.waitTenant(tenant.id, (r) => r.sync_status === 'suspended');

    await h.admin.collection('tenants').update(tenant.id, { status: 'active' });
    for (const s of [a, b]) {
      await h.waitStack(s.id, (r) => r.status === 'running', 15_000, 'stack running again');
      expect(simStatus(h.servicesOf(s.id)[0])).toBe('running');
      expect(h.servicesOf(s.id)).toHaveLength(1);
    }
    await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready');
  });

  it('stops a stack whose desired status is stopped and starts it again', async () => {
    const { stack } = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    await h.waitStack(stack.id, (r) => r.status === 'running');
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
    await h.waitStack(stack.id, (r) => r.status === 'stopped' && r.status_message === '');
    expect(simStatus(h.servicesOf(stack.id)[0])).toBe('exited');
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'running' });
    await h.waitStack(stack.id, (r) => r.status === 'running');
    expect(simStatus(h.servicesOf(stack.id)[0])).toBe('running');
  });

  it('deletes a stack after the retention: stops at once, deletes the service with its volumes, then the record', async () => {
    const { stack } = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    const running = await h.waitStack(stack.id, (r) => r.status === 'running');
    const uuid = String(running.coolify_service_uuid);
    const requestedAt = Date.now();
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'deleted' });

    const deleting = await h.waitStack(stack.id, (r) => r.status === 'deleting' && r.delete_after !== '', 10_000);
    const deadline = Date.parse(String(deleting.delete_after).replace(' ', 'T'));
    expect(deadline).toBeGreaterThanOrEqual(requestedAt + 3_000);
    await waitFor(() => simStatus(h.sim.state.service(uuid)) === 'exited', 10_000, { what: 'service stopped' });
    // The deadline is kept on the service itself.
    expect(parseMarker(h.sim.state.service(uuid)?.description)?.extra['delete-after']).toBe(new Date(deadline).toISOString());

    await waitFor(async () => (await h.stack(stack.id)) === null, 20_000, { what: 'stack record deleted' });
    // When Coolify received the DELETE, not when the test noticed it.
    const deletes = h.sim.requestLog.filter((r) => r.method === 'DELETE' && r.path === `/api/v1/services/${uuid}`);
    expect(deletes.length).toBeGreaterThanOrEqual(1);
    expect(deletes[0]!.time).toBeGreaterThanOrEqual(deadline);
    expect(h.sim.state.service(uuid)).toBeUndefined();
    expect(h.servicesOf(stack.id)).toHaveLength(0);
    const deleteEvent = (await h.events(`stack:${stack.id}`)).find((e) => e.action === 'delete_service');
    expect(deleteEvent?.outcome).toBe('ok');
    expect(deleteEvent?.coolify_uuid).toBe(uuid);
  });

  it('cancels a deletion when desired_status is set back before the deadline', async () => {
    const { stack } = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    const running = await h.waitStack(stack.id, (r) => r.status === 'running');
    const uuid = String(running.coolify_service_uuid);
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'deleted' });
    const deleting = await h.waitStack(stack.id, (r) => r.status === 'deleting' && r.delete_after !== '', 5_000);
    const deadline = Date.parse(String(deleting.delete_after).replace(' ', 'T'));
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'running' });

    const back = await h.waitStack(stack.id, (r) => r.status === 'running' && r.delete_after === '', 15_000, 'running again');
    expect(back.coolify_service_uuid).toBe(uuid);
    const svc = h.sim.state.service(uuid);
    expect(parseMarker(svc?.description)?.extra).toEqual({});
    // Past the original deadline, after a pass known to have run then, both are still there.
    await passAfter(deadline);
    expect(await h.stack(stack.id)).not.toBeNull();
    expect(h.sim.requestLog.filter((r) => r.method === 'DELETE' && r.path.includes(uuid))).toEqual([]);
    expect(h.sim.state.service(uuid)?.deletionQueued).toBe(false);
    expect(h.sim.state.service(uuid)).toBeDefined();
    expect(h.servicesOf(stack.id)).toHaveLength(1);
  });

  it('removes a cancelled deletion\'s deadline from the service even when the stack is invalid, so a later deletion waits the full retention', async () => {
    const { plan, stack } = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    const running = await h.waitStack(stack.id, (r) => r.status === 'running');
    const uuid = String(running.coolify_service_uuid);
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'deleted' });
    const oldToken = await waitFor(() => parseMarker(h.sim.state.service(uuid)?.description)?.extra['delete-after'], 10_000, {
      what: 'deadline on the service',
    });
    // Cancelled while the plan no longer allows the template: the stack is invalid and errors.
    await h.admin.collection('plans').update(plan.id, { allowed_templates: [] });
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'running' });
    await h.waitStack(stack.id, (r) => r.status === 'error');
    await waitFor(() => parseMarker(h.sim.state.service(uuid)?.description)?.extra['delete-after'] === undefined, 10_000, {
      what: 'deadline removed from the service',
    });
    expect(parseMarker(h.sim.state.service(uuid)?.description)?.extra).toEqual({});
    const cancel = (await h.events(`stack:${stack.id}`)).find((e) => e.action === 'cancel_delete');
    expect(cancel?.outcome).toBe('ok');
    expect(cancel?.coolify_uuid).toBe(uuid);

    // Past the old deadline (after a pass known to have run then) the service is untouched, and a
    // new deletion gets a fresh deadline, a full retention ahead.
    await passAfter(Date.parse(oldToken));
    expect(h.sim.state.service(uuid)?.deletionQueued).toBe(false);
    expect(parseMarker(h.sim.state.service(uuid)?.description)?.extra).toEqual({});
    const requestedAt = Date.now();
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'deleted' });
    const token = await waitFor(() => parseMarker(h.sim.state.service(uuid)?.description)?.extra['delete-after'], 10_000, {
      what: 'new deadline on the service',
    });
    expect(Date.parse(token)).toBeGreaterThanOrEqual(requestedAt + 3_000);
    expect(h.sim.state.service(uuid)?.deletionQueued).toBe(false);
  });

  it('deletes a deleted tenant down to its project and keeps the tenant record', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const a = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const b = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await h.waitStack(a.id, (r) => r.status === 'running');
    await h.waitStack(b.id, (r) => r.status === 'running');
    const projectUuid = String((await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready')).coolify_project_uuid);

    await h.admin.collection('tenants').update(tenant.id, { status: 'deleted' });
    await h.waitTenant(tenant.id, (r) => r.sync_status === 'deleting', 10_000);
    const done = await h.waitTenant(tenant.id, (r) => r.sync_status === 'deleted', 30_000, 'tenant deleted');
    expect(done.coolify_project_uuid).toBe('');
    expect(h.sim.state.project(projectUuid)).toBeUndefined();
    expect(await h.stack(a.id)).toBeNull();
    expect(await h.stack(b.id)).toBeNull();
    expect(h.servicesOf(a.id)).toHaveLength(0);
    expect(h.servicesOf(b.id)).toHaveLength(0);
    expect((await h.events(`tenant:${tenant.id}`)).map((e) => e.action)).toContain('delete_project');
  });

  it('restarts the retention when a deleted tenant is set active and deleted again while the daemon is down', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const uuid = String((await h.waitStack(stack.id, (r) => r.status === 'running')).coolify_service_uuid);
    const projectUuid = String((await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready')).coolify_project_uuid);

    await h.admin.collection('tenants').update(tenant.id, { status: 'deleted' });
    const deleting = await h.waitStack(stack.id, (r) => r.status === 'deleting' && r.delete_after !== '', 10_000);
    const oldDeadline = Date.parse(String(deleting.delete_after).replace(' ', 'T'));
    await h.waitTenant(tenant.id, (r) => r.sync_status === 'deleting', 10_000);
    await h.daemon!.queue.onIdle();
    await h.stopDaemon();

    // While no daemon looks: cancelled, and deleted again a while later. The stack record never changes.
    await h.admin.collection('tenants').update(tenant.id, { status: 'active' });
    await new Promise((r) => setTimeout(r, 1_500));
    const secondAt = Date.now();
    await h.admin.collection('tenants').update(tenant.id, { status: 'deleted' });
    await waitFor(() => Date.now() > oldDeadline + 300, 10_000, { what: 'the old deadline to pass', intervalMs: 100 });
    await h.start();

    // The second deletion waits its full retention, counted from when the daemon saw it.
    await waitFor(() => h.sim.state.service(uuid) === undefined, 30_000, { what: 'service deleted after the new retention' });
    const deletes = h.sim.requestLog.filter((r) => r.method === 'DELETE' && r.path === `/api/v1/services/${uuid}`);
    expect(deletes.length).toBeGreaterThanOrEqual(1);
    expect(deletes[0]!.time).toBeGreaterThanOrEqual(secondAt + 4_000);
    const rescheduled = (await h.events(`tenant:${tenant.id}`)).filter((e) => e.action === 'schedule_delete');
    expect(rescheduled.map((e) => e.coolify_uuid)).toEqual([projectUuid, projectUuid]);
    await h.waitTenant(tenant.id, (r) => r.sync_status === 'deleted', 30_000, 'tenant deleted');
    expect(h.sim.state.project(projectUuid)).toBeUndefined();
  });

  it('gives an invalid stack status error with a clear message and sends nothing to Coolify, while the others converge', async () => {
    const plan = await createPlan(h.admin, { max_stacks: 1 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const good = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const overQuota = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const unknown = await createStack(h.admin, { tenant_id: tenant.id, template: 'no-such-template', params: {} });
    const other = await createTenantWithStack(h.admin, { stack: { params: { BOT_NAME: 'x', TELEGRAM_BOT_TOKEN: 'not-a-token' } } });

    await h.waitStack(good.id, (r) => r.status === 'running');
    const q = await h.waitStack(overQuota.id, (r) => r.status === 'error');
    expect(String(q.status_message)).toMatch(/max_stacks|stacks/i);
    const u = await h.waitStack(unknown.id, (r) => r.status === 'error');
    expect(String(u.status_message)).toMatch(/no-such-template/);
    const p = await h.waitStack(other.stack.id, (r) => r.status === 'error');
    expect(String(p.status_message)).toMatch(/TELEGRAM_BOT_TOKEN/);
    expect(String(p.status_message)).not.toContain('not-a-token');
    for (const s of [overQuota, unknown, other.stack]) expect(h.servicesOf(s.id)).toHaveLength(0);

    // Fixing the record is enough: it converges without a restart.
    await h.admin.collection('stacks').update(other.stack.id, { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await h.waitStack(other.stack.id, (r) => r.status === 'running', 15_000);
  });
});
