/**
 * Env vars: the budgeted drift checks (a quarter of COOLIFY_RATE_LIMIT_PER_MINUTE per window,
 * round robin, a reported period, real changes not starved), and the clean-up of env vars the
 * daemon set but the stack no longer has, never touching vars added by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/pocketbase/server-process.js';
import { MANAGED_ENV_VAR } from '../../reconcilers/managed-env.js';
import { createPlan, createStack, createTenant } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, type Harness } from './harness.js';

/** Largest number of `times` inside any window of `windowMs`. */
function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= windowMs) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

const ENV_PATH = /^\/api\/v1\/services\/([^/]+)\/envs$/;

describe('env checks within their budget', () => {
  const LIMIT = 40;
  const WINDOW_MS = 2_000;
  const BUDGET = LIMIT / 4;
  const N = 12;
  let h: Harness;
  beforeAll(async () => {
    // The daemon's own limiter and env budget from COOLIFY_RATE_LIMIT_PER_MINUTE, on a 2 s window.
    // ENV_CHECK_INTERVAL_SECONDS of 1 s asks for more than the budget allows: the budget binds.
    h = await startHarness({
      env: { COOLIFY_RATE_LIMIT_PER_MINUTE: String(LIMIT), ENV_CHECK_INTERVAL_SECONDS: '1' },
      deps: { rateWindowMs: WINDOW_MS },
    });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('spends at most limit/4 per window, visits every service in turn, reports the period, and never starves a real change', async () => {
    const plan = await createPlan(h.admin, { max_stacks: N });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stacks = [];
    for (let i = 0; i < N; i++) stacks.push(await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } }));
    const uuids = new Set<string>();
    for (const s of stacks) uuids.add(String((await h.waitStack(s.id, (r) => r.status === 'running', 120_000)).coolify_service_uuid));
    await h.daemon!.resync();
    expect(h.daemon!.envChecker.targets).toBe(N);

    // The reported period: N services at one check per WINDOW_MS / BUDGET.
    const metrics = await fetch(`${h.daemon!.url}/metrics`).then((r) => r.text());
    const period = Number(/^cf_env_check_period_seconds (\S+)$/m.exec(metrics)?.[1]);
    expect(period).toBeCloseTo((N * WINDOW_MS) / BUDGET / 1000, 6);

    // Three full rotations, with an admin change made in the middle of them.
    const since = h.sim.requestLog.length;
    const envGets = () => h.sim.requestLog.slice(since).filter((r) => r.method === 'GET' && ENV_PATH.test(r.path));
    await waitFor(() => envGets().length >= N, 30_000, { what: 'one rotation of env checks' });
    const changed = stacks[0]!;
    await h.admin.collection('stacks').update(changed.id, { desired_status: 'stopped' });
    await h.waitStack(changed.id, (r) => r.status === 'stopped', 15_000, 'the stop asked for while env checks run');
    await waitFor(() => envGets().length >= 3 * N, 60_000, { what: 'three rotations of env checks' });

    const gets = envGets();
    expect(maxInWindow(gets.map((r) => r.time), WINDOW_MS)).toBeLessThanOrEqual(BUDGET);
    const all = h.sim.requestLog.slice(since).filter((r) => r.path.startsWith('/api/v1/'));
    expect(maxInWindow(all.map((r) => r.time), WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
    // Round robin: any N consecutive checks cover all N services, so each is checked within the period.
    const order = gets.map((r) => ENV_PATH.exec(r.path)![1]!);
    for (let i = 0; i + N <= order.length; i++) expect(new Set(order.slice(i, i + N))).toEqual(uuids);
  });
});

describe('env vars the stack no longer has', () => {
  let h: Harness;
  let templatesDir: string;
  beforeAll(async () => {
    // The shipped templates plus an optional secret param on telegram-bot.
    templatesDir = await mkdtemp(join(tmpdir(), 'cf-e2e-templates-'));
    await cp(join(projectRoot(), 'templates'), templatesDir, { recursive: true });
    const file = join(templatesDir, 'telegram-bot', 'template.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(
      file,
      text.replace(/^params:\n/m, 'params:\n  - { name: WEBHOOK_SECRET, type: string, secret: true, pattern: "^[A-Za-z0-9]{16,64}$" }\n'),
    );
    const compose = join(templatesDir, 'telegram-bot', 'compose.yaml');
    const composeText = await readFile(compose, 'utf8');
    await writeFile(compose, composeText.replace(/^( +)TELEGRAM_BOT_TOKEN: .*$/m, (line, indent: string) => `${line}\n${indent}WEBHOOK_SECRET: \${WEBHOOK_SECRET}`));
    h = await startHarness({ env: { TEMPLATES_DIR: templatesDir } });
  });
  afterAll(async () => {
    await h.cleanup();
    await rm(templatesDir, { recursive: true, force: true });
  });

  it('deletes a removed secret param from the service and leaves a hand-added var alone', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const params = { TELEGRAM_BOT_TOKEN: BOT_TOKEN, WEBHOOK_SECRET: 'whsecretABCDEF0123456789' };
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params });
    const running = await h.waitStack(stack.id, (r) => r.status === 'running');
    const uuid = String(running.coolify_service_uuid);
    const keys = () => h.sim.state.service(uuid)!.envs.map((e) => e.key).sort();
    expect(keys()).toContain('WEBHOOK_SECRET');
    const managed = () => h.sim.state.service(uuid)!.envs.find((e) => e.key === MANAGED_ENV_VAR)?.value;
    expect(managed()).toBe('CLOUDFREEDOM_API_KEY,CLOUDFREEDOM_ROUTER_BASE_URL,TELEGRAM_BOT_TOKEN,WEBHOOK_SECRET');
    // An operator adds a var of their own in Coolify.
    await h.coolify.upsertServiceEnvs(uuid, [{ key: 'HAND_ADDED', value: 'kept' }]);

    const { WEBHOOK_SECRET: _removed, ...rest } = params;
    await h.admin.collection('stacks').update(stack.id, { params: rest });
    await waitFor(() => !keys().includes('WEBHOOK_SECRET'), 20_000, { what: 'WEBHOOK_SECRET deleted' });
    // The list of managed keys is narrowed only after the deletes (a crash in between forgets nothing).
    await waitFor(() => managed() === 'CLOUDFREEDOM_API_KEY,CLOUDFREEDOM_ROUTER_BASE_URL,TELEGRAM_BOT_TOKEN', 10_000, {
      what: 'the managed keys narrowed',
    });
    await h.waitStack(stack.id, (r) => r.status === 'running');
    const left = ['CLOUDFREEDOM_API_KEY', 'CLOUDFREEDOM_ROUTER_BASE_URL', 'HAND_ADDED', MANAGED_ENV_VAR, 'TELEGRAM_BOT_TOKEN'].sort();
    expect(keys()).toEqual(left);
    expect(managed()).toBe('CLOUDFREEDOM_API_KEY,CLOUDFREEDOM_ROUTER_BASE_URL,TELEGRAM_BOT_TOKEN');
    expect(h.sim.state.service(uuid)!.envs.find((e) => e.key === 'HAND_ADDED')?.value).toBe('kept');
    const deleted = (await h.events(`stack:${stack.id}`)).filter((e) => e.action === 'delete_env');
    expect(deleted.map((e) => e.message)).toEqual(['deleted env var WEBHOOK_SECRET (no longer part of the stack)']);

    // A restart and a resync later, nothing more is deleted: what was managed is known durably.
    await h.stopDaemon();
    await h.start();
    await h.daemon!.resync();
    await h.daemon!.queue.onIdle();
    expect(keys()).toEqual(left);
  });
});
