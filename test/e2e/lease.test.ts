/**
 * One active daemon (SPEC §3): daemons started together agree on one leader through the lease in
 * PocketBase and the standby sends nothing to Coolify; a standby takes over at once when the
 * leader stops (SIGTERM gives the lease back) and within 30 s when it is killed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../src/engine/daemon.js';
import { projectRoot } from '../../src/pocketbase/server-process.js';
import { createPlan, createStack, createTenant, type RawRecord } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, TEST_ENV, startHarness, type Harness } from './harness.js';

/** Coolify requests a daemon sent, by its own metrics (0 for a daemon that never led). */
async function coolifyRequests(d: Daemon): Promise<number> {
  const text = await d.metrics.text();
  let n = 0;
  for (const line of text.split('\n')) {
    const m = /^cf_coolify_requests_total\{.*\} (\d+)$/.exec(line);
    if (m) n += Number(m[1]);
  }
  return n;
}

const writes = (h: Harness) => h.sim.requestLog.filter((r) => r.method !== 'GET' && r.path.startsWith('/api/v1/'));

describe('two daemons against one PocketBase', () => {
  let h: Harness;
  const extra: Daemon[] = [];
  beforeAll(async () => {
    h = await startHarness({ startDaemon: false });
  });
  afterAll(async () => {
    for (const d of extra) await d.stop().catch(() => undefined);
    await h.cleanup();
  });

  it('started together on 10 new stacks: one leader, one resource each, the writes of one daemon', async () => {
    const plan = await createPlan(h.admin, { max_stacks: 20 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stacks: RawRecord[] = [];
    for (let i = 0; i < 10; i++) stacks.push(await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } }));

    const deps = { logger: h.logger, redactor: h.redactor, lifecycleGraceMs: 1500, backoff: { baseMs: 200, maxMs: 2000 } };
    const [a, b] = await Promise.all([
      h.start({ lease: { identity: 'daemon-a' } }),
      startDaemon({ config: h.config, deps: { ...deps, lease: { identity: 'daemon-b' } } }),
    ]);
    extra.push(b);
    expect([a.role(), b.role()].sort()).toEqual(['leader', 'standby']);
    const [leader, standby] = a.role() === 'leader' ? [a, b] : [b, a];
    for (const s of stacks) await h.waitStack(s.id, (r) => r.status === 'running', 60_000);

    for (const s of stacks) expect(h.servicesOf(s.id)).toHaveLength(1);
    expect(h.sim.state.projects).toHaveLength(1);
    // What one daemon does for ten new stacks: one project, then per stack a create, its env and
    // a deploy (and nothing twice).
    const w = writes(h);
    expect(w.filter((r) => r.method === 'POST' && r.path === '/api/v1/projects')).toHaveLength(1);
    expect(w.filter((r) => r.method === 'POST' && r.path === '/api/v1/services')).toHaveLength(10);
    expect(w.filter((r) => r.path === '/api/v1/deploy')).toHaveLength(10);
    expect(await coolifyRequests(standby)).toBe(0);
    expect(await coolifyRequests(leader)).toBe(h.sim.requestLog.filter((r) => r.path.startsWith('/api/v1/')).length);
    expect(await standby.metrics.text()).toMatch(/^cf_leader 0$/m);
    expect(await leader.metrics.text()).toMatch(/^cf_leader 1$/m);
    const ready = (await (await fetch(`${standby.url}/readyz`)).json()) as { ready: boolean; role: string };
    expect(ready).toEqual(expect.objectContaining({ ready: true, role: 'standby' }));

    // SIGTERM (stop) gives the lease back: the standby takes over at its next retry and acts.
    await (leader === a ? h.stopDaemon() : leader.stop());
    await waitFor(() => standby.role() === 'leader', 5_000, { what: 'the standby to take over' });
    await h.admin.collection('stacks').update(stacks[0]!.id, { desired_status: 'stopped' });
    await h.waitStack(stacks[0]!.id, (r) => r.status === 'stopped', 20_000);
    expect(await coolifyRequests(standby)).toBeGreaterThan(0);
  }, 120_000);
});

describe('kill -9 of the leader', () => {
  let h: Harness;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    h = await startHarness({ startDaemon: false });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await h.cleanup();
  });

  it('the standby converges a change within 30 s, having sent nothing before', async () => {
    const plan = await createPlan(h.admin);
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stack = await createStack(h.admin, { tenant_id: tenant.id, params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    // The leader: the real CLI, with the default lease timings (15 s / 10 s / 2 s).
    child = spawn(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli.js'), 'run'], {
      env: {
        PATH: process.env.PATH ?? '',
        POCKETBASE_URL: h.pb.server.url,
        POCKETBASE_SUPERUSER_EMAIL: h.pb.server.email,
        POCKETBASE_SUPERUSER_PASSWORD: h.pb.server.password,
        COOLIFY_URL: h.sim.url,
        COOLIFY_TOKEN: h.sim.token,
        COOLIFY_SERVER_UUID: h.sim.serverUuid,
        TEMPLATES_DIR: join(projectRoot(), 'templates'),
        ...TEST_ENV,
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    await h.waitStack(stack.id, (r) => r.status === 'running', 30_000);
    // The standby, in-process, with the same default timings.
    const standby = await h.start({ lease: { identity: 'standby' } });
    expect(standby.role()).toBe('standby');
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await coolifyRequests(standby)).toBe(0);

    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    await h.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
    await h.waitStack(stack.id, (r) => r.status === 'stopped', 40_000);
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    expect(standby.role()).toBe('leader');
    expect(h.servicesOf(stack.id)).toHaveLength(1);
  }, 90_000);
});
