/**
 * Cold convergence at a binding rate limit: `tenants` × `perTenant` new stacks (no project, no
 * service yet) and COOLIFY_RATE_LIMIT_PER_MINUTE calls per window. The fewest calls that can do
 * it are one project per tenant and three per stack (create, env, deploy) plus a constant (the
 * lists that observe Coolify), so the fastest possible convergence is calls needed ÷ rate; the
 * bound is 1.15 × that. Real PocketBase (records seeded by a migration), the simulator with a job
 * lag, the daemon in-process.
 *
 * Time is compressed: the limiter's window is `windowMs` instead of a minute (the limit per window
 * unchanged) and STATUS_POLL_SECONDS is 1 s, so a scenario that takes minutes at 300 calls a minute
 * takes seconds; the ratio to the bound is what is reported.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.js';
import { startCoolifySim } from '../src/coolify-sim/index.js';
import { startDaemon } from '../src/engine/daemon.js';
import { silentLogger } from '../src/logging/logger.js';
import { createPocketBaseClient } from '../src/pocketbase/client.js';
import { projectRoot, startPocketBase } from '../src/pocketbase/server-process.js';
import { ROUTER_BASE_URL, buildWorld, seededMigrationsDir } from './world.js';

export interface ColdBenchResult {
  tenants: number;
  stacks: number;
  limit: number;
  windowMs: number;
  /** Projects + 3 per stack + 3 (the first resync's lists and one more). */
  callsNeeded: number;
  callsMade: number;
  /** Daemon start to every stack `running`, ms. */
  convergeMs: number;
  /** callsNeeded ÷ rate, ms. */
  idealMs: number;
  /** convergeMs ÷ idealMs; the bound is 1.15. */
  ratio: number;
  /** Calls made by method and route (uuids replaced by `{uuid}`). */
  calls: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runColdBench(options: { tenants?: number; perTenant?: number; limit?: number; windowMs?: number } = {}): Promise<ColdBenchResult> {
  const tenants = options.tenants ?? 10;
  const perTenant = options.perTenant ?? 30;
  const limit = options.limit ?? 300;
  const windowMs = options.windowMs ?? 6000;
  const world = buildWorld(tenants, perTenant);
  const stacks = world.stacks.length;
  const root = await mkdtemp(join(tmpdir(), 'cf-bench-cold-'));
  const migrations = await seededMigrationsDir(world);
  const pb = await startPocketBase({ dataDir: join(root, 'pb_data'), migrationsDir: migrations });
  const sim = await startCoolifySim({ lagMs: 200, rateLimit: { limit: 1_000_000 } });
  try {
    const admin = createPocketBaseClient(pb.url);
    await admin.collection('_superusers').authWithPassword(pb.email, pb.password);
    const config = loadConfig({
      POCKETBASE_URL: pb.url,
      POCKETBASE_SUPERUSER_EMAIL: pb.email,
      POCKETBASE_SUPERUSER_PASSWORD: pb.password,
      COOLIFY_URL: sim.url,
      COOLIFY_TOKEN: sim.token,
      COOLIFY_SERVER_UUID: sim.serverUuid,
      COOLIFY_RATE_LIMIT_PER_MINUTE: String(limit),
      RESYNC_INTERVAL_SECONDS: '30',
      STATUS_POLL_SECONDS: '1',
      ROUTER_BASE_URL,
      TEMPLATES_DIR: join(projectRoot(), 'templates'),
      HTTP_ADDR: '127.0.0.1:0',
    });
    const from = sim.requestLog.length;
    const t0 = performance.now();
    const daemon = await startDaemon({ config, deps: { logger: silentLogger(), rateWindowMs: windowMs } });
    try {
      const deadline = Date.now() + 600_000;
      for (;;) {
        const running = await admin.collection('stacks').getList(1, 1, { filter: 'status = "running"' });
        if (running.totalItems === stacks) break;
        if (Date.now() > deadline) throw new Error(`cold convergence: only ${running.totalItems} of ${stacks} running after 600 s`);
        await sleep(100);
      }
    } finally {
      await daemon.stop();
    }
    const convergeMs = performance.now() - t0;
    const made = sim.requestLog.slice(from).filter((r) => r.path.startsWith('/api/v1/'));
    const callsMade = made.length;
    const calls: Record<string, number> = {};
    for (const r of made) {
      const route = `${r.method} ${r.path.replace(/^\/api\/v1\//, '').replace(/\/[a-z0-9]{20,}/g, '/{uuid}')}`;
      calls[route] = (calls[route] ?? 0) + 1;
    }
    const callsNeeded = tenants + 3 * stacks + 3;
    const idealMs = (callsNeeded / limit) * windowMs;
    return { tenants, stacks, limit, windowMs, callsNeeded, callsMade, convergeMs: Math.round(convergeMs), idealMs: Math.round(idealMs), ratio: convergeMs / idealMs, calls };
  } finally {
    await sim.close();
    await pb.stop();
    await rm(root, { recursive: true, force: true });
    await rm(migrations, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(JSON.stringify(await runColdBench()) + '\n');
}
