/**
 * The lease migration (`1767225700_cf_lease.js`, collections `cf_leases` and `cf_create_intents`)
 * in a real PocketBase that already holds unrelated collections with records: `serve` installs it
 * beside them without touching them; the same migration applied again under another name changes
 * nothing (records in the lease collections included); `migrate down` removes exactly the two
 * collections it added and its bookkeeping, so that a later install starts clean.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type PocketBase from 'pocketbase';
import { projectRoot, startPocketBase, type PocketBaseServer } from '../../../src/pocketbase/server-process.js';
import { adminClient, migrateDown, migrationFiles } from '../../helpers/pocketbase.js';

const LEASE_FILE = '1767225700_cf_lease.js';
const LEASE_MIGRATION = join(projectRoot(), 'pocketbase', 'pb_migrations', LEASE_FILE);
const OURS = ['cf_leases', 'cf_create_intents'];
const UNRELATED = ['customers', 'audit_log'];

interface Snapshot {
  collection: Record<string, unknown>;
  records: Record<string, unknown>[];
}

let root: string;
let emptyDir: string;
let leaseDir: string;
let server: PocketBaseServer;
let admin: PocketBase;
const before = new Map<string, Snapshot>();

async function snapshot(pb: PocketBase, name: string): Promise<Snapshot> {
  // A collection's own `updated` stamp moves with any schema save; everything else must not.
  const { updated: _updated, ...collection } = (await pb.collections.getOne(name)) as unknown as Record<string, unknown>;
  const records = (await pb.collection(name).getFullList({ sort: 'id' })) as unknown as Record<string, unknown>[];
  return { collection, records };
}

async function names(): Promise<string[]> {
  return (await admin.collections.getFullList()).map((c) => c.name);
}

async function restartWith(migrationsDir: string): Promise<void> {
  await server.stop();
  server = await startPocketBase({ dataDir: server.dataDir, migrationsDir, email: server.email, password: server.password });
  admin = await adminClient(server);
}

function pre(name: string): Snapshot {
  const s = before.get(name);
  if (!s) throw new Error(`no snapshot of ${name}`);
  return s;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cf-pb-lease-mig-'));
  emptyDir = await mkdtemp(join(tmpdir(), 'cf-no-migrations-'));
  leaseDir = await mkdtemp(join(tmpdir(), 'cf-lease-migration-'));
  await copyFile(LEASE_MIGRATION, join(leaseDir, LEASE_FILE));
  // A database built by its owners through the API, without any cf-reconciler migration.
  server = await startPocketBase({ dataDir: join(root, 'pb_data'), migrationsDir: emptyDir });
  admin = await adminClient(server);
  await admin.collections.create({
    name: 'customers',
    type: 'base',
    listRule: '@request.auth.id != ""',
    fields: [
      { name: 'name', type: 'text', required: true },
      { name: 'epoch', type: 'number' },
      { name: 'created', type: 'autodate', onCreate: true },
      { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
    ],
    indexes: ['CREATE UNIQUE INDEX idx_customers_name ON customers (name)'],
  });
  await admin.collections.create({ name: 'audit_log', type: 'base', fields: [{ name: 'subject', type: 'text', required: true }] });
  await admin.collection('customers').create({ name: 'Acme', epoch: 1 });
  await admin.collection('customers').create({ name: 'Globex', epoch: 2 });
  await admin.collection('audit_log').create({ subject: 'tenant:abc' });
  for (const n of UNRELATED) before.set(n, await snapshot(admin, n));

  await restartWith(leaseDir);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  for (const d of [root, emptyDir, leaseDir]) if (d) await rm(d, { recursive: true, force: true });
});

describe('the lease migration installs beside unrelated collections', () => {
  it('creates cf_leases and cf_create_intents, superuser-only, with the unique epoch index', async () => {
    expect(await names()).toEqual(expect.arrayContaining([...OURS, ...UNRELATED]));
    const leases = (await snapshot(admin, 'cf_leases')).collection as { fields: { name: string }[]; indexes: string[] };
    expect(leases.fields.map((f) => f.name)).toEqual(expect.arrayContaining(['name', 'epoch', 'holder', 'renewed_at', 'released']));
    expect(leases.indexes.some((i) => /unique/i.test(i) && /\(name, epoch\)/.test(i))).toBe(true);
    for (const n of OURS) {
      const c = (await snapshot(admin, n)).collection;
      expect([n, c.listRule, c.viewRule, c.createRule, c.updateRule, c.deleteRule]).toEqual([n, null, null, null, null, null]);
    }
    // The unique index is the atomic step: a second create of the same epoch is refused.
    await admin.collection('cf_leases').create({ name: 'main', epoch: 1, holder: 'a' });
    await expect(admin.collection('cf_leases').create({ name: 'main', epoch: 1, holder: 'b' })).rejects.toThrow();
    await admin.collection('cf_create_intents').create({ subject: 'stack:abc', sent_at: new Date().toISOString() });
  });

  it('leaves the unrelated collections and their records exactly as they were', async () => {
    for (const n of UNRELATED) expect([n, await snapshot(admin, n)]).toEqual([n, pre(n)]);
  });
});

describe('applied twice, then rolled back', () => {
  it('a second application under another name changes nothing, records included', async () => {
    const once = new Map<string, Snapshot>();
    for (const n of [...OURS, ...UNRELATED]) once.set(n, await snapshot(admin, n));
    await copyFile(LEASE_MIGRATION, join(leaseDir, '1999999999_cf_lease_again.js'));
    await restartWith(leaseDir);
    for (const n of [...OURS, ...UNRELATED]) expect([n, await snapshot(admin, n)]).toEqual([n, once.get(n)]);
  }, 60_000);

  it('migrate down removes only the two collections it added; the unrelated ones stay as they were', async () => {
    const before = await names();
    await server.stop();
    const out = await migrateDown(server.dataDir, leaseDir, (await migrationFiles(leaseDir)).length);
    expect(out).toContain('Reverted');
    await restartWith(emptyDir);
    const after = await names();
    expect(after).not.toEqual(expect.arrayContaining([OURS[0]]));
    expect(after).not.toEqual(expect.arrayContaining([OURS[1]]));
    expect(after.sort()).toEqual(before.filter((n) => !OURS.includes(n)).sort());
    for (const n of UNRELATED) expect([n, await snapshot(admin, n)]).toEqual([n, pre(n)]);
  }, 60_000);

  it('installs again cleanly after the rollback (its bookkeeping went with it)', async () => {
    await rm(join(leaseDir, '1999999999_cf_lease_again.js'));
    await restartWith(leaseDir);
    for (const n of OURS) expect((await snapshot(admin, n)).records).toEqual([]);
    await server.stop();
    await migrateDown(server.dataDir, leaseDir, 1);
    await restartWith(emptyDir);
    expect((await names()).filter((n) => OURS.includes(n))).toEqual([]);
    for (const n of UNRELATED) expect([n, await snapshot(admin, n)]).toEqual([n, pre(n)]);
  }, 60_000);
});
