/**
 * ChangeFeed against a real PocketBase: records changed by an admin become reconcile keys
 * (with tenant and plan fan-out); the daemon's own status writes do not; stale admin copies do.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type PocketBase from 'pocketbase';
import { systemClock } from '../../../src/clock.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { ChangeFeed, type FeedEventInfo, type KeySource, type ResyncSnapshot } from '../../../src/pocketbase/change-feed.js';
import { PocketBaseStore } from '../../../src/pocketbase/store.js';
import type { ReconcileKey } from '../../../src/pocketbase/types.js';
import { adminSave, createPlan, createStack, createTenant, createTenantWithStack } from '../../helpers/pb-fixtures.js';
import { daemonClient, startTestPocketBase, type TestPocketBase } from '../../helpers/pocketbase.js';
import { waitFor } from '../../helpers/wait.js';

/** What a feed produced: keys with their source, and per-event outcomes. */
class FeedLog {
  readonly keys: { key: ReconcileKey; source: KeySource }[] = [];
  readonly events: FeedEventInfo[] = [];
  readonly snapshots: ResyncSnapshot[] = [];
  onKeys = (keys: ReconcileKey[], source: KeySource) => {
    for (const key of keys) this.keys.push({ key, source });
  };
  onEvent = (info: FeedEventInfo) => {
    this.events.push(info);
  };
  onResync = (s: ResyncSnapshot) => {
    this.snapshots.push(s);
  };
  keysSince(mark: number, source?: KeySource): ReconcileKey[] {
    return this.keys.slice(mark).filter((k) => !source || k.source === source).map((k) => k.key);
  }
  /** The handled event for record `id` with `action`, after index `mark`. */
  event(id: string, action: FeedEventInfo['action'], mark = 0): FeedEventInfo | undefined {
    return this.events.slice(mark).find((e) => e.id === id && e.action === action);
  }
}

let pb: TestPocketBase;
const running: { feed: ChangeFeed; client: PocketBase }[] = [];

beforeAll(async () => {
  pb = await startTestPocketBase();
});

afterEach(async () => {
  for (const r of running.splice(0)) await r.feed.stop();
});

afterAll(async () => {
  await pb?.cleanup();
});

async function startFeed(): Promise<{ feed: ChangeFeed; store: PocketBaseStore; log: FeedLog }> {
  const client = await daemonClient(pb.server);
  const logger = silentLogger();
  const store = new PocketBaseStore({ pb: client, logger, clock: systemClock });
  const log = new FeedLog();
  const feed = new ChangeFeed({
    pb: client,
    store,
    clock: systemClock,
    logger,
    onKeys: log.onKeys,
    onEvent: log.onEvent,
    onResync: log.onResync,
  });
  running.push({ feed, client });
  await feed.start();
  return { feed, store, log };
}

describe('ChangeFeed', () => {
  it('starts with a full resync that keys every tenant and stack', async () => {
    const { tenant, stack } = await createTenantWithStack(pb.admin);
    const { feed, log } = await startFeed();
    expect(feed.connected).toBe(true);
    expect(feed.lastResyncAt).not.toBeNull();
    expect(log.keysSince(0, 'resync')).toEqual(expect.arrayContaining([`tenant:${tenant.id}`, `stack:${stack.id}`]));
    expect(log.snapshots).toHaveLength(1);
    expect(log.snapshots[0]?.stacks.map((s) => s.id)).toContain(stack.id);
    expect(log.snapshots[0]?.tenants.find((t) => t.id === tenant.id)?.routerApiKey).toBe(tenant.router_api_key);
  });

  it('turns stack create, update and delete into the stack key', async () => {
    const plan = await createPlan(pb.admin);
    const tenant = await createTenant(pb.admin, { plan: plan.id });
    const { log } = await startFeed();

    const stack = await createStack(pb.admin, { tenant_id: tenant.id });
    expect((await waitFor(() => log.event(stack.id, 'create'))).keys).toEqual([`stack:${stack.id}`]);

    await pb.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
    expect((await waitFor(() => log.event(stack.id, 'update'))).keys).toEqual([`stack:${stack.id}`]);

    await pb.admin.collection('stacks').delete(stack.id);
    expect((await waitFor(() => log.event(stack.id, 'delete'))).keys).toEqual([`stack:${stack.id}`]);
    expect(log.keysSince(0, 'event')).toEqual([`stack:${stack.id}`, `stack:${stack.id}`, `stack:${stack.id}`]);
  });

  it('fans a tenant change out to the tenant and every stack of it', async () => {
    const plan = await createPlan(pb.admin);
    const tenant = await createTenant(pb.admin, { plan: plan.id });
    const s1 = await createStack(pb.admin, { tenant_id: tenant.id });
    const s2 = await createStack(pb.admin, { tenant_id: tenant.id });
    const other = await createTenantWithStack(pb.admin);
    const { log } = await startFeed();
    const mark = log.keys.length;

    await pb.admin.collection('tenants').update(tenant.id, { status: 'suspended' });
    const ev = await waitFor(() => log.event(tenant.id, 'update'));
    expect([...ev.keys].sort()).toEqual([`stack:${s1.id}`, `stack:${s2.id}`, `tenant:${tenant.id}`].sort());
    expect(log.keysSince(mark)).not.toContain(`stack:${other.stack.id}`);

    const fresh = await createTenant(pb.admin, { plan: plan.id });
    expect((await waitFor(() => log.event(fresh.id, 'create'))).keys).toEqual([`tenant:${fresh.id}`]);
    await pb.admin.collection('tenants').delete(fresh.id);
    expect((await waitFor(() => log.event(fresh.id, 'delete'))).keys).toEqual([`tenant:${fresh.id}`]);
  });

  it('fans a plan change out to the tenants on it and all their stacks', async () => {
    const plan = await createPlan(pb.admin);
    const t1 = await createTenant(pb.admin, { plan: plan.id });
    const t2 = await createTenant(pb.admin, { plan: plan.id });
    const s1 = await createStack(pb.admin, { tenant_id: t1.id });
    const s2 = await createStack(pb.admin, { tenant_id: t2.id });
    const s3 = await createStack(pb.admin, { tenant_id: t2.id });
    const other = await createTenantWithStack(pb.admin);
    const { log } = await startFeed();

    await pb.admin.collection('plans').update(plan.id, { max_stacks: 1 });
    const ev = await waitFor(() => log.event(plan.id, 'update'));
    expect([...ev.keys].sort()).toEqual(
      [`tenant:${t1.id}`, `tenant:${t2.id}`, `stack:${s1.id}`, `stack:${s2.id}`, `stack:${s3.id}`].sort(),
    );
    expect(ev.keys).not.toContain(`tenant:${other.tenant.id}`);
    expect(ev.keys).not.toContain(`stack:${other.stack.id}`);
  });

  it('ignores the daemon’s own status writes, but keys a stale copy saved by an admin', async () => {
    const { tenant, stack } = await createTenantWithStack(pb.admin);
    const { store, log } = await startFeed();
    const observedAt = Date.now();
    const staleStack = await pb.admin.collection('stacks').getOne(stack.id);
    const staleTenant = await pb.admin.collection('tenants').getOne(tenant.id);

    let mark = log.events.length;
    await store.updateStack(stack.id, {
      status: 'running',
      statusMessage: '',
      coolifyServiceUuid: 'svc-own-1',
      appliedHash: 'h1',
      observedAt,
    });
    expect((await waitFor(() => log.event(stack.id, 'update', mark))).keys).toEqual([]);
    await store.updateTenant(tenant.id, { syncStatus: 'ready', coolifyProjectUuid: 'proj-own-1', syncedAt: Date.now() });
    expect((await waitFor(() => log.event(tenant.id, 'update', mark))).keys).toEqual([]);
    expect(log.keysSince(0, 'event')).toEqual([]);

    // The admin UI saves the whole record it loaded earlier: daemon fields go back to stale values.
    mark = log.events.length;
    await adminSave(pb.admin, 'stacks', staleStack as never);
    expect((await waitFor(() => log.event(stack.id, 'update', mark))).keys).toEqual([`stack:${stack.id}`]);
    await adminSave(pb.admin, 'tenants', staleTenant as never);
    // A stale tenant copy needs the tenant corrected; its stacks are unaffected.
    expect((await waitFor(() => log.event(tenant.id, 'update', mark))).keys).toEqual([`tenant:${tenant.id}`]);

    // A correction that restores only part of the stale fields still leaves a stale copy: keyed again.
    mark = log.events.length;
    await store.updateStack(stack.id, { coolifyServiceUuid: 'svc-own-1', status: 'running', appliedHash: 'h1' });
    expect((await waitFor(() => log.event(stack.id, 'update', mark))).keys).toEqual([`stack:${stack.id}`]);
    // Once every daemon field holds what the daemon wrote, its write is quiet again.
    mark = log.events.length;
    await store.updateStack(stack.id, { observedAt });
    expect((await waitFor(() => log.event(stack.id, 'update', mark))).keys).toEqual([]);
  });

  it('keys a daemon field written by someone else even if this process never wrote it', async () => {
    const { stack } = await createTenantWithStack(pb.admin);
    const { log } = await startFeed();
    await pb.admin.collection('stacks').update(stack.id, { delete_after: '', template_version: '9.9.9' });
    expect((await waitFor(() => log.event(stack.id, 'update'))).keys).toEqual([`stack:${stack.id}`]);
  });

  it('keys malformed records too, including an edit from one bad value to another', async () => {
    const plan = await createPlan(pb.admin);
    const tenant = await createTenant(pb.admin, { plan: plan.id });
    const bad = await createStack(pb.admin, { tenant_id: tenant.id, params: [1, 2] });
    const { log } = await startFeed();
    expect(log.snapshots[0]?.stacks.find((s) => s.id === bad.id)?.problems).toHaveLength(1);

    await pb.admin.collection('stacks').update(bad.id, { params: [3] });
    expect((await waitFor(() => log.event(bad.id, 'update'))).keys).toEqual([`stack:${bad.id}`]);
    const broken = await createStack(pb.admin, { tenant_id: tenant.id, domains: 'not-a-list' });
    expect((await waitFor(() => log.event(broken.id, 'create'))).keys).toEqual([`stack:${broken.id}`]);
  });

  it('a later resync keys only records changed since the feed last saw them, never one that vanished', async () => {
    const { tenant, stack } = await createTenantWithStack(pb.admin);
    const extra = await createStack(pb.admin, { tenant_id: tenant.id });
    const quiet = await createStack(pb.admin, { tenant_id: tenant.id });
    const { feed, log } = await startFeed();
    const first = feed.lastResyncAt ?? 0;
    await feed.stop();
    // Changed and deleted while this feed was not listening (a reconnect's gap).
    await pb.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
    await pb.admin.collection('stacks').delete(extra.id);
    const mark = log.keys.length;
    await feed.resync();
    expect(feed.lastResyncAt).toBeGreaterThanOrEqual(first);
    const keys = log.keysSince(mark, 'resync');
    expect(keys).toEqual([`stack:${stack.id}`]);
    // Unchanged records are the drift resync's (constant Coolify cost), which gets the snapshot.
    expect(keys).not.toContain(`stack:${quiet.id}`);
    expect(keys).not.toContain(`tenant:${tenant.id}`);
    expect(log.snapshots.at(-1)?.stacks.map((s) => s.id)).toEqual(expect.arrayContaining([stack.id, quiet.id]));
    // Deleted or lost to a restored backup: only the orphan guard, reading this snapshot, may decide.
    expect(keys).not.toContain(`stack:${extra.id}`);
    expect(log.snapshots.at(-1)?.stacks.map((s) => s.id)).not.toContain(extra.id);
    // Nothing changed since: the next listing keys nothing at all.
    const mark2 = log.keys.length;
    await feed.resync();
    expect(log.keysSince(mark2)).toEqual([]);
  });

  it('coalesces concurrent resync requests', async () => {
    const { feed, log } = await startFeed();
    const before = log.snapshots.length;
    await Promise.all([feed.resync(), feed.resync(), feed.resync(), feed.resync()]);
    // One pass in flight plus at most one more for the requests that arrived meanwhile.
    expect(log.snapshots.length - before).toBeGreaterThanOrEqual(1);
    expect(log.snapshots.length - before).toBeLessThanOrEqual(2);
  });

  it('emits nothing after stop()', async () => {
    const { tenant } = await createTenantWithStack(pb.admin);
    const { feed, log } = await startFeed();
    await feed.stop();
    expect(feed.connected).toBe(false);
    const mark = log.keys.length;
    const stack = await createStack(pb.admin, { tenant_id: tenant.id });
    // A second, live feed sees the create; by then the stopped one would have seen it too.
    const { log: live } = await startFeed();
    await pb.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
    await waitFor(() => live.event(stack.id, 'update'));
    expect(log.keys.length).toBe(mark);
  });
});
