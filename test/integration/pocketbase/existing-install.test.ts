/**
 * Installing into a PocketBase that already holds collections named like ours (SPEC §2 "Installing
 * into an existing PocketBase"): a `tenants` shaped like CloudFreedom's production one (required
 * `type` select, status active/inactive/pending, no plan, an API rule, its own index) and a
 * `plans` with another field set, both with records. `serve` applies the real migrations; every
 * existing field, value, rule, index and record survives; the new fields exist and are optional;
 * a second application changes nothing; `migrate down` gives back exactly the pre-existing state.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type PocketBase from 'pocketbase';
import { projectRoot, startPocketBase, type PocketBaseServer } from '../../../src/pocketbase/server-process.js';
import { systemClock } from '../../../src/clock.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { PocketBaseStore } from '../../../src/pocketbase/store.js';
import { adminClient, migrateDown, migrationFiles } from '../../helpers/pocketbase.js';

interface ApiField {
  name: string;
  type: string;
  required?: boolean;
  values?: string[];
  help?: string;
  collectionId?: string;
  [k: string]: unknown;
}
interface ApiCollection {
  id: string;
  name: string;
  fields: ApiField[];
  indexes: string[];
  listRule: unknown;
  viewRule: unknown;
  createRule: unknown;
  updateRule: unknown;
  deleteRule: unknown;
}

const PROJECT_MIGRATIONS = join(projectRoot(), 'pocketbase', 'pb_migrations');
const PRE_EXISTING = ['plans', 'tenants', 'contacts'];

let root: string;
let emptyDir: string;
let server: PocketBaseServer;
let admin: PocketBase;
/** Collections and records as they were before any cf-reconciler migration. */
const before = new Map<string, { collection: ApiCollection; records: Record<string, unknown>[] }>();

async function snapshot(pb: PocketBase, name: string): Promise<{ collection: ApiCollection; records: Record<string, unknown>[] }> {
  // The collection's own `updated` stamp moves with every schema save; everything else must not.
  const { updated: _updated, ...collection } = (await pb.collections.getOne(name)) as unknown as ApiCollection & { updated: string };
  const records = (await pb.collection(name).getFullList({ sort: 'id' })) as unknown as Record<string, unknown>[];
  return { collection, records };
}

async function restartWith(migrationsDir: string): Promise<void> {
  await server.stop();
  server = await startPocketBase({ dataDir: server.dataDir, migrationsDir, email: server.email, password: server.password });
  admin = await adminClient(server);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cf-pb-existing-'));
  emptyDir = await mkdtemp(join(tmpdir(), 'cf-no-migrations-'));
  // The production database, built the way its owners built it: through the API, no cf migrations.
  server = await startPocketBase({ dataDir: join(root, 'pb_data'), migrationsDir: emptyDir });
  admin = await adminClient(server);
  await admin.collections.create({
    name: 'plans',
    type: 'base',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'name', type: 'text', required: true },
      { name: 'price_eur', type: 'number', required: true, min: 0 },
      { name: 'features', type: 'json' },
      { name: 'max_stacks', type: 'text' },
      { name: 'created', type: 'autodate', onCreate: true },
      { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
    ],
  });
  await admin.collections.create({
    name: 'tenants',
    type: 'base',
    listRule: '@request.auth.id != ""',
    viewRule: '@request.auth.id != ""',
    fields: [
      { name: 'name', type: 'text', required: true },
      { name: 'type', type: 'select', required: true, maxSelect: 1, values: ['internal', 'demo', 'public', 'enterprise'] },
      { name: 'status', type: 'select', required: true, maxSelect: 1, values: ['active', 'inactive', 'pending'] },
      { name: 'slug', type: 'text', help: 'their own help text' },
      { name: 'contact_email', type: 'email' },
      { name: 'created', type: 'autodate', onCreate: true },
      { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
    ],
    indexes: ['CREATE INDEX idx_tenants_type ON tenants (type)'],
  });
  await admin.collections.create({ name: 'contacts', type: 'base', fields: [{ name: 'email', type: 'email', required: true }] });
  await admin.collection('plans').create({ name: 'starter', price_eur: 9, features: ['a'], max_stacks: 'three' });
  await admin.collection('plans').create({ name: 'pro', price_eur: 29, features: ['a', 'b'] });
  // Two plans of the same name: a unique index on plans.name cannot be created over them.
  await admin.collection('plans').create({ name: 'pro', price_eur: 35, features: ['a', 'b', 'c'] });
  await admin.collection('tenants').create({ name: 'Acme', type: 'enterprise', status: 'active', slug: 'acme', contact_email: 'ops@acme.test' });
  await admin.collection('tenants').create({ name: 'Demo GmbH', type: 'demo', status: 'inactive', slug: 'demo' });
  await admin.collection('tenants').create({ name: 'Newcomer', type: 'public', status: 'pending' });
  await admin.collection('tenants').create({ name: 'Sales', type: 'internal', status: 'pending' });
  await admin.collection('contacts').create({ email: 'someone@example.test' });
  for (const name of PRE_EXISTING) before.set(name, await snapshot(admin, name));

  await restartWith(PROJECT_MIGRATIONS);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await rm(root, { recursive: true, force: true });
  await rm(emptyDir, { recursive: true, force: true });
});

function pre(name: string): { collection: ApiCollection; records: Record<string, unknown>[] } {
  const b = before.get(name);
  if (!b) throw new Error(`no snapshot of ${name}`);
  return b;
}

function byName(c: ApiCollection, name: string): ApiField | undefined {
  return c.fields.find((f) => f.name === name);
}

describe('serve applies the migrations to a production-shaped database', () => {
  it('keeps every pre-existing field as it was (type, options, help), except select values added', async () => {
    for (const name of PRE_EXISTING) {
      const now = (await snapshot(admin, name)).collection;
      for (const old of pre(name).collection.fields) {
        const field = byName(now, old.name);
        if (old.name === 'status') {
          expect(field).toEqual({ ...old, values: ['active', 'inactive', 'pending', 'suspended', 'deleted'] });
        } else {
          expect(field).toEqual(old);
        }
      }
    }
  });

  it('keeps API rules and existing indexes, and leaves unrelated collections alone', async () => {
    for (const name of PRE_EXISTING) {
      const was = pre(name).collection;
      const now = (await snapshot(admin, name)).collection;
      expect([now.listRule, now.viewRule, now.createRule, now.updateRule, now.deleteRule]).toEqual([
        was.listRule,
        was.viewRule,
        was.createRule,
        was.updateRule,
        was.deleteRule,
      ]);
      for (const idx of was.indexes) expect(now.indexes).toContain(idx);
    }
    expect((await snapshot(admin, 'contacts')).collection).toEqual(pre('contacts').collection);
  });

  it('keeps every record, value for value', async () => {
    for (const name of PRE_EXISTING) {
      const now = (await snapshot(admin, name)).records;
      expect(now.map((r) => r.id)).toEqual(pre(name).records.map((r) => r.id));
      now.forEach((r, i) => {
        const old = pre(name).records[i] ?? {};
        for (const [k, v] of Object.entries(old)) expect([k, r[k]]).toEqual([k, v]);
      });
    }
  });

  it('adds the missing fields, none of them required, each with a help text', async () => {
    const tenants = (await snapshot(admin, 'tenants')).collection;
    const plans = (await snapshot(admin, 'plans')).collection;
    const wanted: Record<string, [ApiCollection, string[]]> = {
      tenants: [tenants, ['domain', 'plan', 'router_api_key', 'coolify_server_uuid', 'paused', 'coolify_project_uuid', 'sync_status', 'sync_message', 'synced_at']],
      plans: [plans, ['cpu_limit', 'memory_mb', 'allowed_templates', 'pids_limit', 'delete_retention_days']],
    };
    for (const [, [c, names]] of Object.entries(wanted)) {
      for (const n of names) {
        const f = byName(c, n);
        expect([n, f !== undefined, Boolean(f?.required), (f?.help ?? '').length > 0]).toEqual([n, true, false, true]);
      }
    }
    expect(byName(tenants, 'plan')?.collectionId).toBe(plans.id);
    // plans.max_stacks exists as text in this database: kept as it is, not replaced.
    expect(byName(plans, 'max_stacks')?.type).toBe('text');
    // Their own slug field keeps its help; the unique index asks only filled-in slugs to differ.
    expect(byName(tenants, 'slug')?.help).toBe('their own help text');
    expect(tenants.indexes.some((i) => /unique/i.test(i) && /\(`?slug`?\)/.test(i))).toBe(true);
  });

  it('leaves out a unique index the existing data violates, with a warning in the log, and still starts', async () => {
    const plans = (await snapshot(admin, 'plans')).collection;
    expect(plans.indexes.some((i) => /unique/i.test(i))).toBe(false);
    expect(await readFile(server.logFile, 'utf8')).toContain('plans has duplicate values of (name); unique index idx_plans_name not created');
  });

  it('creates the collections that were missing', async () => {
    const names = (await admin.collections.getFullList()).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['stacks', 'reconcile_events']));
  });

  it("the daemon's store reads every record; each one it cannot act on carries problems naming the field", async () => {
    const store = new PocketBaseStore({ pb: admin, logger: silentLogger(), clock: systemClock });
    const tenants = await store.listTenants();
    expect(tenants.map((t) => t.name).sort()).toEqual(['Acme', 'Demo GmbH', 'Newcomer', 'Sales']);
    const problems = Object.fromEntries(tenants.map((t) => [t.name, t.problems.join('; ')]));
    expect(problems.Acme).toBe("field plan is empty: choose the tenant's plan");
    expect(problems['Demo GmbH']).toContain('field status is "inactive"');
    expect(problems.Newcomer).toContain('field slug is empty');
    expect(problems.Newcomer).toContain('field status is "pending"');
    const plans = await store.listPlans();
    expect(plans.map((p) => p.name).sort()).toEqual(['pro', 'pro', 'starter']);
    expect(plans.every((p) => p.problems.length > 0)).toBe(true);
  });

  it('lets admins keep working: a tenant without a plan can still be saved, a plan-less record is valid', async () => {
    const t = await admin.collection('tenants').create({ name: 'Later', type: 'demo', status: 'active', slug: 'later' });
    expect(t.plan).toBe('');
    await admin.collection('tenants').delete(t.id);
  });
});

describe('a second application changes nothing', () => {
  it('the same migration applied again under another name leaves every collection as it was', async () => {
    const names = ['plans', 'tenants', 'stacks', 'reconcile_events', 'contacts'];
    const once = new Map<string, unknown>();
    for (const n of names) once.set(n, await snapshot(admin, n));
    const twiceDir = await mkdtemp(join(tmpdir(), 'cf-migrations-twice-'));
    try {
      for (const f of await migrationFiles(PROJECT_MIGRATIONS)) await copyFile(join(PROJECT_MIGRATIONS, f), join(twiceDir, f));
      await copyFile(join(PROJECT_MIGRATIONS, '1767225600_cf_schema.js'), join(twiceDir, '1999999999_cf_schema_again.js'));
      await restartWith(twiceDir);
      for (const n of names) expect([n, await snapshot(admin, n)]).toEqual([n, once.get(n)]);

      // Roll back every migration applied here, the second copy included.
      await server.stop();
      const out = await migrateDown(server.dataDir, twiceDir, (await migrationFiles(twiceDir)).length);
      expect(out).toContain('Reverted');
      await restartWith(emptyDir);
    } finally {
      await rm(twiceDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('migrate down leaves the pre-existing collections and their records exactly as they were', async () => {
    const names = (await admin.collections.getFullList()).map((c) => c.name);
    expect(names).not.toContain('stacks');
    expect(names).not.toContain('reconcile_events');
    for (const n of PRE_EXISTING) expect([n, await snapshot(admin, n)]).toEqual([n, pre(n)]);
  });
});
