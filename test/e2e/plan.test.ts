/**
 * `cf-reconciler plan` against a real PocketBase and the Coolify simulator, run as the compiled CLI:
 * a converged world has nothing to do (exit 0); each kind of pending change is listed (exit 2);
 * plan writes nothing to either server (their request logs); and the daemon started after it
 * performs exactly the Coolify writes the plan listed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseMarker } from '../../src/coolify/markers.js';
import type { PlanResult } from '../../src/plan/run-plan.js';
import { freePort, projectRoot } from '../../src/pocketbase/server-process.js';
import { createPlan, createStack, createTenant, type RawRecord } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, type Harness } from './harness.js';

interface PlanRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Epoch ms window of the run, for the servers' request logs. */
  from: number;
  to: number;
}

/** The superuser `plan` signs in as (its own: a daemon's or an admin's session cannot be mistaken for it). */
const PLANNER = { email: 'planner@cf-reconciler.test', password: 'planner-password-1234' };
/** How plan's requests show in PocketBase's request log. */
const PLAN_AGENT = / \(plan\)$/;

/** Runs the compiled `cf-reconciler plan` with the harness's configuration. */
function runPlanCli(h: Harness, args: string[], override: Record<string, string> = {}): Promise<PlanRun> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    POCKETBASE_URL: h.config.pocketbase.url,
    POCKETBASE_SUPERUSER_EMAIL: PLANNER.email,
    POCKETBASE_SUPERUSER_PASSWORD: PLANNER.password,
    COOLIFY_URL: h.config.coolify.url,
    COOLIFY_TOKEN: h.config.coolify.token,
    COOLIFY_SERVER_UUID: h.config.coolify.serverUuid,
    TEMPLATES_DIR: h.config.templatesDir,
    ROUTER_BASE_URL: h.config.routerBaseUrl,
    RESYNC_INTERVAL_SECONDS: String(h.config.resyncIntervalSeconds),
    STATUS_POLL_SECONDS: String(h.config.statusPollSeconds),
    DELETE_RETENTION_SECONDS: String(h.config.deleteRetentionSeconds),
    COOLIFY_RATE_LIMIT_PER_MINUTE: String(h.config.coolify.rateLimitPerMinute),
    ...override,
  };
  const from = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli.js'), 'plan', ...args], { cwd: projectRoot(), env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, from, to: Date.now() }));
  });
}

/** `POST /api/v1/services/abc/start` → `POST services/{uuid}/start`. */
function routeOf(method: string, path: string): string {
  const parts = path.replace(/^\/api\/v1\//, '').split('/');
  const named = new Set(['projects', 'services', 'servers', 'environments', 'envs']);
  const out = parts.map((p, i) => (i > 0 && named.has(parts[i - 1] ?? '') && p !== 'bulk' ? (parts[i - 1] === 'envs' ? '{env_uuid}' : '{uuid}') : p));
  return `${method} ${out.join('/')}`;
}

const sorted = (list: string[]) => [...list].sort();
/** A second bot token (a rotated secret). */
const NEW_TOKEN = '987654321:AAHrotatedBotTokenValue0123456789xyz';

describe('cf-reconciler plan', () => {
  let h: Harness;
  const stacks: Record<string, RawRecord> = {};
  let tenantA: RawRecord;
  let tenantB: RawRecord;

  beforeAll(async () => {
    // A long retention: deletions scheduled by the first pass are not carried out while the test looks.
    h = await startHarness({ env: { DELETE_RETENTION_SECONDS: '3600' } });
    await h.admin.collection('_superusers').create({ ...PLANNER, passwordConfirm: PLANNER.password });
    const plan = await createPlan(h.admin, { max_stacks: 10 });
    tenantA = await createTenant(h.admin, { plan: plan.id });
    tenantB = await createTenant(h.admin, { plan: plan.id });
    for (const name of ['changed', 'deleted', 'orphaned', 'foreign', 'kept1', 'kept2']) {
      stacks[name] = await createStack(h.admin, { tenant_id: tenantA.id, name, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    }
    stacks.suspended = await createStack(h.admin, { tenant_id: tenantB.id, name: 'suspended', params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    for (const s of Object.values(stacks)) await h.waitStack(s.id, (r) => r.status === 'running', 30_000, `${String(s.name)} running`);
    stacks.resumed = await createStack(h.admin, { tenant_id: tenantA.id, name: 'resumed', desired_status: 'stopped', params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await h.waitStack(stacks.resumed.id, (r) => r.status === 'stopped', 30_000, 'resumed stopped');
    await h.waitTenant(tenantB.id, (r) => r.sync_status === 'ready');
    await h.daemon!.queue.onIdle();
    await h.stopDaemon();
  });
  afterAll(async () => {
    await h.cleanup();
  });

  /**
   * Writes either server received from `plan`: the simulator's request log during the run (only
   * plan talks to it then), and PocketBase's request log entries with plan's User-Agent.
   */
  async function writesDuring(run: PlanRun): Promise<{ coolify: string[]; pocketbase: string[] }> {
    const coolify = h.sim.requestLog.filter((r) => r.time >= run.from && r.time <= run.to && r.method !== 'GET').map((r) => `${r.method} ${r.path}`);
    // PocketBase writes its request log in batches: a marker request made after the run shows the batch is in.
    const marker = `plan-marker-${run.to}`;
    await h.admin.collection('plans').getList(1, 1, { filter: h.admin.filter('name = {:m}', { m: marker }) });
    const logs = await waitFor(
      async () => {
        const { items: list } = await h.admin.logs.getList(1, 1000, {
          filter: h.admin.filter('data.userAgent ~ {:ua} || data.url ~ {:m}', { ua: '(plan)', m: marker }),
        });
        return list.some((l) => String((l.data as { url?: string }).url ?? '').includes(marker)) ? list : null;
      },
      15_000,
      { what: 'PocketBase request log to include the marker' },
    );
    // Every plan run of this file so far, this one included: none may have written.
    const mine = logs.filter((l) => PLAN_AGENT.test((l.data as { userAgent?: string }).userAgent ?? ''));
    // Plan did read PocketBase as its own superuser (so the filter below is not vacuous).
    expect(mine.length).toBeGreaterThan(0);
    const pocketbase = mine
      .filter((l) => (l.data as { method?: string }).method !== 'GET' && !String((l.data as { url?: string }).url).includes('auth-with-password'))
      .map((l) => `${String((l.data as { method?: string }).method)} ${String((l.data as { url?: string }).url)}`);
    return { coolify, pocketbase };
  }

  it('a converged world: exit 0, "nothing to do", and nothing written anywhere', async () => {
    const run = await runPlanCli(h, []);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('nothing to do');
    expect(run.stdout).toContain('Orphan guard: allows');
    const json = await runPlanCli(h, ['--json']);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as PlanResult;
    expect(doc.changes).toBe(0);
    expect(doc.entries).toEqual([]);
    expect(await writesDuring(run)).toEqual({ coolify: [], pocketbase: [] });
  });

  it('lists every kind of pending change (exit 2), writes nothing, and the daemon then does exactly the listed Coolify writes', async () => {
    // The changes an admin (and a hand edit in Coolify) make while the daemon is stopped.
    const fresh = await createStack(h.admin, { tenant_id: tenantA.id, name: 'fresh', params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    await h.admin.collection('stacks').update(stacks.changed!.id, { params: { TELEGRAM_BOT_TOKEN: NEW_TOKEN, BOT_NAME: 'Renamed Bot' } });
    await h.admin.collection('tenants').update(tenantB.id, { status: 'suspended' });
    await h.admin.collection('stacks').update(stacks.deleted!.id, { desired_status: 'deleted' });
    await h.admin.collection('stacks').update(stacks.resumed!.id, { desired_status: 'running' });
    await h.admin.collection('stacks').delete(stacks.orphaned!.id);
    const bad = await createStack(h.admin, { tenant_id: tenantA.id, name: 'bad', template: 'no-such-template' });
    const stranger = await h.coolify.createService({
      name: 'not-ours',
      description: 'a service someone made by hand',
      projectUuid: String((await h.tenant(tenantA.id)).coolify_project_uuid),
      environmentName: 'production',
      serverUuid: h.sim.serverUuid,
      composeYaml: 'services:\n  app:\n    image: nginx:1.27\n',
    });
    await h.admin.collection('stacks').update(stacks.foreign!.id, { coolify_service_uuid: stranger.uuid });

    const text = await runPlanCli(h, []);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(2);
    const run = await runPlanCli(h, ['--json']);
    expect(run.code).toBe(2);
    const plan = JSON.parse(run.stdout) as PlanResult & { version: string };
    const entry = (key: string) => plan.entries.find((e) => e.key === key);
    const actionsOf = (key: string) => entry(key)?.actions.map((a) => a.action) ?? [];

    // New stack: created, env set, deployed; its record gets the new service.
    expect(actionsOf(`stack:${fresh.id}`)).toEqual(expect.arrayContaining(['create_service', 'set_env', 'deploy', 'record']));
    expect(entry(`stack:${fresh.id}`)!.label).toBe(`stack ${String(tenantA.slug)}/fresh`);
    // Changed param: update with what differs, env names only, redeploy.
    const changed = entry(`stack:${stacks.changed!.id}`)!;
    expect(changed.actions.map((a) => a.action)).toEqual(expect.arrayContaining(['update_service', 'set_env', 'deploy']));
    expect(changed.actions.find((a) => a.action === 'update_service')!.message).toContain('stack or template changed');
    expect(changed.actions.find((a) => a.action === 'update_service')!.changes).toContain('compose: changed');
    // Suspended tenant: its stack is stopped, the tenant's status follows.
    expect(actionsOf(`stack:${stacks.suspended!.id}`)).toContain('stop');
    expect(entry(`stack:${stacks.suspended!.id}`)!.actions.find((a) => a.action === 'stop')!.message).toContain('tenant suspended');
    expect(entry(`tenant:${tenantB.id}`)!.actions.find((a) => a.action === 'record')!.changes.join()).toContain('"suspended"');
    // A stopped stack asked to run again is started.
    const resumed = entry(`stack:${stacks.resumed!.id}`)!;
    expect(resumed.actions.find((a) => a.action === 'start')?.request).toEqual({ method: 'POST', route: 'services/{uuid}/start' });
    // Deletion with its date.
    const deleted = entry(`stack:${stacks.deleted!.id}`)!;
    const schedule = deleted.actions.find((a) => a.action === 'schedule_delete')!;
    expect(schedule.message).toMatch(/deletion scheduled for \d{4}-\d{2}-\d{2}T/);
    expect(deleted.actions.find((a) => a.action === 'record')!.changes.join()).toMatch(/deleteAfter: \(empty\) → \d{4}-\d{2}-\d{2}T/);
    expect(deleted.actions.map((a) => a.action)).toContain('stop');
    // Orphan: marked and stopped, and the guard allows it.
    expect(plan.orphans).toEqual([stacks.orphaned!.id]);
    expect(plan.guard).toEqual({ allowed: true });
    expect(actionsOf(`stack:${stacks.orphaned!.id}`)).toEqual(['mark_orphan', 'orphan_stop']);
    // A bad record and a refusal, with their messages.
    expect(entry(`stack:${bad.id}`)!.actions.find((a) => a.action === 'record')!.changes.join()).toContain('no-such-template');
    const refusal = entry(`stack:${stacks.foreign!.id}`)!.actions.find((a) => a.action === 'refuse')!;
    expect(refusal.message).toContain(`service ${stranger.uuid} is not managed by cf-reconciler`);
    // Converged stacks are not listed.
    expect(entry(`stack:${stacks.kept1!.id}`)).toBeUndefined();
    // Secrets by name only.
    expect(run.stdout).not.toContain(BOT_TOKEN);
    expect(run.stdout).not.toContain(String(tenantA.router_api_key));
    expect(text.stdout).not.toContain(BOT_TOKEN);
    // The rotated secret is named, its old and new values nowhere.
    expect(changed.actions.find((a) => a.action === 'set_env')!.changes).toEqual(['env: TELEGRAM_BOT_TOKEN']);
    for (const out of [run.stdout, text.stdout]) expect(out).not.toContain(NEW_TOKEN);
    expect(text.stdout).toContain('Plan: ');

    // Plan wrote nothing.
    expect(await writesDuring(run)).toEqual({ coolify: [], pocketbase: [] });
    expect(await writesDuring(text)).toEqual({ coolify: [], pocketbase: [] });

    // The daemon's pass: exactly the listed Coolify writes.
    const listed = plan.entries.flatMap((e) => e.actions.flatMap((a) => (a.request ? [`${a.request.method} ${a.request.route}`] : [])));
    const started = Date.now();
    await h.start();
    await h.waitStack(fresh.id, (r) => r.status === 'running', 30_000, 'fresh running');
    await h.waitStack(stacks.changed!.id, (r) => r.status === 'running' && r.applied_hash !== stacks.changed!.applied_hash, 30_000, 'changed applied');
    await h.waitStack(stacks.suspended!.id, (r) => r.status === 'suspended', 30_000, 'suspended');
    await h.waitStack(stacks.deleted!.id, (r) => r.status === 'deleting', 30_000, 'deleting');
    await h.waitStack(stacks.resumed!.id, (r) => r.status === 'running', 30_000, 'resumed running');
    await h.waitStack(bad.id, (r) => r.status === 'error', 30_000, 'bad in error');
    await h.waitStack(stacks.foreign!.id, (r) => r.status === 'error', 30_000, 'foreign refused');
    await waitFor(() => h.servicesOf(stacks.orphaned!.id).every((s) => parseMarker(s.description)?.extra['orphaned-at'] !== undefined), 30_000, {
      what: 'orphan marked',
    });
    // Two more resyncs with their reconciles: any write the plan did not list would show up here.
    await h.daemon!.resync();
    await h.daemon!.queue.onIdle();
    await h.daemon!.resync();
    await h.daemon!.queue.onIdle();
    const done = h.sim.requestLog.filter((r) => r.time >= started && r.method !== 'GET').map((r) => routeOf(r.method, r.path));
    expect(sorted(done)).toEqual(sorted(listed));
  });

  it('a guard refusal (many new orphans at once) is listed with its message, orphans untouched (exit 2)', async () => {
    await h.stopDaemon();
    for (const name of ['kept1', 'kept2', 'changed']) await h.admin.collection('stacks').delete(stacks[name]!.id);
    const run = await runPlanCli(h, ['--json']);
    expect(run.code).toBe(2);
    const plan = JSON.parse(run.stdout) as PlanResult;
    expect(plan.guard).toMatchObject({ allowed: false, guard: 'orphan-ratio' });
    expect((plan.guard as { message: string }).message).toContain('would become orphans');
    for (const name of ['kept1', 'kept2', 'changed']) expect(plan.orphans).toContain(stacks[name]!.id);
    expect(plan.entries.filter((e) => e.label === 'orphan')).toEqual([]);
    const text = await runPlanCli(h, []);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain('Orphan guard: REFUSES');
    expect(await writesDuring(run)).toEqual({ coolify: [], pocketbase: [] });
  });

  it('exits 1 with the cause when it cannot look: PocketBase refused, a rejected token', async () => {
    const closed = await freePort();
    const pbDown = await runPlanCli(h, [], { POCKETBASE_URL: `http://127.0.0.1:${closed}` });
    expect(pbDown.code).toBe(1);
    expect(pbDown.stderr).toContain('ECONNREFUSED');
    expect(pbDown.stdout).toBe('');
    const badToken = await runPlanCli(h, ['--json'], { COOLIFY_TOKEN: '9|wrong-token' });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toContain('Coolify rejects COOLIFY_TOKEN (401');
    expect(badToken.stderr).not.toContain('wrong-token');
  });
});
