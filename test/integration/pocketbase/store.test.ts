/**
 * PocketBaseStore and record parsing against a real PocketBase: typed reads, daemon-only writes,
 * bound filters, malformed records, reconcile events.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type PocketBase from 'pocketbase';
import { ManualClock, systemClock } from '../../../src/clock.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { Redactor } from '../../../src/logging/redactor.js';
import { formatPbDate, parsePbDate, parseStack } from '../../../src/pocketbase/records.js';
import { PocketBaseStore } from '../../../src/pocketbase/store.js';
import { daemonClient, startTestPocketBase, type TestPocketBase } from '../../helpers/pocketbase.js';
import { adminSave, createPlan, createStack, createTenant, createTenantWithStack } from '../../helpers/pb-fixtures.js';

let pb: TestPocketBase;
let daemon: PocketBase;
let store: PocketBaseStore;

beforeAll(async () => {
  pb = await startTestPocketBase();
  daemon = await daemonClient(pb.server);
  store = new PocketBaseStore({ pb: daemon, logger: silentLogger(), clock: systemClock });
});

afterAll(async () => {
  await pb?.cleanup();
});

describe('dates', () => {
  it('converts PocketBase date text to epoch ms and back; empty is null', () => {
    const ms = Date.UTC(2026, 10, 26, 3, 4, 5, 678);
    expect(formatPbDate(ms)).toBe('2026-11-26 03:04:05.678Z');
    expect(parsePbDate('2026-11-26 03:04:05.678Z')).toBe(ms);
    expect(parsePbDate('')).toBeNull();
    expect(formatPbDate(null)).toBe('');
    expect(parsePbDate('yesterday')).toBeUndefined();
  });
});

describe('reads', () => {
  it('returns typed records, with hidden and daemon fields, and null for unknown ids', async () => {
    const { plan, tenant, stack } = await createTenantWithStack(pb.admin, {
      plan: { max_stacks: 3, cpu_limit: 0.5, memory_mb: 512, allowed_templates: ['telegram-bot', 'n8n'] },
      tenant: { router_api_key: 'rk-read-test-key' },
      stack: { params: { BOT_NAME: 'Reader' }, domains: ['bot.example.test'] },
    });
    await expect(store.getPlan(plan.id)).resolves.toMatchObject({
      id: plan.id,
      name: plan.name,
      maxStacks: 3,
      cpuLimit: 0.5,
      memoryMb: 512,
      allowedTemplates: ['telegram-bot', 'n8n'],
      problems: [],
    });
    const t = await store.getTenant(tenant.id);
    expect(t).toMatchObject({
      id: tenant.id,
      slug: tenant.slug,
      status: 'active',
      planId: plan.id,
      routerApiKey: 'rk-read-test-key',
      coolifyProjectUuid: '',
      syncStatus: '',
      syncedAt: null,
      problems: [],
    });
    expect(t?.created).toBeGreaterThan(0);
    await expect(store.getStack(stack.id)).resolves.toMatchObject({
      id: stack.id,
      tenantId: tenant.id,
      params: { BOT_NAME: 'Reader' },
      domains: ['bot.example.test'],
      desiredStatus: 'running',
      status: '',
      observedAt: null,
      deleteAfter: null,
      problems: [],
    });
    await expect(store.getStack('doesnotexist123')).resolves.toBeNull();
    await expect(store.getTenant('')).resolves.toBeNull();
    await expect(store.getPlan('nope')).resolves.toBeNull();
  });

  it('lists every record in a stable order across several pages', async () => {
    const plan = await createPlan(pb.admin);
    const tenant = await createTenant(pb.admin, { plan: plan.id });
    const created = await Promise.all(Array.from({ length: 25 }, () => createStack(pb.admin, { tenant_id: tenant.id })));
    const listed = await store.listStacksOfTenant(tenant.id);
    expect(listed.map((s) => s.id)).toEqual(created.map((s) => s.id).sort());
    const all = await store.listStacks();
    for (const s of created) expect(all.map((x) => x.id)).toContain(s.id);
    expect(all.map((s) => s.id)).toEqual([...all.map((s) => s.id)].sort());
  });

  it('lists stacks of a tenant, tenants of a plan and stacks of a plan', async () => {
    const plan = await createPlan(pb.admin);
    const t1 = await createTenant(pb.admin, { plan: plan.id });
    const t2 = await createTenant(pb.admin, { plan: plan.id });
    const s1 = await createStack(pb.admin, { tenant_id: t1.id });
    const s2 = await createStack(pb.admin, { tenant_id: t2.id });
    const otherPlan = await createPlan(pb.admin);
    const t3 = await createTenant(pb.admin, { plan: otherPlan.id });
    await createStack(pb.admin, { tenant_id: t3.id });
    expect((await store.listStacksOfTenant(t1.id)).map((s) => s.id)).toEqual([s1.id]);
    expect((await store.listTenantsOfPlan(plan.id)).map((t) => t.id).sort()).toEqual([t1.id, t2.id].sort());
    expect((await store.listStacksOfPlan(plan.id)).map((s) => s.id).sort()).toEqual([s1.id, s2.id].sort());
  });

  it('binds filter values: an injection attempt matches nothing', async () => {
    const { plan, tenant, stack } = await createTenantWithStack(pb.admin);
    expect((await store.listStacksOfTenant(tenant.id)).map((s) => s.id)).toEqual([stack.id]);
    for (const evil of ['x" || 1=1 || "', `${tenant.id}" || tenant_id != "`, "x' || 1=1 || '", '%', '*']) {
      await expect(store.listStacksOfTenant(evil)).resolves.toEqual([]);
      await expect(store.listTenantsOfPlan(evil)).resolves.toEqual([]);
      await expect(store.listStacksOfPlan(evil)).resolves.toEqual([]);
      await expect(store.listEvents({ subject: evil })).resolves.toEqual([]);
      await expect(store.getStack(evil)).resolves.toBeNull();
    }
    expect((await store.listTenantsOfPlan(plan.id)).map((t) => t.id)).toEqual([tenant.id]);
  });

  it('returns a malformed record with clear problems while the others still list', async () => {
    const plan = await createPlan(pb.admin);
    const tenant = await createTenant(pb.admin, { plan: plan.id });
    const good = await createStack(pb.admin, { tenant_id: tenant.id });
    const arrayParams = await createStack(pb.admin, { tenant_id: tenant.id, params: [1, 2] });
    const stringParams = await createStack(pb.admin, { tenant_id: tenant.id, params: '{not json' });
    const badDomains = await createStack(pb.admin, { tenant_id: tenant.id, domains: ['ok.example.test', 7] });
    const objectDomains = await createStack(pb.admin, { tenant_id: tenant.id, domains: { host: 'x' } });
    const badTemplates = await createPlan(pb.admin, { allowed_templates: 'telegram-bot' });

    const stacks = await store.listStacksOfTenant(tenant.id);
    expect(stacks).toHaveLength(5);
    const byId = new Map(stacks.map((s) => [s.id, s]));
    expect(byId.get(good.id)?.problems).toEqual([]);
    expect(byId.get(arrayParams.id)?.problems).toEqual([expect.stringMatching(/^field params must be a JSON object/)]);
    expect(byId.get(arrayParams.id)?.params).toEqual({});
    expect(byId.get(stringParams.id)?.problems).toEqual([expect.stringMatching(/^field params must be a JSON object/)]);
    expect(byId.get(badDomains.id)?.problems).toEqual([expect.stringMatching(/^field domains must be a JSON array of strings/)]);
    expect(byId.get(badDomains.id)?.domains).toEqual([]);
    expect(byId.get(objectDomains.id)?.problems).toEqual([expect.stringMatching(/^field domains must be a JSON array of strings/)]);
    const plans = await store.listPlans();
    expect(plans.find((p) => p.id === badTemplates.id)?.problems).toEqual([
      expect.stringMatching(/^field allowed_templates must be a JSON array of strings/),
    ]);
    expect(plans.find((p) => p.id === plan.id)?.problems).toEqual([]);
  });

  it('never throws on a record it cannot understand, and never echoes the bad value', () => {
    const s = parseStack({
      id: 'abc',
      desired_status: 'sideways',
      status: 'confused',
      params: 'secret-value-123',
      observed_at: 'later',
      created: 5,
    });
    expect(s.desiredStatus).toBe('stopped');
    expect(s.status).toBe('');
    expect(s.observedAt).toBeNull();
    // The five bad values, and the three fields the record lacks (tenant_id, name, template).
    expect(s.problems).toHaveLength(8);
    expect(s.problems.join(' ')).not.toContain('secret-value-123');
    expect(parseStack(null).problems).toContain('stack record is not a JSON object');
  });
});

describe('writes', () => {
  it('writes only the daemon fields present in a patch, never reverting admin fields', async () => {
    const { tenant, stack } = await createTenantWithStack(pb.admin);
    const observedAt = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    await store.updateStack(stack.id, { status: 'deploying', statusMessage: 'creating service', observedAt });
    // The admin edits admin fields after the daemon read the record.
    await pb.admin.collection('stacks').update(stack.id, { template: 'n8n', desired_status: 'stopped' });
    const saved = await store.updateStack(stack.id, { status: 'running', coolifyServiceUuid: 'svc-uuid-1', deleteAfter: null });
    expect(saved).toMatchObject({
      template: 'n8n',
      desiredStatus: 'stopped',
      status: 'running',
      statusMessage: 'creating service',
      coolifyServiceUuid: 'svc-uuid-1',
      observedAt,
      deleteAfter: null,
    });
    await expect(store.getStack(stack.id)).resolves.toMatchObject({ template: 'n8n', status: 'running', observedAt });

    const syncedAt = Date.UTC(2026, 5, 1);
    await store.updateTenant(tenant.id, { syncStatus: 'ready', coolifyProjectUuid: 'proj-1', syncedAt });
    await store.updateTenant(tenant.id, { syncMessage: '' });
    await expect(store.getTenant(tenant.id)).resolves.toMatchObject({
      status: 'active',
      syncStatus: 'ready',
      coolifyProjectUuid: 'proj-1',
      syncedAt,
    });
    // Clearing a date.
    await store.updateTenant(tenant.id, { syncedAt: null });
    await expect(store.getTenant(tenant.id)).resolves.toMatchObject({ syncedAt: null });
  });

  it('ignores non-daemon keys smuggled into a patch', async () => {
    const { stack } = await createTenantWithStack(pb.admin);
    const patch = { status: 'running', template: 'evil', desired_status: 'deleted' } as unknown as Parameters<
      PocketBaseStore['updateStack']
    >[1];
    await store.updateStack(stack.id, patch);
    await expect(store.getStack(stack.id)).resolves.toMatchObject({ status: 'running', template: 'telegram-bot', desiredStatus: 'running' });
  });

  it('remembers what it wrote (for the change feed), and forgets it on a failed write', async () => {
    const { stack } = await createTenantWithStack(pb.admin);
    await store.updateStack(stack.id, { status: 'running', coolifyServiceUuid: 'svc-2' });
    await store.updateStack(stack.id, { statusMessage: 'ok' });
    expect(store.lastWritten('stacks', stack.id)).toEqual({ status: 'running', coolifyServiceUuid: 'svc-2', statusMessage: 'ok' });
    // An admin's stale save does not change what the daemon remembers writing.
    await adminSave(pb.admin, 'stacks', stack);
    expect(store.lastWritten('stacks', stack.id)).toMatchObject({ coolifyServiceUuid: 'svc-2' });
    await expect(store.updateStack('missingstack123', { status: 'error' })).resolves.toBeNull();
    expect(store.lastWritten('stacks', 'missingstack123')).toBeUndefined();
  });

  it('deletes a stack record; deleting it again is not an error', async () => {
    const { stack } = await createTenantWithStack(pb.admin);
    await store.deleteStack(stack.id);
    await expect(store.getStack(stack.id)).resolves.toBeNull();
    await expect(store.deleteStack(stack.id)).resolves.toBeUndefined();
  });
});

describe('reconcile events', () => {
  it('adds, lists by subject, masks secrets and prunes by age', async () => {
    const redactor = new Redactor();
    redactor.add('sk-live-supersecret');
    const clock = new ManualClock(Date.now());
    const evStore = new PocketBaseStore({ pb: daemon, logger: silentLogger(), clock, redactor });
    const subject = 'stack:eventsubject001';
    await evStore.addEvent({ subject, action: 'create_service', outcome: 'ok', message: 'created', coolifyUuid: 'svc-9' });
    await evStore.addEvent({
      subject,
      action: 'update_service',
      outcome: 'error',
      message: 'Coolify said key sk-live-supersecret is bad',
      coolifyUuid: 'svc-9',
    });
    await evStore.addEvent({ subject: 'tenant:other', action: 'create_project', outcome: 'ok', message: '', coolifyUuid: 'p-1' });

    const events = await evStore.listEvents({ subject });
    expect(events.map((e) => [e.action, e.outcome, e.coolifyUuid])).toEqual([
      ['create_service', 'ok', 'svc-9'],
      ['update_service', 'error', 'svc-9'],
    ]);
    expect(events[1]?.message).toBe('Coolify said key [REDACTED] is bad');
    expect(events[0]?.created).toBeGreaterThan(0);

    // Nothing is a day old yet.
    await expect(evStore.pruneEvents(24 * 3600_000)).resolves.toBe(0);
    // Two days later every event is older than a day.
    clock.advance(2 * 24 * 3600_000);
    await expect(evStore.pruneEvents(24 * 3600_000)).resolves.toBe(3);
    await expect(evStore.listEvents()).resolves.toEqual([]);
  });
});
