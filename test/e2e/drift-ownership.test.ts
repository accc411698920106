/**
 * Drift correction and ownership: hand edits in Coolify are undone by the periodic resync (a
 * crashed service, a compose or env var edited by hand, a service deleted by hand), stale admin
 * saves of daemon fields are corrected without a second service, and resources without the
 * daemon's marker are never touched.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { adminSave, createTenantWithStack, createStack } from '../helpers/pb-fixtures.js';
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

    // Deleting it does not delete the foreign service either.
    await h.admin.collection('stacks').update(hijack.id, { desired_status: 'deleted' });
    await h.daemon!.resync();
    await waitFor(async () => (await h.events(`stack:${hijack.id}`)).length >= 1, 5_000);
    const after = h.sim.state.service(foreign.uuid);
    expect(after).toBeDefined();
    expect(JSON.stringify({ d: after!.description, c: after!.composeRaw, s: after!.subs.map((x) => x.status) })).toBe(before);
    expect(h.servicesOf(stack.id)).toHaveLength(1);
    // Foreign projects are not adopted or deleted either.
    expect(h.sim.state.project(h.sim.state.projectOfService(foreign)!.uuid)).toBeDefined();
  });

  it('makes no Coolify write when the system has converged', async () => {
    await runningStack();
    await waitFor(async () => (await h.daemon!.resync())?.keys.size === 0, 20_000, { what: 'converged' });
    h.daemon!.envChecker.setTargets([]);
    const from = h.sim.requestLog.length;
    const plan = await h.daemon!.resync();
    expect(plan?.keys.size).toBe(0);
    const calls = h.sim.requestLog.slice(from).filter((r) => !r.path.endsWith('/envs'));
    expect(calls.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(calls.map((r) => `${r.method} ${r.path}`).sort()).toEqual(['GET /api/v1/projects', 'GET /api/v1/services']);
  });
});
