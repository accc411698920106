/**
 * Record decoding of databases the daemon was installed into: values it does not know, fields
 * left empty, fields added by the migration and not set yet. Nothing throws; each record carries
 * problems naming the field and what to do.
 */
import { describe, expect, it } from '@jest/globals';
import { parsePlan, parseStack, parseTenant, stackPatchToBody } from '../../../src/pocketbase/records.js';

const STAMP = '2026-01-01 00:00:00.000Z';
const tenantRaw = {
  id: 'tenant000000001', name: 'Acme', slug: 'acme', domain: 'acme.test', status: 'active', plan: 'plan00000000001',
  router_api_key: 'rk-1', coolify_server_uuid: '', paused: false, coolify_project_uuid: '', sync_status: '',
  sync_message: '', synced_at: '', created: STAMP, updated: STAMP,
};
const stackRaw = {
  id: 'stack0000000001', tenant_id: 'tenant000000001', name: 'bot', template: 'telegram-bot', params: {}, domains: [],
  desired_status: 'running', paused: false, restart_requested_at: '', status: '', status_message: '',
  coolify_service_uuid: '', template_version: '', applied_hash: '', observed_at: '', delete_after: '', restarted_at: '',
  created: STAMP, updated: STAMP,
};

describe('tenants from an existing database', () => {
  it('a well-formed tenant has no problems; paused reads as a boolean', () => {
    expect(parseTenant(tenantRaw)).toMatchObject({ problems: [], paused: false });
    expect(parseTenant({ ...tenantRaw, paused: true }).paused).toBe(true);
  });

  it.each(['inactive', 'pending'])('status %s is named with what to set instead', (status) => {
    const t = parseTenant({ ...tenantRaw, status });
    expect(t.problems).toEqual([`field status is "${status}", which cf-reconciler does not know: set it to one of active, suspended, deleted`]);
    // Read as suspended, the state in which nothing new runs.
    expect(t.status).toBe('suspended');
  });

  it('a tenant without plan or slug says what to fill in', () => {
    const t = parseTenant({ ...tenantRaw, plan: '', slug: '' });
    expect(t.problems).toEqual(["field slug is empty: set a unique slug (lower-case letters, digits and dashes, at most 32, not starting or ending with a dash)", "field plan is empty: choose the tenant's plan"]);
  });

  it('a slug that cannot be a Coolify or host name is a problem', () => {
    expect(parseTenant({ ...tenantRaw, slug: 'Acme Corp' }).problems).toEqual([expect.stringMatching(/^field slug must be lower-case letters/)]);
  });

  it('fields the migration added and nobody set yet (missing from the JSON) read as their defaults', () => {
    const { paused: _p, ...old } = tenantRaw;
    expect(parseTenant(old)).toMatchObject({ paused: false, problems: [] });
  });

  it('a value that is not select-like is described, never echoed', () => {
    const t = parseTenant({ ...tenantRaw, status: 'sk-some secret value' });
    expect(t.problems.join()).not.toContain('sk-some');
  });
});

describe('stacks', () => {
  it('reads paused, restart_requested_at and restarted_at', () => {
    const s = parseStack({ ...stackRaw, paused: true, restart_requested_at: '2026-02-01 10:00:00.000Z', restarted_at: '2026-01-31 10:00:00.000Z' });
    expect(s).toMatchObject({ paused: true, restartRequestedAt: Date.parse('2026-02-01T10:00:00Z'), restartedAt: Date.parse('2026-01-31T10:00:00Z'), problems: [] });
  });

  it('an unknown desired status or a missing tenant is a problem naming the field', () => {
    expect(parseStack({ ...stackRaw, desired_status: 'paused', tenant_id: '' }).problems).toEqual([
      "field tenant_id is empty: choose the stack's tenant",
      'field desired_status is "paused", which cf-reconciler does not know: set it to one of running, stopped, deleted',
    ]);
  });

  it('restarted_at is a daemon field written as a PocketBase date', () => {
    expect(stackPatchToBody({ restartedAt: Date.parse('2026-02-01T10:00:00Z') })).toEqual({ restarted_at: '2026-02-01 10:00:00.000Z' });
  });
});

describe('plans', () => {
  const planRaw = { id: 'plan00000000001', name: 'pro', max_stacks: 3, cpu_limit: 1, memory_mb: 512, allowed_templates: [], created: STAMP, updated: STAMP };

  it('delete_retention_days and pids_limit: empty reads 0, fractions of days allowed', () => {
    expect(parsePlan(planRaw)).toMatchObject({ deleteRetentionDays: 0, pidsLimit: 0, problems: [] });
    expect(parsePlan({ ...planRaw, delete_retention_days: 0.5, pids_limit: 256 })).toMatchObject({ deleteRetentionDays: 0.5, pidsLimit: 256, problems: [] });
  });

  it('negative retention or a fractional pids limit is a problem', () => {
    expect(parsePlan({ ...planRaw, delete_retention_days: -1, pids_limit: 1.5 }).problems).toHaveLength(2);
  });

  it('a plan of another shape (text max_stacks, no cpu_limit) has problems, it does not throw', () => {
    const p = parsePlan({ id: 'plan00000000002', name: 'legacy', max_stacks: 'three', price_eur: 9, created: STAMP, updated: STAMP });
    expect(p.problems.length).toBeGreaterThan(0);
    expect(p.problems.join('; ')).toContain('max_stacks');
  });
});
