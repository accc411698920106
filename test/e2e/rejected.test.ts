/**
 * A stack whose update Coolify refused waits for a change: the periodic resync does not send the
 * same refused PATCH again, and a change to the record does.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPlan, createStack, createTenant } from '../helpers/pb-fixtures.js';
import { startHarness, type Harness } from './harness.js';

describe('a request Coolify rejected', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('is not re-sent by the resync while the record is unchanged', async () => {
    const plan = await createPlan(h.admin, { allowed_templates: ['openclaw-agent'], cpu_limit: 4, memory_mb: 8192 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const params = { AUTH_PASSWORD: 'a-long-password-123', OPENCLAW_GATEWAY_TOKEN: 'gw0123456789abcdef0123456789abcdef' };
    const stack = await createStack(h.admin, { tenant_id: tenant.id, template: 'openclaw-agent', params });
    const uuid = String((await h.waitStack(stack.id, (r) => r.status === 'running')).coolify_service_uuid);
    const taken = `shop.${String(tenant.domain)}`;
    h.sim.edits.createForeignService({ name: 'hand-made-shop', urls: { web: `https://${taken}` } });

    await h.admin.collection('stacks').update(stack.id, { domains: [taken] });
    const refused = await h.waitStack(stack.id, (r) => r.status === 'error', 15_000);
    expect(String(refused.status_message)).toMatch(/^Coolify rejected the update of the service: domain already in use/);
    await h.daemon!.queue.onIdle();
    const patches = () => h.sim.requestLog.filter((r) => r.method === 'PATCH' && r.path === `/api/v1/services/${uuid}`).length;
    const before = patches();
    expect(before).toBeGreaterThanOrEqual(1);

    for (let i = 0; i < 2; i++) {
      const plan = await h.daemon!.resync();
      expect(plan?.keys.has(`stack:${stack.id}`)).toBe(false);
      await h.daemon!.queue.onIdle();
    }
    expect(patches()).toBe(before);
    const s = await h.stack(stack.id);
    expect(s?.status_message).toBe(refused.status_message);

    // A change to the record is a different request: sent, and this one is accepted.
    await h.admin.collection('stacks').update(stack.id, { domains: [`free.${String(tenant.domain)}`] });
    await h.waitStack(stack.id, (r) => r.status === 'running', 20_000);
    expect(patches()).toBeGreaterThan(before);
  });
});
