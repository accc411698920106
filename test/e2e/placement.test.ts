/**
 * Where a stack's service lives: on the tenant's own Coolify server when `coolify_server_uuid` is
 * set (else COOLIFY_SERVER_UUID), and in its tenant's project only. A stack an admin moves to
 * another tenant (`tenant_id` changed) is refused: its service stays as it is, in the old
 * tenant's project with the old tenant's marker and router key.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { formatServiceMarker, parseMarker } from '../../src/coolify/markers.js';
import { createPlan, createStack, createTenant } from '../helpers/pb-fixtures.js';
import { BOT_TOKEN, startHarness, type Harness } from './harness.js';

describe('placement', () => {
  let h: Harness;
  let secondServer: { id: number; uuid: string };
  beforeAll(async () => {
    h = await startHarness();
    // A second server added to Coolify by its operator (the simulator has no API to add one).
    const state = h.sim.state;
    const now = Date.now();
    secondServer = { id: state.nextId('servers'), uuid: state.newUuid() };
    state.servers.push({ ...secondServer, name: 'edge-2', ip: '127.0.0.2', wildcardDomain: '127.0.0.2.sslip.io' });
    state.destinations.push({
      id: state.nextId('destinations'),
      uuid: state.newUuid(),
      name: 'edge-2-coolify',
      network: 'coolify',
      serverId: secondServer.id,
      createdAt: now,
      updatedAt: now,
    });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it("puts a tenant's services on its coolify_server_uuid, others on the default server", async () => {
    const plan = await createPlan(h.admin);
    const placed = await createTenant(h.admin, { plan: plan.id, coolify_server_uuid: secondServer.uuid });
    const plain = await createTenant(h.admin, { plan: plan.id });
    const onSecond = await createStack(h.admin, { tenant_id: placed.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const onDefault = await createStack(h.admin, { tenant_id: plain.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await h.waitStack(onSecond.id, (r) => r.status === 'running');
    await h.waitStack(onDefault.id, (r) => r.status === 'running');
    const defaultServer = h.sim.state.server(h.sim.serverUuid)!;
    expect(h.servicesOf(onSecond.id).map((s) => s.serverId)).toEqual([secondServer.id]);
    expect(h.servicesOf(onDefault.id).map((s) => s.serverId)).toEqual([defaultServer.id]);
    // The destination is the second server's own, not the default destination.
    const dest = h.sim.state.destinations.find((d) => d.id === h.servicesOf(onSecond.id)[0]!.destinationId);
    expect(dest?.serverId).toBe(secondServer.id);
  });

  describe('a stack moved to another tenant', () => {
    async function runningStackOfNewTenant() {
      const plan = await createPlan(h.admin);
      const from = await createTenant(h.admin, { plan: plan.id });
      const to = await createTenant(h.admin, { plan: plan.id });
      const stack = await createStack(h.admin, { tenant_id: from.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
      const running = await h.waitStack(stack.id, (r) => r.status === 'running');
      await h.waitTenant(to.id, (r) => r.sync_status === 'ready');
      const uuid = String(running.coolify_service_uuid);
      return { from, to, stack, uuid };
    }

    function snapshot(uuid: string) {
      const s = h.sim.state.service(uuid)!;
      return JSON.stringify({ d: s.description, n: s.name, env: s.environmentId, c: s.composeRaw, vars: s.envs.map((e) => [e.key, e.value]) });
    }

    it('is refused with a clear message; its service keeps its marker, project, router key and config', async () => {
      const { from, to, stack, uuid } = await runningStackOfNewTenant();
      const before = snapshot(uuid);
      const fromLog = h.sim.requestLog.length;
      await h.admin.collection('stacks').update(stack.id, { tenant_id: to.id });

      const refused = await h.waitStack(stack.id, (r) => r.status === 'error', 20_000, 'refusal of the moved stack');
      expect(refused.status_message).toContain(`belongs to tenant ${from.id}`);
      expect(refused.status_message).toContain(`set tenant_id back to ${from.id}`);
      // A resync pass later, still nothing written to Coolify and no second refusal event.
      await h.daemon!.resync();
      await h.daemon!.queue.onIdle();
      const writes = h.sim.requestLog.slice(fromLog).filter((r) => r.method !== 'GET');
      expect(writes).toEqual([]);
      expect(snapshot(uuid)).toBe(before);
      expect(parseMarker(h.sim.state.service(uuid)!.description)?.tenantId).toBe(from.id);
      const key = h.sim.state.service(uuid)!.envs.find((e) => e.key === 'CLOUDFREEDOM_API_KEY')?.value;
      expect(key).toBe(from.router_api_key);
      const refusals = (await h.events(`stack:${stack.id}`)).filter((e) => e.action === 'refuse');
      expect(refusals).toHaveLength(1);
      expect(h.servicesOf(stack.id)).toHaveLength(1);

      // Moved back, it runs again as before.
      await h.admin.collection('stacks').update(stack.id, { tenant_id: from.id });
      await h.waitStack(stack.id, (r) => r.status === 'running');
      expect(h.servicesOf(stack.id).map((s) => s.uuid)).toEqual([uuid]);
    });

    it('is refused even when its marker already names the new tenant (checked against the project)', async () => {
      const { to, stack, uuid } = await runningStackOfNewTenant();
      await h.stopDaemon();
      // An older version re-marked the service for the new tenant; it still sits in the old project.
      h.sim.state.service(uuid)!.description = formatServiceMarker({ stackId: stack.id, tenantId: to.id });
      await h.admin.collection('stacks').update(stack.id, { tenant_id: to.id });
      const before = snapshot(uuid);
      const fromLog = h.sim.requestLog.length;
      await h.start();

      const refused = await h.waitStack(stack.id, (r) => r.status === 'error', 20_000, 'refusal of the moved stack');
      expect(refused.status_message).toContain(`is not in the tenant's project ${String((await h.tenant(to.id)).coolify_project_uuid)}`);
      await h.daemon!.resync();
      await h.daemon!.queue.onIdle();
      const writes = h.sim.requestLog.slice(fromLog).filter((r) => r.method !== 'GET' && r.path.includes(uuid));
      expect(writes).toEqual([]);
      expect(snapshot(uuid)).toBe(before);
    });
  });
});
