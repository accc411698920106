/**
 * The migrations produce exactly the SPEC §2 schema, read back from a real PocketBase through
 * GET /api/collections, and PocketBase enforces its constraints. Also: the down migration reverts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClientResponseError } from 'pocketbase';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { projectRoot, startPocketBase } from '../../../src/pocketbase/server-process.js';
import { adminClient, migrateDown, migrationFiles, startTestPocketBase, type TestPocketBase } from '../../helpers/pocketbase.js';
import { createPlan, createStack, createTenant, uniqueName } from '../../helpers/pb-fixtures.js';
import { join } from 'node:path';

const SLUG = '^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$';

/** SPEC §2, field by field: [name, type, required, extra properties that must match]. */
type FieldSpec = [string, string, boolean, Record<string, unknown>?];
const SCHEMA: Record<string, FieldSpec[]> = {
  plans: [
    ['name', 'text', true],
    ['max_stacks', 'number', false, { onlyInt: true, min: 0 }],
    ['cpu_limit', 'number', true, { onlyInt: false }],
    ['memory_mb', 'number', true, { onlyInt: true, min: 1 }],
    ['allowed_templates', 'json', false],
    ['pids_limit', 'number', false, { onlyInt: true, min: 0 }],
    ['delete_retention_days', 'number', false, { onlyInt: false, min: 0 }],
  ],
  tenants: [
    ['name', 'text', false],
    ['slug', 'text', true, { pattern: SLUG }],
    ['domain', 'text', false],
    ['status', 'select', true, { values: ['active', 'suspended', 'deleted'], maxSelect: 1 }],
    ['plan', 'relation', true, { maxSelect: 1, cascadeDelete: false, collectionName: 'plans' }],
    ['router_api_key', 'text', false, { hidden: true }],
    ['coolify_server_uuid', 'text', false],
    ['paused', 'bool', false],
    ['coolify_project_uuid', 'text', false],
    ['sync_status', 'select', false, { values: ['pending', 'ready', 'suspended', 'deleting', 'deleted', 'error'], maxSelect: 1 }],
    ['sync_message', 'text', false],
    ['synced_at', 'date', false],
  ],
  stacks: [
    ['tenant_id', 'relation', true, { maxSelect: 1, cascadeDelete: false, collectionName: 'tenants' }],
    ['name', 'text', true, { pattern: SLUG }],
    ['template', 'text', true],
    ['params', 'json', false],
    ['domains', 'json', false],
    ['desired_status', 'select', true, { values: ['running', 'stopped', 'deleted'], maxSelect: 1 }],
    ['paused', 'bool', false],
    ['restart_requested_at', 'date', false],
    [
      'status',
      'select',
      false,
      { values: ['pending', 'deploying', 'running', 'degraded', 'stopped', 'suspended', 'deleting', 'error'], maxSelect: 1 },
    ],
    ['status_message', 'text', false],
    ['coolify_service_uuid', 'text', false],
    ['template_version', 'text', false],
    ['applied_hash', 'text', false],
    ['observed_at', 'date', false],
    ['delete_after', 'date', false],
    ['restarted_at', 'date', false],
  ],
  reconcile_events: [
    ['subject', 'text', false],
    ['action', 'text', false],
    ['outcome', 'select', false, { values: ['ok', 'error'], maxSelect: 1 }],
    ['message', 'text', false],
    ['coolify_uuid', 'text', false],
  ],
};

interface ApiField {
  name: string;
  type: string;
  required?: boolean;
  hidden?: boolean;
  collectionId?: string;
  onCreate?: boolean;
  onUpdate?: boolean;
  [k: string]: unknown;
}
interface ApiCollection {
  id: string;
  name: string;
  type: string;
  fields: ApiField[];
  indexes: string[];
  listRule: unknown;
  viewRule: unknown;
  createRule: unknown;
  updateRule: unknown;
  deleteRule: unknown;
}

let pb: TestPocketBase;
const collections = new Map<string, ApiCollection>();

beforeAll(async () => {
  pb = await startTestPocketBase();
  for (const name of Object.keys(SCHEMA)) {
    collections.set(name, (await pb.admin.collections.getOne(name)) as unknown as ApiCollection);
  }
});

afterAll(async () => {
  await pb?.cleanup();
});

function collection(name: string): ApiCollection {
  const c = collections.get(name);
  if (!c) throw new Error(`collection ${name} not loaded`);
  return c;
}

/** Index definitions without quoting, collapsed whitespace, lower case. */
function normalizedIndexes(c: ApiCollection): string[] {
  return c.indexes.map((i) => i.replace(/[`"]/g, '').replace(/\s+/g, ' ').trim().toLowerCase());
}

async function expectRejected(p: Promise<unknown>, field: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientResponseError);
  const data = (err as ClientResponseError).response.data as Record<string, unknown> | undefined;
  expect(Object.keys(data ?? {})).toContain(field);
}

describe('migrations: schema as read back through /api/collections', () => {
  it.each(Object.keys(SCHEMA))('%s is a base collection, superuser-only, with exactly the SPEC fields', (name) => {
    const c = collection(name);
    expect(c.type).toBe('base');
    expect([c.listRule, c.viewRule, c.createRule, c.updateRule, c.deleteRule]).toEqual([null, null, null, null, null]);
    const expectedNames = ['id', ...(SCHEMA[name] ?? []).map(([n]) => n), 'created', 'updated'];
    expect(c.fields.map((f) => f.name).sort()).toEqual([...expectedNames].sort());
  });

  // Every row has all five values: jest would take a missing trailing argument for a `done` callback.
  it.each(Object.entries(SCHEMA).flatMap(([c, fields]) => fields.map(([n, t, r, extra]) => [c, n, t, r, extra ?? {}] as const)))(
    '%s.%s is %s (required %s)',
    (cname, fname, type, required, extra) => {
      const f = collection(cname).fields.find((x) => x.name === fname);
      expect(f).toBeDefined();
      expect(f?.type).toBe(type);
      expect(Boolean(f?.required)).toBe(required);
      expect(Boolean(f?.hidden)).toBe(Boolean(extra?.hidden));
      for (const [k, v] of Object.entries(extra ?? {})) {
        if (k === 'collectionName') expect(f?.collectionId).toBe(collection(v as string).id);
        else if (k !== 'hidden') expect(f?.[k]).toEqual(v);
      }
    },
  );

  it.each(Object.keys(SCHEMA))('%s: every field has a help text; daemon fields say not to edit them', (name) => {
    for (const f of collection(name).fields) {
      // PocketBase 0.39's autodate fields have no help text.
      if (['id', 'created', 'updated'].includes(f.name)) continue;
      expect([f.name, typeof f.help === 'string' && f.help.length > 0]).toEqual([f.name, true]);
    }
    const daemonFields: Record<string, string[]> = {
      tenants: ['coolify_project_uuid', 'sync_status', 'sync_message', 'synced_at'],
      stacks: ['status', 'status_message', 'coolify_service_uuid', 'template_version', 'applied_hash', 'observed_at', 'delete_after', 'restarted_at'],
    };
    for (const f of collection(name).fields) {
      const isDaemon = (daemonFields[name] ?? []).includes(f.name);
      if (name !== 'reconcile_events' && !['id', 'created', 'updated'].includes(f.name)) {
        expect([f.name, String(f.help).includes('do not edit')]).toEqual([f.name, isDaemon]);
      }
    }
  });

  it.each(Object.keys(SCHEMA))('%s has created/updated autodate fields', (name) => {
    const fields = collection(name).fields;
    const created = fields.find((f) => f.name === 'created');
    const updated = fields.find((f) => f.name === 'updated');
    expect(created).toMatchObject({ type: 'autodate', onCreate: true, onUpdate: false });
    expect(updated).toMatchObject({ type: 'autodate', onCreate: true, onUpdate: true });
  });

  it('has the unique indexes of SPEC §2 and the pruning index on reconcile_events.created', () => {
    expect(normalizedIndexes(collection('plans'))).toContainEqual(expect.stringMatching(/^create unique index \w+ on plans \(name\)$/));
    expect(normalizedIndexes(collection('tenants'))).toContainEqual(expect.stringMatching(/^create unique index \w+ on tenants \(slug\)$/));
    expect(normalizedIndexes(collection('stacks'))).toContainEqual(
      expect.stringMatching(/^create unique index \w+ on stacks \(tenant_id, ?name\)$/),
    );
    expect(normalizedIndexes(collection('reconcile_events'))).toContainEqual(
      expect.stringMatching(/^create index \w+ on reconcile_events \(created\)$/),
    );
  });
});

describe('migrations: constraints enforced by PocketBase', () => {
  it('rejects duplicate plan names, tenant slugs and stack names within a tenant', async () => {
    const plan = await createPlan(pb.admin);
    await expectRejected(createPlan(pb.admin, { name: plan.name }), 'name');
    const tenant = await createTenant(pb.admin, { plan: plan.id });
    await expectRejected(createTenant(pb.admin, { plan: plan.id, slug: tenant.slug }), 'slug');
    const stack = await createStack(pb.admin, { tenant_id: tenant.id });
    await expectRejected(createStack(pb.admin, { tenant_id: tenant.id, name: stack.name }), 'name');
    // The same stack name under another tenant is fine.
    const other = await createTenant(pb.admin, { plan: plan.id });
    await expect(createStack(pb.admin, { tenant_id: other.id, name: stack.name })).resolves.toMatchObject({ name: stack.name });
  });

  it('enforces the slug/name pattern', async () => {
    const plan = await createPlan(pb.admin);
    for (const slug of ['Acme', '-acme', 'acme-', 'a_b', 'a'.repeat(33)]) {
      await expectRejected(createTenant(pb.admin, { plan: plan.id, slug }), 'slug');
    }
    await expect(createTenant(pb.admin, { plan: plan.id, slug: 'a' })).resolves.toMatchObject({ slug: 'a' });
    const tenant = await createTenant(pb.admin, { plan: plan.id, slug: 'b' + 'x'.repeat(31) });
    await expectRejected(createStack(pb.admin, { tenant_id: tenant.id, name: 'My Stack' }), 'name');
  });

  it('enforces number bounds: max_stacks int >= 0, cpu_limit > 0, memory_mb int > 0', async () => {
    await expectRejected(createPlan(pb.admin, { max_stacks: -1 }), 'max_stacks');
    await expectRejected(createPlan(pb.admin, { max_stacks: 1.5 }), 'max_stacks');
    await expectRejected(createPlan(pb.admin, { cpu_limit: 0 }), 'cpu_limit');
    await expectRejected(createPlan(pb.admin, { cpu_limit: -0.5 }), 'cpu_limit');
    await expectRejected(createPlan(pb.admin, { memory_mb: 0 }), 'memory_mb');
    await expectRejected(createPlan(pb.admin, { memory_mb: 256.5 }), 'memory_mb');
    await expect(createPlan(pb.admin, { max_stacks: 0, cpu_limit: 0.25, memory_mb: 128 })).resolves.toMatchObject({
      max_stacks: 0,
      cpu_limit: 0.25,
    });
  });

  it('rejects unknown select values and missing relations', async () => {
    const plan = await createPlan(pb.admin);
    await expectRejected(createTenant(pb.admin, { plan: plan.id, status: 'paused' }), 'status');
    await expectRejected(createTenant(pb.admin, { plan: '' }), 'plan');
    const tenant = await createTenant(pb.admin, { plan: plan.id });
    await expectRejected(createStack(pb.admin, { tenant_id: tenant.id, desired_status: 'paused' }), 'desired_status');
    await expectRejected(createStack(pb.admin, { tenant_id: 'nosuchtenant123' }), 'tenant_id');
  });

  it('does not cascade: a tenant with stacks and a plan with tenants cannot be deleted', async () => {
    const plan = await createPlan(pb.admin);
    const tenant = await createTenant(pb.admin, { plan: plan.id });
    const stack = await createStack(pb.admin, { tenant_id: tenant.id });
    await expect(pb.admin.collection('tenants').delete(tenant.id)).rejects.toBeInstanceOf(ClientResponseError);
    await expect(pb.admin.collection('plans').delete(plan.id)).rejects.toBeInstanceOf(ClientResponseError);
    await expect(pb.admin.collection('stacks').getOne(stack.id)).resolves.toMatchObject({ id: stack.id });
  });

  it('returns the hidden router_api_key to superusers only', async () => {
    const plan = await createPlan(pb.admin);
    const tenant = await createTenant(pb.admin, { plan: plan.id, router_api_key: 'rk-hidden-check' });
    const asSuperuser = await pb.admin.collection('tenants').getOne(tenant.id);
    expect(asSuperuser.router_api_key).toBe('rk-hidden-check');
    // A guest may not even see the record (rules are null).
    const guest = await fetch(`${pb.server.url}/api/collections/tenants/records/${tenant.id}`);
    expect(guest.status).toBe(403);
    expect(await guest.text()).not.toContain('rk-hidden-check');
  });
});

describe('migrations: down', () => {
  it('reverts the four collections; serve applies them again', async () => {
    await createPlan(pb.admin, { name: uniqueName('down') });
    await pb.server.stop();
    const migrationsDir = join(projectRoot(), 'pocketbase', 'pb_migrations');
    const out = await migrateDown(pb.server.dataDir, migrationsDir, (await migrationFiles(migrationsDir)).length);
    expect(out).toContain('Reverted');

    // `serve` applies pending migrations, so look at the reverted database with no migrations dir.
    const emptyDir = await mkdtemp(join(tmpdir(), 'cf-no-migrations-'));
    const bare = await startPocketBase({
      dataDir: pb.server.dataDir,
      migrationsDir: emptyDir,
      email: pb.server.email,
      password: pb.server.password,
    });
    try {
      const admin = await adminClient(bare);
      const names = (await admin.collections.getFullList()).map((c) => c.name);
      for (const c of Object.keys(SCHEMA)) expect(names).not.toContain(c);
    } finally {
      await bare.stop();
      await rm(emptyDir, { recursive: true, force: true });
    }

    await pb.server.start();
    const admin = await adminClient(pb.server);
    const after = (await admin.collections.getFullList()).map((c) => c.name);
    for (const c of Object.keys(SCHEMA)) expect(after).toContain(c);
    await expect(admin.collection('plans').getFullList()).resolves.toEqual([]);
  });
});
