/**
 * Orphans and the guard against an untrustworthy PocketBase: a service whose stack record was
 * deleted by hand is stopped at once and deleted after the retention, counted across a daemon
 * restart; a PocketBase restored from an older backup (stacks missing) or emptied makes the daemon
 * refuse to touch orphans; a PocketBase restart is survived.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, rm } from 'node:fs/promises';
import { parseMarker } from '../../src/coolify/markers.js';
import { createPlan, createStack, createTenant } from '../helpers/pb-fixtures.js';
import { adminClient } from '../helpers/pocketbase.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, simStatus, type Harness } from './harness.js';

/** Orphan retention of the first suite (s): long enough for a daemon restart and a resync inside it. */
const RETENTION_S = 6;

describe('orphans, the orphan guard and PocketBase restarts', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { DELETE_RETENTION_SECONDS: String(RETENTION_S) } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  async function stacksOf(count: number, plan?: string) {
    const p = plan ?? (await createPlan(h.admin, { max_stacks: 50 })).id;
    const tenant = await createTenant(h.admin, { plan: p });
    const stacks = [];
    for (let i = 0; i < count; i++) stacks.push(await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } }));
    for (const s of stacks) await h.waitStack(s.id, (r) => r.status === 'running');
    return { tenant, stacks };
  }

  async function reconnectAdmin() {
    h.admin = await adminClient(h.pb.server);
    h.pb.admin = h.admin;
  }

  it('stops an orphan at once, marks it durably and deletes it after the retention, across a daemon restart', async () => {
    const { stacks } = await stacksOf(6);
    const victim = stacks[0]!;
    const uuid = h.servicesOf(victim.id)[0]!.uuid;
    await h.admin.collection('stacks').delete(victim.id);

    await waitFor(() => simStatus(h.sim.state.service(uuid)) === 'exited', 10_000, { what: 'orphan stopped' });
    const marked = await waitFor(() => parseMarker(h.sim.state.service(uuid)?.description)?.extra['orphaned-at'], 10_000);
    const orphanedAt = Date.parse(marked);
    const marks = async () => (await h.events(`stack:${victim.id}`)).filter((e) => e.action === 'mark_orphan').length;
    const actions = (await h.events(`stack:${victim.id}`)).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['mark_orphan', 'orphan_stop']));
    expect(await marks()).toBe(1);

    // A restart forgets everything in memory; the mark on the service carries the retention. After
    // the new daemon's resync has run (still inside the retention) the mark is the original one.
    await h.stopDaemon();
    await h.start();
    await h.daemon!.resync();
    await h.daemon!.queue.onIdle();
    expect(Date.now()).toBeLessThan(orphanedAt + RETENTION_S * 1000);
    expect(parseMarker(h.sim.state.service(uuid)?.description)?.extra['orphaned-at']).toBe(marked);
    expect(simStatus(h.sim.state.service(uuid))).toBe('exited');
    expect(await marks()).toBe(1);

    // Down across the deadline: the next daemon deletes at once, well before a retention counted
    // from its own start (which is when a daemon that re-marked on start would delete).
    await h.stopDaemon();
    await waitFor(() => Date.now() > orphanedAt + RETENTION_S * 1000, RETENTION_S * 1000 + 5_000, { what: 'the deadline to pass', intervalMs: 100 });
    const restartAt = Date.now();
    await h.start();
    await waitFor(() => h.sim.state.service(uuid) === undefined, 20_000, { what: 'orphan deleted' });
    const deletes = h.sim.requestLog.filter((r) => r.method === 'DELETE' && r.path === `/api/v1/services/${uuid}`);
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.time).toBeGreaterThanOrEqual(orphanedAt + RETENTION_S * 1000);
    expect(deletes[0]!.time).toBeLessThan(restartAt + RETENTION_S * 1000);
    expect(await marks()).toBe(1);
    expect((await h.events(`stack:${victim.id}`)).map((e) => e.action)).toContain('delete_service');
    // The others are untouched.
    for (const s of stacks.slice(1)) expect(simStatus(h.servicesOf(s.id)[0])).toBe('running');
  });

  it('survives a PocketBase restart and converges records created after it', async () => {
    await h.pb.server.restart();
    await reconnectAdmin();
    await waitFor(async () => (await h.daemon!.readiness()).length === 0, 20_000, { what: 'ready again' });
    const { stacks } = await stacksOf(1);
    expect(h.servicesOf(stacks[0]!.id)).toHaveLength(1);
  });

  it('refuses to act on orphans when a restored database has lost stacks, and when it is empty', async () => {
    // Start from a clean slate: every earlier stack goes, so the ratio below is exact.
    for (const r of await h.admin.collection('stacks').getFullList()) {
      await h.admin.collection('stacks').update(r.id, { desired_status: 'deleted' });
    }
    await waitFor(async () => (await h.admin.collection('stacks').getFullList()).length === 0, 30_000, { what: 'stacks gone' });
    await waitFor(() => h.sim.state.services.length === 0, 20_000, { what: 'services gone' });

    const plan = await createPlan(h.admin, { max_stacks: 50 });
    const { stacks: kept } = await stacksOf(1, plan.id);
    // The backup is taken with one stack; four more are added afterwards.
    const dataDir = h.pb.server.dataDir;
    const backup = `${dataDir}.backup`;
    await h.pb.server.stop();
    await cp(dataDir, backup, { recursive: true });
    await h.pb.server.start();
    await reconnectAdmin();
    const { stacks: lost } = await stacksOf(4, plan.id);
    await h.daemon!.resync();

    // Restore the older backup: the four newer stacks no longer exist in PocketBase.
    await h.pb.server.stop();
    await rm(dataDir, { recursive: true, force: true });
    await cp(backup, dataDir, { recursive: true });
    await h.pb.server.start();
    await reconnectAdmin();
    const plan1 = await waitFor(async () => {
      const p = await h.daemon!.resync();
      return p?.refusal ? p : undefined;
    }, 20_000, { what: 'guard refusal' });
    expect(plan1.refusal?.guard).toBe('orphan-ratio');
    expect(plan1.newOrphans.sort()).toEqual(lost.map((s) => s.id).sort());

    for (const s of lost) {
      const svc = h.servicesOf(s.id);
      expect(svc).toHaveLength(1);
      expect(simStatus(svc[0])).toBe('running');
      expect(parseMarker(svc[0]!.description)?.extra).toEqual({});
    }
    expect(simStatus(h.servicesOf(kept[0]!.id)[0])).toBe('running');
    const refusals = (await h.events()).filter((e) => e.action === 'refuse');
    expect(refusals.some((e) => String(e.message).includes('would become orphans'))).toBe(true);
    expect(h.logs.some((l) => l.includes('refusing to act on orphaned services'))).toBe(true);
    expect(await h.daemon!.metrics.text()).toMatch(/cf_guard_refusals_total\{guard="orphan-ratio"\} [1-9]/);

    // An emptied database is refused outright, whatever the ratio.
    await h.admin.collection('stacks').delete(kept[0]!.id);
    const plan2 = await waitFor(async () => {
      const p = await h.daemon!.resync();
      return p?.refusal?.guard === 'empty-stacks' ? p : undefined;
    }, 20_000, { what: 'empty guard' });
    expect(plan2.refusal?.message).toMatch(/no stacks/);
    for (const s of lost) expect(simStatus(h.servicesOf(s.id)[0])).toBe('running');
    await rm(backup, { recursive: true, force: true });
  });
});

describe('the orphan guard against a slow Coolify listing after a restore', () => {
  let h: Harness;
  beforeAll(async () => {
    // Long periods: only the feed's resync on PocketBase's reconnect runs while the race is open.
    h = await startHarness({ env: { DELETE_RETENTION_SECONDS: '3600', RESYNC_INTERVAL_SECONDS: '600' } });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('neither stops nor marks the lost services while the guard is still evaluating the restored database', async () => {
    const plan = await createPlan(h.admin, { max_stacks: 50 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const make = () => createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const kept = await make();
    await h.waitStack(kept.id, (r) => r.status === 'running');
    const dataDir = h.pb.server.dataDir;
    const backup = `${dataDir}.race-backup`;
    await h.pb.server.stop();
    await cp(dataDir, backup, { recursive: true });
    await h.pb.server.start();
    h.admin = await adminClient(h.pb.server);
    h.pb.admin = h.admin;
    const lost = [];
    for (let i = 0; i < 4; i++) lost.push(await make());
    for (const s of lost) await h.waitStack(s.id, (r) => r.status === 'running');
    await h.daemon!.resync();

    // Coolify's project listing is slow (many projects): the feed's listing of the restored
    // database is ready seconds before the guard has compared it with Coolify.
    h.sim.faults.delayNext('GET projects', 3000, 3);
    await h.pb.server.stop();
    await rm(dataDir, { recursive: true, force: true });
    await cp(backup, dataDir, { recursive: true });
    await h.pb.server.start();
    h.admin = await adminClient(h.pb.server);
    h.pb.admin = h.admin;

    // The feed's reconnect resync is evaluated (slowly) and refused; then every queued key has run.
    await waitFor(() => h.logs.some((l) => l.includes('refusing to act on orphaned services')), 30_000, { what: 'guard refusal' });
    await h.daemon!.queue.onIdle();
    for (const s of lost) {
      const svc = h.servicesOf(s.id);
      expect(svc).toHaveLength(1);
      expect(simStatus(svc[0])).toBe('running');
      expect(parseMarker(svc[0]!.description)?.extra).toEqual({});
    }
    // Nothing was laundered into "old" orphans: the guard still counts all four as new.
    const again = await h.daemon!.resync();
    expect(again?.refusal?.guard).toBe('orphan-ratio');
    expect(again?.newOrphans.sort()).toEqual(lost.map((s) => s.id).sort());
    expect(simStatus(h.servicesOf(kept.id)[0])).toBe('running');
    await rm(backup, { recursive: true, force: true });
  });
});
