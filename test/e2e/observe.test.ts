/**
 * Observing Coolify once for everyone (counts, never times): a converged resync costs the same
 * Coolify calls at 10 and at 2,000 stacks; stacks starting at once are watched with one list call
 * per poll interval, not a GET each, while a lone starting stack reads its one service; services
 * that already match are adopted without a write; a burst of edits to one stack ends in at most
 * two deploys, the last one of the final value; an edit of a settled stack reads its one service
 * instead of listing every service.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { parsePlan, parseStack, parseTenant } from '../../src/pocketbase/records.js';
import { seedMatchingServices } from '../../bench/world.js';
import { createPlan, createStack, createTenant, type RawRecord } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, type Harness } from './harness.js';

const isWrite = (m: string) => m === 'POST' || m === 'PATCH' || m === 'DELETE';
const api = (r: { path: string }) => r.path.startsWith('/api/v1/');

/** `tenants` × `perTenant` stacks written while no daemon runs, as after an import or a restore. */
async function records(h: Harness, tenants: number, perTenant: number): Promise<{ plan: RawRecord; tenants: RawRecord[]; stacks: RawRecord[] }> {
  const plan = await createPlan(h.admin, { max_stacks: perTenant });
  const ts: RawRecord[] = [];
  const ss: RawRecord[] = [];
  for (let t = 0; t < tenants; t++) {
    const tenant = await createTenant(h.admin, { plan: plan.id });
    ts.push(tenant);
    for (let i = 0; i < perTenant; i++) ss.push(await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } }));
  }
  return { plan, tenants: ts, stacks: ss };
}

/** Services in the simulator that already match those records (compose, urls, env), running. */
async function matchingServices(h: Harness, w: { plan: RawRecord; tenants: RawRecord[]; stacks: RawRecord[] }): Promise<void> {
  await seedMatchingServices(h.sim, { plan: parsePlan(w.plan), tenants: w.tenants.map(parseTenant), stacks: w.stacks.map(parseStack) });
}

async function allRunning(h: Harness, n: number, timeoutMs = 240_000): Promise<void> {
  await waitFor(
    async () => (await h.admin.collection('stacks').getList(1, 1, { filter: 'status = "running" && coolify_service_uuid != ""' })).totalItems === n,
    timeoutMs,
    { what: `${n} stacks running`, intervalMs: 250 },
  );
}

async function quiet(h: Harness): Promise<void> {
  const queue = h.daemon!.queue;
  await waitFor(async () => {
    await queue.onIdle();
    return queue.depth === 0 && queue.inFlight === 0;
  }, 60_000, { what: 'queue idle', intervalMs: 100 });
}

describe('observing Coolify once for everyone', () => {
  let h: Harness;
  afterEach(async () => {
    await h.cleanup();
  });

  it('adopts services that already match with no write and at most one env read each', async () => {
    // Env checks at their default pace (20 services an hour), so the reads counted are adoption's.
    h = await startHarness({ startDaemon: false, env: { RESYNC_INTERVAL_SECONDS: '3600', ENV_CHECK_INTERVAL_SECONDS: '3600' } });
    const w = await records(h, 4, 5);
    await matchingServices(h, w);
    const from = h.sim.requestLog.length;
    await h.start();
    await allRunning(h, 20);
    await quiet(h);
    const log = h.sim.requestLog.slice(from).filter(api);
    expect(log.filter((r) => isWrite(r.method)).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    const envReads = log.filter((r) => r.method === 'GET' && r.path.endsWith('/envs'));
    expect(envReads.length).toBeLessThanOrEqual(20);
    // The uuids and hashes are recorded in PocketBase, so the next resync finds nothing to do.
    expect((await h.daemon!.resync())?.keys.size).toBe(0);
    for (const s of w.stacks) expect((await h.stack(s.id))?.applied_hash).not.toBe('');
  }, 120_000);

  it('watches 50 stacks starting at once with one list call per poll interval, not a GET each', async () => {
    // Starts take 4 s in the simulator; polls every second; no resync in the window.
    h = await startHarness({ env: { RESYNC_INTERVAL_SECONDS: '3600', STATUS_POLL_SECONDS: '1' }, sim: { lagMs: 4000 } });
    await h.daemon!.resync();
    const w = await records(h, 5, 10);
    const from = h.sim.requestLog.length;
    await allRunning(h, 50, 120_000);
    const log = h.sim.requestLog.slice(from).filter(api);
    const firstDeploy = log.find((r) => r.method === 'POST' && r.path === '/api/v1/deploy')!.time;
    const lastList = log.filter((r) => r.method === 'GET' && r.path === '/api/v1/services').at(-1)!.time;
    const watching = log.filter((r) => r.time >= firstDeploy && r.time <= lastList);
    const lists = watching.filter((r) => r.method === 'GET' && r.path === '/api/v1/services').length;
    const gets = watching.filter((r) => r.method === 'GET' && /^\/api\/v1\/services\/[^/]+$/.test(r.path)).length;
    // About one list per poll interval over the watched span (a pass can start a little before a
    // full interval has passed when it waits for a write noted late), never one per stack.
    expect(lists).toBeLessThanOrEqual(Math.ceil((lastList - firstDeploy) / 1000) + 3);
    expect(lists).toBeLessThan(w.stacks.length / 4);
    // A stack alone in asking within an interval reads its own service: only the first poll,
    // before the others have asked, or the last one may.
    expect(gets).toBeLessThanOrEqual(6);
  }, 180_000);

  it('watches a lone starting stack by reading its one service, never listing every service', async () => {
    h = await startHarness({ env: { RESYNC_INTERVAL_SECONDS: '3600', STATUS_POLL_SECONDS: '1' }, sim: { lagMs: 3000 } });
    await h.daemon!.resync();
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const from = h.sim.requestLog.length;
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const uuid = String((await h.waitStack(stack.id, (r) => r.status === 'running', 60_000)).coolify_service_uuid);
    const log = h.sim.requestLog.slice(from).filter(api);
    const firstDeploy = log.findIndex((r) => r.method === 'POST' && r.path === '/api/v1/deploy');
    const watched = log.slice(firstDeploy).map((r) => `${r.method} ${r.path}`);
    // Starting took 3 s, polled every second: each poll was one GET of the stack's own service.
    expect(watched).not.toContain('GET /api/v1/services');
    expect(watched.filter((c) => c === `GET /api/v1/services/${uuid}`).length).toBeGreaterThanOrEqual(2);
    expect(h.sim.state.statusOf(h.sim.state.service(uuid)!)).toMatch(/^running/);
  }, 120_000);

  it('applies an edit of a settled stack by reading its one service, never waiting for a list of all of them', async () => {
    h = await startHarness({ env: { RESYNC_INTERVAL_SECONDS: '3600', STATUS_POLL_SECONDS: '1' }, sim: { lagMs: 0 } });
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const uuid = String((await h.waitStack(stack.id, (r) => r.status === 'running')).coolify_service_uuid);
    await quiet(h);
    // Past the lifecycle grace (6 poll intervals) and the view's freshness: nothing is being watched.
    const settledAt = Date.now();
    await waitFor(() => Date.now() - settledAt > 6_500, 10_000, { what: 'the lifecycle grace to pass', intervalMs: 250 });
    const from = h.sim.requestLog.length;
    await h.admin.collection('stacks').update(stack.id, { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN, BOT_NAME: 'Edited' } });
    await waitFor(() => h.sim.requestLog.slice(from).some((r) => r.method === 'PATCH' && r.path === `/api/v1/services/${uuid}`), 20_000, { what: 'the edit applied' });
    const log = h.sim.requestLog.slice(from);
    const firstWrite = log.findIndex((r) => isWrite(r.method));
    const before = log.slice(0, firstWrite).map((r) => `${r.method} ${r.path}`);
    expect(before).not.toContain('GET /api/v1/services');
    expect(before).toContain(`GET /api/v1/services/${uuid}`);
    expect(h.sim.state.service(uuid)?.composeRaw).toContain('Your name is Edited.');
  }, 120_000);

  it('ends a burst of edits to one stack in at most two deploys, the last carrying the final value', async () => {
    h = await startHarness({ env: { RESYNC_INTERVAL_SECONDS: '3600' }, sim: { lagMs: 0 } });
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const uuid = String((await h.waitStack(stack.id, (r) => r.status === 'running')).coolify_service_uuid);
    await quiet(h);
    const from = h.sim.requestLog.length;
    let last = '';
    for (let i = 0; i < 60; i++) {
      last = `Burst ${i}`;
      await h.admin.collection('stacks').update(stack.id, { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN, BOT_NAME: last } });
    }
    await waitFor(() => h.sim.state.service(uuid)?.composeRaw.includes(`Your name is ${last}.`) === true, 20_000, { what: 'the final value in Coolify' });
    await h.waitStack(stack.id, (r) => r.status === 'running');
    await quiet(h);
    const log = h.sim.requestLog.slice(from);
    const deploys = log.filter((r) => r.method === 'POST' && r.path === '/api/v1/deploy');
    const patches = log.filter((r) => r.method === 'PATCH' && r.path === `/api/v1/services/${uuid}`);
    expect(deploys.length).toBeLessThanOrEqual(2);
    expect(patches.length).toBeLessThanOrEqual(2);
    // The last deploy came after the last PATCH: the containers run the final value.
    expect(deploys.at(-1)!.time).toBeGreaterThanOrEqual(patches.at(-1)!.time);
  }, 120_000);
});

describe('converged resync cost from 10 to 2,000 stacks', () => {
  let h: Harness;
  afterEach(async () => {
    await h.cleanup();
  });

  async function resyncCalls(): Promise<string[]> {
    await quiet(h);
    const queue = h.daemon!.queue;
    await waitFor(async () => {
      await queue.onIdle();
      return queue.delayed === 0 && queue.depth === 0 && queue.inFlight === 0;
    }, 60_000, { what: 'no poll pending', intervalMs: 100 });
    const from = h.sim.requestLog.length;
    const plan = await h.daemon!.resync();
    await queue.onIdle();
    expect(plan?.keys.size).toBe(0);
    return h.sim.requestLog.slice(from).map((r) => `${r.method} ${r.path}`).sort();
  }

  it('makes the same list calls and no write with 10 and with 2,000 stacks', async () => {
    h = await startHarness({
      startDaemon: false,
      env: { RESYNC_INTERVAL_SECONDS: '3600', RECONCILE_CONCURRENCY: '8', COOLIFY_RATE_LIMIT_PER_MINUTE: '100000', LOG_LEVEL: 'info' },
      sim: { lagMs: 0, rateLimit: { limit: 1_000_000 } },
      deps: { envChecksPerMinute: 0 },
    });
    const small = await records(h, 2, 5);
    await matchingServices(h, small);
    await h.start();
    await allRunning(h, 10);
    const ten = await resyncCalls();
    await h.stopDaemon();
    const large = await records(h, 398, 5);
    await matchingServices(h, large);
    await h.start();
    await allRunning(h, 2000, 600_000);
    const twoThousand = await resyncCalls();
    expect(ten).toEqual(['GET /api/v1/projects', 'GET /api/v1/services']);
    expect(twoThousand).toEqual(ten);
  }, 900_000);
});
