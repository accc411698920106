/**
 * A COOLIFY_ENVIRONMENT other than `production`: Coolify creates only `production` in a new
 * project, so the tenant reconciler adds the configured environment once, and stacks land in it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { formatProjectMarker } from '../../src/coolify/markers.js';
import { createPlan, createStack, createTenant, createTenantWithStack } from '../helpers/pb-fixtures.js';
import { BOT_TOKEN, startHarness, type Harness } from './harness.js';

describe('COOLIFY_ENVIRONMENT=staging', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { COOLIFY_ENVIRONMENT: 'staging' } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  const envNames = async (projectUuid: string) => (await h.coolify.getProject(projectUuid)).environments.map((e) => e.name).sort();

  it('creates the environment in a new project once, and the stack runs in it', async () => {
    const { tenant, stack } = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    const s = await h.waitStack(stack.id, (r) => r.status === 'running', 20_000, 'stack running');
    const t = await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready');
    const projectUuid = String(t.coolify_project_uuid);
    expect(await envNames(projectUuid)).toEqual(['production', 'staging']);

    const svc = h.sim.state.service(String(s.coolify_service_uuid));
    expect(svc && h.sim.state.environmentById(svc.environmentId)?.name).toBe('staging');

    // Another pass over the tenant (an admin edit) finds the environment and creates nothing.
    await h.admin.collection('tenants').update(tenant.id, { name: 'Renamed tenant' });
    await h.daemon!.resync();
    await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready');
    const created = (await h.events(`tenant:${tenant.id}`)).filter((e) => e.action === 'create_environment');
    expect(created).toHaveLength(1);
    expect(created[0]?.outcome).toBe('ok');
    expect(created[0]?.coolify_uuid).toBe(projectUuid);
    expect(await envNames(projectUuid)).toEqual(['production', 'staging']);
  });

  it('adds the environment to an adopted project that lacks it', async () => {
    const plan = await createPlan(h.admin);
    // A project the daemon made earlier (found by its marker) but without `staging`; the tenant
    // record gets the id the marker names (PocketBase accepts a chosen 15-character id).
    const id = `envadopt${Date.now().toString(36).slice(-7)}`.padEnd(15, '0').slice(0, 15);
    const project = h.sim.state.createProject({ name: 'cf-tenant-old', description: formatProjectMarker({ tenantId: id }) }, Date.now());
    const tenant = await createTenant(h.admin, { id, plan: plan.id });
    await h.waitTenant(tenant.id, (r) => r.sync_status === 'ready' && r.coolify_project_uuid === project.uuid);
    expect(await envNames(project.uuid)).toEqual(['production', 'staging']);

    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const s = await h.waitStack(stack.id, (r) => r.status === 'running');
    const svc = h.sim.state.service(String(s.coolify_service_uuid));
    expect(svc && h.sim.state.projectOfService(svc)?.uuid).toBe(project.uuid);
    const actions = (await h.events(`tenant:${tenant.id}`)).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['adopt', 'create_environment']));
    expect(actions).not.toContain('create_project');
  });
});
