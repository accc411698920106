/**
 * Engine speed, where tests must not measure it: how long a cold daemon takes to converge N stacks
 * (real PocketBase, in-process simulator with no job lag and no rate limit in the way), and how
 * long one converged drift resync takes. Each number is the median of its runs.
 *
 * Run: `npm run build && node dist/bench/engine.bench.js [--stacks 50] [--runs 3]`.
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
import { median } from './stats.js';

export interface EngineBenchResult {
  stacks: number;
  runs: number;
  /** Daemon start to every stack `running`, median, ms. */
  convergeMedianMs: number;
  /** One drift resync over the converged system, median, ms. */
  resyncMedianMs: number;
}

const BOT_TOKEN = '123456789:AAHbenchTokenbenchTokenbenchToken12';

async function oneRun(stacks: number): Promise<{ convergeMs: number; resyncMs: number[] }> {
  const root = await mkdtemp(join(tmpdir(), 'cf-bench-'));
  const pb = await startPocketBase({ dataDir: join(root, 'pb_data') });
  const sim = await startCoolifySim({ lagMs: 0, rateLimit: { limit: 1_000_000 } });
  try {
    const admin = createPocketBaseClient(pb.url);
    await admin.collection('_superusers').authWithPassword(pb.email, pb.password);
    const perTenant = 20;
    const plan = await admin.collection('plans').create({
      name: 'bench',
      max_stacks: perTenant,
      cpu_limit: 1,
      memory_mb: 1024,
      allowed_templates: ['telegram-bot'],
    });
    for (let i = 0; i < stacks; i++) {
      if (i % perTenant === 0) {
        const t = i / perTenant;
        await admin.collection('tenants').create({
          name: `Bench ${t}`,
          slug: `bench-${t}`,
          domain: `bench-${t}.cloudfreedom.test`,
          status: 'active',
          plan: plan.id,
          router_api_key: `rk-bench-${t}`,
        });
      }
      const tenant = await admin.collection('tenants').getFirstListItem(admin.filter('slug = {:s}', { s: `bench-${Math.floor(i / perTenant)}` }));
      await admin.collection('stacks').create({
        tenant_id: tenant.id,
        name: `s-${i}`,
        template: 'telegram-bot',
        params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN },
        desired_status: 'running',
      });
    }
    const config = loadConfig({
      POCKETBASE_URL: pb.url,
      POCKETBASE_SUPERUSER_EMAIL: pb.email,
      POCKETBASE_SUPERUSER_PASSWORD: pb.password,
      COOLIFY_URL: sim.url,
      COOLIFY_TOKEN: sim.token,
      COOLIFY_SERVER_UUID: sim.serverUuid,
      COOLIFY_RATE_LIMIT_PER_MINUTE: '100000',
      RESYNC_INTERVAL_SECONDS: '3600',
      STATUS_POLL_SECONDS: '1',
      TEMPLATES_DIR: join(projectRoot(), 'templates'),
      HTTP_ADDR: '127.0.0.1:0',
    });
    const t0 = performance.now();
    const daemon = await startDaemon({ config, deps: { logger: silentLogger(), envChecksPerMinute: 0 } });
    for (;;) {
      const running = await admin.collection('stacks').getList(1, 1, { filter: 'status = "running"' });
      if (running.totalItems === stacks) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const convergeMs = performance.now() - t0;
    await daemon.queue.onIdle();
    const resyncMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r0 = performance.now();
      await daemon.resync();
      resyncMs.push(performance.now() - r0);
    }
    await daemon.stop();
    return { convergeMs, resyncMs };
  } finally {
    await sim.close();
    await pb.stop();
    await rm(root, { recursive: true, force: true });
  }
}

export async function runEngineBench(options: { stacks?: number; runs?: number } = {}): Promise<EngineBenchResult> {
  const stacks = options.stacks ?? 50;
  const runs = options.runs ?? 3;
  const converge: number[] = [];
  const resync: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await oneRun(stacks);
    converge.push(r.convergeMs);
    resync.push(...r.resyncMs);
  }
  return { stacks, runs, convergeMedianMs: Math.round(median(converge)), resyncMedianMs: Math.round(median(resync) * 10) / 10 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const result = await runEngineBench({ ...(arg('stacks') ? { stacks: arg('stacks') } : {}), ...(arg('runs') ? { runs: arg('runs') } : {}) });
  process.stdout.write(JSON.stringify(result) + '\n');
}
