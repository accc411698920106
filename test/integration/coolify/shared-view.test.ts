import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CoolifyInventory } from '../../../src/coolify/inventory.js';
import { formatProjectMarker, formatServiceMarker } from '../../../src/coolify/markers.js';
import { SharedCoolifyView } from '../../../src/coolify/shared-view.js';
import { composeDigest } from '../../../src/templates/compose-equals.js';
import { SIMPLE_COMPOSE, startSimWithClient, type SimWithClient } from '../../helpers/coolify-sim.js';

describe('SharedCoolifyView (simulator)', () => {
  let t: SimWithClient;
  let now: number;
  let view: SharedCoolifyView;
  beforeEach(async () => {
    t = await startSimWithClient({ sim: { lagMs: 0 } });
    now = Date.UTC(2026, 0, 1);
    view = new SharedCoolifyView(new CoolifyInventory(t.client, { now: () => now, composeDigest }), () => now);
  });
  afterEach(async () => {
    await t.close();
  });

  const calls = (from: number) => t.sim.requestLog.slice(from).map((r) => `${r.method} ${r.path}`);

  async function services(n: number): Promise<string[]> {
    const { uuid: projectUuid } = await t.client.createProject({ name: 'cf-tenant-a', description: formatProjectMarker({ tenantId: 'ta' }) });
    const uuids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { uuid } = await t.client.createService({
        name: `a-s${i}`,
        description: formatServiceMarker({ stackId: `s${i}`, tenantId: 'ta' }),
        projectUuid,
        environmentName: 'production',
        serverUuid: t.sim.serverUuid,
        composeYaml: SIMPLE_COMPOSE,
      });
      uuids.push(uuid);
    }
    return uuids;
  }

  it('answers 50 pollers with one list call per freshness bound', async () => {
    const uuids = await services(50);
    await view.observe();
    now += 15_000;
    let from = t.sim.requestLog.length;
    // Fifty stacks ask for a view at most 15 s old at once: one GET /services serves them all.
    const seen = await Promise.all(Array.from({ length: 50 }, (_, i) => view.fresh(15_000).then((s) => s.servicesByStack.get(`s${i}`)?.[0]?.uuid)));
    expect(seen).toEqual(uuids);
    expect(calls(from)).toEqual(['GET /api/v1/services']);
    // Within the bound nothing more is asked; past it, one more list.
    from = t.sim.requestLog.length;
    now += 10_000;
    await Promise.all(Array.from({ length: 50 }, () => view.fresh(15_000)));
    expect(calls(from)).toEqual([]);
    now += 10_000;
    await Promise.all(Array.from({ length: 50 }, () => view.fresh(15_000)));
    expect(calls(from)).toEqual(['GET /api/v1/services']);
    expect(view.stats).toEqual({ full: 1, servicesOnly: 2 });
  });

  it('counts the stacks that asked to see their service within the window, each once', () => {
    // 5 s window on the injected clock: a stack asking again counts once; older asks drop out.
    expect(view.noteWatcher('s1', 5_000)).toBe(1);
    now += 1_000;
    expect(view.noteWatcher('s2', 5_000)).toBe(2);
    expect(view.noteWatcher('s1', 5_000)).toBe(2);
    now += 4_500;
    // s2 asked 4.5 s ago, s1 was re-noted at the same time, s3 now.
    expect(view.noteWatcher('s3', 5_000)).toBe(3);
    now += 1_000;
    expect(view.noteWatcher('s3', 5_000)).toBe(1);
  });

  it('keeps a project read by GET through services-only passes until a later full pass decides', async () => {
    await view.observe();
    // A tenant's project created after the full pass, verified by GET and remembered.
    const { uuid } = await t.client.createProject({ name: 'cf-tenant-b', description: formatProjectMarker({ tenantId: 'tb' }) });
    now += 1_000;
    view.rememberProject('tb', await t.client.getProject(uuid));
    now += 20_000;
    await view.fresh(15_000);
    expect(view.stats.servicesOnly).toBe(1);
    expect(view.projectsOf('tb').map((p) => p.uuid)).toEqual([uuid]);
    // Deleted by hand: the next full pass (begun after the read) does not list it, so it is gone.
    await t.client.deleteProject(uuid);
    now += 1_000;
    await view.observe();
    expect(view.projectsOf('tb')).toEqual([]);
    now += 20_000;
    await view.fresh(15_000);
    expect(view.projectsOf('tb')).toEqual([]);
  });

  it('waits for a pass in progress instead of starting another, and sees a change made before it', async () => {
    const [uuid] = await services(1);
    await view.observe();
    await t.client.stopService(uuid!);
    await t.client.startService(uuid!);
    const changedAt = now;
    now += 1;
    const from = t.sim.requestLog.length;
    const [a, b, c] = await Promise.all([view.observe(), view.freshAfter(changedAt), view.fresh(1000)]);
    // The resync's pass serves the caller that must see the change; one only bounded by age gets
    // the snapshot it already had.
    expect(b).toBe(a);
    expect(c.observedAt).toBeLessThan(a.observedAt);
    expect(calls(from).sort()).toEqual(['GET /api/v1/projects', 'GET /api/v1/services']);
    expect(view.servicesOf('s0')[0]?.status).not.toBe('exited');
  });

  it('keeps a digest of each compose, not its text', async () => {
    await services(2);
    const snap = await view.observe();
    const s0 = snap.servicesByStack.get('s0')?.[0];
    expect(s0?.composeDigest).toBe(composeDigest(SIMPLE_COMPOSE));
    expect(s0).not.toHaveProperty('dockerComposeRaw');
    expect(view.projectsOf('ta')).toHaveLength(1);
  });
});
