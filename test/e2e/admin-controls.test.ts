/**
 * The controls admins get on an installed daemon, end to end (SPEC §3 Paused, Restart, Retention;
 * §4 DEFAULT_HOST_TEMPLATE), plus records the daemon cannot act on (a tenant status it does not
 * know). Runs with DEFAULT_HOST_TEMPLATE={stack}-{tenant}.apps.example.test.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RawRecord } from '../helpers/pb-fixtures.js';
import { adminSave, createPlan, createStack, createTenant, createTenantWithStack, uniqueName } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, simStatus, type Harness } from './harness.js';

const HOST_TEMPLATE = '{stack}-{tenant}.apps.example.test';
const AGENT_PARAMS = { AUTH_PASSWORD: 'a-long-password-1', OPENCLAW_GATEWAY_TOKEN: '0123456789abcdef0123456789abcdef' };

describe('admin controls and records the daemon cannot act on', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { DEFAULT_HOST_TEMPLATE: HOST_TEMPLATE, DELETE_RETENTION_SECONDS: '1' } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  /** A resync after everything queued so far, and every reconcile it queued, has run. */
  async function settle(): Promise<void> {
    await h.daemon!.queue.onIdle();
    await h.daemon!.resync();
    await h.daemon!.queue.onIdle();
  }

  /** Coolify requests that change the service (anything but GET) from request log index `from` on. */
  function writesTo(uuid: string, from: number): string[] {
    return h.sim.requestLog
      .slice(from)
      .filter((r) => r.method !== 'GET' && r.path.includes(uuid))
      .map((r) => `${r.method} ${r.path}`);
  }

  function restartsOf(uuid: string): number {
    return h.sim.requestLog.filter((r) => r.method === 'POST' && r.path === `/api/v1/services/${uuid}/restart`).length;
  }

  async function runningStack(fields: { plan?: Record<string, unknown>; tenant?: Record<string, unknown> } = {}): Promise<{ tenant: RawRecord; stack: RawRecord; uuid: string }> {
    const { tenant, stack } = await createTenantWithStack(h.admin, { ...fields, stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    const s = await h.waitStack(stack.id, (r) => r.status === 'running', 20_000, 'stack running');
    return { tenant, stack: s, uuid: String(s.coolify_service_uuid) };
  }

  it('a tenant with a status the daemon does not know gets an error and nothing in Coolify; others go on', async () => {
    // The production schema has more status values than the daemon knows.
    const tenants = await h.admin.collections.getOne('tenants');
    const status = tenants.fields.find((f) => f.name === 'status') as unknown as { values: string[] };
    status.values = [...status.values, 'inactive', 'pending'];
    await h.admin.collections.update('tenants', { fields: tenants.fields });

    const plan = await createPlan(h.admin);
    const inactive = await createTenant(h.admin, { plan: plan.id, status: 'inactive' });
    const stack = await createStack(h.admin, { tenant_id: inactive.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const fine = await runningStack();

    const t = await h.waitTenant(inactive.id, (r) => r.sync_status === 'error', 15_000, 'tenant error');
    expect(t.sync_message).toBe('field status is "inactive", which cf-reconciler does not know: set it to one of active, suspended, deleted');
    const s = await h.waitStack(stack.id, (r) => r.status === 'error', 15_000, 'stack error');
    expect(String(s.status_message)).toContain('field status is "inactive"');
    await settle();
    expect(h.sim.state.projects.filter((p) => p.description.includes(`tenant=${inactive.id}`))).toEqual([]);
    expect(h.servicesOf(stack.id)).toEqual([]);
    expect(simStatus(h.servicesOf(fine.stack.id)[0])).toBe('running');
  });

  it('a tenant without a plan (an optional field after installing into a database with records) gets an error, its stack too', async () => {
    const tenants = await h.admin.collections.getOne('tenants');
    const planField = tenants.fields.find((f) => f.name === 'plan') as unknown as { required: boolean };
    planField.required = false;
    await h.admin.collections.update('tenants', { fields: tenants.fields });

    const planless = await createTenant(h.admin, { plan: '' });
    const stack = await createStack(h.admin, { tenant_id: planless.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const t = await h.waitTenant(planless.id, (r) => r.sync_status === 'error', 15_000, 'tenant error');
    expect(t.sync_message).toBe("field plan is empty: choose the tenant's plan");
    const s = await h.waitStack(stack.id, (r) => r.status === 'error', 15_000, 'stack error');
    expect(s.status_message).toBe("the tenant record is malformed: field plan is empty: choose the tenant's plan");
    await settle();
    expect(h.sim.state.projects.filter((p) => p.description.includes(`tenant=${planless.id}`))).toEqual([]);
    expect(h.servicesOf(stack.id)).toEqual([]);
    // Setting the plan is all it takes.
    const plan = await createPlan(h.admin);
    await h.admin.collection('tenants').update(planless.id, { plan: plan.id });
    await h.waitStack(stack.id, (r) => r.status === 'running', 20_000, 'stack running once the tenant has a plan');
  });

  it('pause freezes a stack through hand edits in Coolify (drift leaves it) and unpausing repairs it', async () => {
    const { stack, uuid } = await runningStack();
    await h.admin.collection('stacks').update(stack.id, { paused: true });
    await h.waitStack(stack.id, (r) => String(r.status_message).startsWith('paused:'), 10_000, 'stack paused');
    await h.daemon!.queue.onIdle();

    const from = h.sim.requestLog.length;
    h.sim.edits.editCompose(uuid, 'services:\n  bot:\n    image: debug/shell:latest\n');
    h.sim.edits.crashService(uuid, 'exited');
    await settle();
    await settle();
    expect(writesTo(uuid, from)).toEqual([]);
    expect(h.sim.state.service(uuid)?.composeRaw).toContain('debug/shell');
    expect(simStatus(h.sim.state.service(uuid))).toBe('exited');
    // Observed and told as it is: the service is stopped, and the record says why nothing is done.
    const paused = await h.waitStack(stack.id, (r) => r.status === 'stopped', 10_000, 'status observed');
    expect(paused.status_message).toBe('paused: cf-reconciler changes nothing in Coolify for this stack; clear paused on the stack to resume');

    await h.admin.collection('stacks').update(stack.id, { paused: false });
    await h.waitStack(stack.id, (r) => r.status === 'running' && r.status_message === '', 20_000, 'running again');
    expect(h.sim.state.service(uuid)?.composeRaw).not.toContain('debug/shell');
    expect(simStatus(h.sim.state.service(uuid))).toBe('running');
    const actions = (await h.events(`stack:${stack.id}`)).map((e) => e.action);
    expect(actions.filter((a) => a === 'pause')).toHaveLength(1);
    expect(actions.filter((a) => a === 'unpause')).toHaveLength(1);
  });

  it('a paused tenant: a stop asked meanwhile is not carried out until the tenant is unpaused', async () => {
    const { tenant, stack, uuid } = await runningStack();
    await h.admin.collection('tenants').update(tenant.id, { paused: true });
    await h.waitTenant(tenant.id, (r) => String(r.sync_message).startsWith('paused:'), 10_000, 'tenant paused');
    await h.waitStack(stack.id, (r) => String(r.status_message).includes('its tenant is paused'), 10_000, 'stack shows the tenant pause');
    const from = h.sim.requestLog.length;
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
    await settle();
    expect(writesTo(uuid, from)).toEqual([]);
    expect(simStatus(h.sim.state.service(uuid))).toBe('running');
    expect((await h.stack(stack.id))?.status).toBe('running');

    await h.admin.collection('tenants').update(tenant.id, { paused: false });
    await h.waitStack(stack.id, (r) => r.status === 'stopped' && r.status_message === '', 20_000, 'stopped after unpause');
    expect(simStatus(h.sim.state.service(uuid))).toBe('exited');
    await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready' && r.sync_message === '', 10_000, 'tenant ready');
  });

  it('restarts once per request, never again from a stale admin save', async () => {
    const { stack, uuid } = await runningStack();
    const requested = '2026-06-01 10:00:00.000Z';
    const beforeRestart = await h.admin.collection('stacks').update(stack.id, { restart_requested_at: requested });
    const done = await h.waitStack(stack.id, (r) => r.restarted_at === requested, 15_000, 'restart carried out');
    expect(done.restart_requested_at).toBe(requested);
    await h.waitStack(stack.id, (r) => r.status === 'running', 15_000, 'running after restart');
    await settle();
    expect(restartsOf(uuid)).toBe(1);

    // The admin's form still shows restarted_at empty: saving it writes that back.
    await adminSave(h.admin, 'stacks', beforeRestart as RawRecord, { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await h.waitStack(stack.id, (r) => r.restarted_at === requested, 15_000, 'restarted_at corrected');
    await settle();
    expect(restartsOf(uuid)).toBe(1);

    await h.admin.collection('stacks').update(stack.id, { restart_requested_at: '2026-06-01 11:00:00.000Z' });
    await h.waitStack(stack.id, (r) => r.restarted_at === '2026-06-01 11:00:00.000Z', 15_000, 'second restart');
    await settle();
    expect(restartsOf(uuid)).toBe(2);
    const restarts = (await h.events(`stack:${stack.id}`)).filter((e) => e.action === 'restart');
    expect(restarts).toHaveLength(2);
  });

  it("keeps a deleted stack for its plan's delete_retention_days (fractions of a day)", async () => {
    const days = 6 / 86_400; // six seconds; DELETE_RETENTION_SECONDS is 1 here
    const { stack, uuid } = await runningStack({ plan: { delete_retention_days: days } });
    const asked = Date.now();
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'deleted' });
    const deleting = await h.waitStack(stack.id, (r) => r.status === 'deleting' && r.delete_after !== '', 10_000, 'deletion scheduled');
    const deadline = Date.parse(String(deleting.delete_after).replace(' ', 'T'));
    expect(deadline - asked).toBeGreaterThanOrEqual(5_500);
    expect(deadline - asked).toBeLessThan(9_000);
    // Well past the daemon-wide retention, the service is still there (stopped).
    await waitFor(() => Date.now() > asked + 3_000, 5_000, { what: 'three seconds', intervalMs: 100 });
    await settle();
    expect(h.sim.state.service(uuid)).toBeDefined();
    expect(simStatus(h.sim.state.service(uuid))).toBe('exited');
    await waitFor(async () => (await h.stack(stack.id)) === null, 20_000, { what: 'stack record deleted', intervalMs: 100 });
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
    expect(h.sim.state.service(uuid)).toBeUndefined();
    const scheduled = (await h.events(`stack:${stack.id}`)).find((e) => e.action === 'schedule_delete');
    expect(String(scheduled?.message)).toContain('delete_retention_days');
  });

  it('DEFAULT_HOST_TEMPLATE gives flat hosts, also to a tenant without a domain', async () => {
    const plan = await createPlan(h.admin, { allowed_templates: ['openclaw-agent'], cpu_limit: 2, memory_mb: 4096 });
    const tenant = await createTenant(h.admin, { plan: plan.id, domain: '' });
    const stack = await createStack(h.admin, { tenant_id: tenant.id, template: 'openclaw-agent', params: AGENT_PARAMS });
    const s = await h.waitStack(stack.id, (r) => r.status === 'running', 20_000, 'agent running');
    const svc = h.sim.state.service(String(s.coolify_service_uuid));
    const agent = svc?.subs.find((a) => a.name === 'agent');
    expect(agent?.fqdn).toBe(`https://${String(stack.name)}-${String(tenant.slug)}.apps.example.test:8080`);
  });

  it('two tenants whose names collide under the template: the older stack gets the host, the younger an error', async () => {
    const plan = await createPlan(h.admin, { allowed_templates: ['openclaw-agent'], cpu_limit: 2, memory_mb: 4096 });
    const base = uniqueName('hc').slice(0, 20);
    // tenant <base> + stack "c-x" and tenant "x-<base>" + stack "c" both make c-x-<base>.apps.example.test.
    const first = await createTenant(h.admin, { plan: plan.id, slug: base, domain: '' });
    const second = await createTenant(h.admin, { plan: plan.id, slug: `x-${base}`, domain: '' });
    // Created right after each other: the younger stack's reconcile must not go by a listing of
    // the other stacks taken before it existed (which could lack the older one).
    const older = await createStack(h.admin, { tenant_id: first.id, name: 'c-x', template: 'openclaw-agent', params: AGENT_PARAMS });
    const younger = await createStack(h.admin, { tenant_id: second.id, name: 'c', template: 'openclaw-agent', params: AGENT_PARAMS });
    const host = `c-x-${base}.apps.example.test`;
    const o = await h.waitStack(older.id, (r) => r.status === 'running', 20_000, 'older running');
    const y = await h.waitStack(younger.id, (r) => r.status === 'error', 20_000, 'younger error');
    expect(y.status_message).toBe(`domain ${host} is already used by stack ${older.id}`);
    expect(h.servicesOf(younger.id)).toEqual([]);
    const agent = h.sim.state.service(String(o.coolify_service_uuid))?.subs.find((a) => a.name === 'agent');
    expect(agent?.fqdn).toBe(`https://${host}:8080`);
  });
});
