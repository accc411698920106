/**
 * Resident memory of the daemon process itself once it has converged N stacks: the daemon runs as
 * a child (`node dist/src/cli.js run`), PocketBase as its own process and the simulator in this
 * process, so the figure is the daemon's alone. Reported: median RSS (MiB) over a few samples taken
 * after convergence, per size.
 *
 * Run: `npm run build && node dist/bench/memory.bench.js [--stacks 10,100]`.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startCoolifySim } from '../src/coolify-sim/index.js';
import { createPocketBaseClient } from '../src/pocketbase/client.js';
import { projectRoot, startPocketBase } from '../src/pocketbase/server-process.js';
import { median } from './stats.js';

export interface MemoryBenchResult {
  stacks: number;
  /** Median resident set size of the daemon process after convergence, MiB. */
  rssMiB: number;
  /** V8 heap in use after convergence (from the daemon's own /metrics), MiB: RSS minus runtime and garbage. */
  heapUsedMiB: number;
}

const BOT_TOKEN = '123456789:AAHbenchTokenbenchTokenbenchToken12';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function heapUsedMiB(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const bytes = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
  return bytes / 1024 / 1024;
}

async function measure(stacks: number): Promise<MemoryBenchResult> {
  const httpPort = await freePort();
  const root = await mkdtemp(join(tmpdir(), 'cf-bench-mem-'));
  const pb = await startPocketBase({ dataDir: join(root, 'pb_data') });
  const sim = await startCoolifySim({ lagMs: 0, rateLimit: { limit: 1_000_000 }, requestLogLimit: 1000 });
  const admin = createPocketBaseClient(pb.url);
  await admin.collection('_superusers').authWithPassword(pb.email, pb.password);
  const child = spawn(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli.js'), 'run'], {
    env: {
      PATH: process.env.PATH ?? '',
      POCKETBASE_URL: pb.url,
      POCKETBASE_SUPERUSER_EMAIL: pb.email,
      POCKETBASE_SUPERUSER_PASSWORD: pb.password,
      COOLIFY_URL: sim.url,
      COOLIFY_TOKEN: sim.token,
      COOLIFY_SERVER_UUID: sim.serverUuid,
      COOLIFY_RATE_LIMIT_PER_MINUTE: '100000',
      RECONCILE_CONCURRENCY: '8',
      RESYNC_INTERVAL_SECONDS: '3600',
      STATUS_POLL_SECONDS: '1',
      TEMPLATES_DIR: join(projectRoot(), 'templates'),
      HTTP_ADDR: `127.0.0.1:${httpPort}`,
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  try {
    const perTenant = 20;
    const plan = await admin.collection('plans').create({ name: 'bench', max_stacks: perTenant, cpu_limit: 1, memory_mb: 1024, allowed_templates: ['telegram-bot'] });
    let tenantId = '';
    for (let i = 0; i < stacks; i++) {
      if (i % perTenant === 0) {
        const t = i / perTenant;
        tenantId = (await admin.collection('tenants').create({ name: `Bench ${t}`, slug: `bench-${t}`, domain: `bench-${t}.cloudfreedom.test`, status: 'active', plan: plan.id, router_api_key: `rk-bench-${t}` })).id;
      }
      await admin.collection('stacks').create({ tenant_id: tenantId, name: `s-${i}`, template: 'telegram-bot', params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN }, desired_status: 'running' });
    }
    const deadline = Date.now() + 180_000;
    for (;;) {
      const running = await admin.collection('stacks').getList(1, 1, { filter: 'status = "running"' });
      if (running.totalItems === stacks) break;
      if (Date.now() > deadline) throw new Error(`only ${running.totalItems} of ${stacks} stacks converged`);
      await sleep(100);
    }
    await sleep(2000); // let in-flight polls settle before sampling
    const samples: number[] = [];
    const heap: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(await rssMiB(child.pid ?? 0));
      heap.push(await heapUsedMiB(httpPort));
      await sleep(200);
    }
    return { stacks, rssMiB: Math.round(median(samples) * 10) / 10, heapUsedMiB: Math.round(median(heap) * 10) / 10 };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await sim.close();
    await pb.stop();
    await rm(root, { recursive: true, force: true });
  }
}

export async function runMemoryBench(sizes: number[] = [10, 100]): Promise<MemoryBenchResult[]> {
  const results: MemoryBenchResult[] = [];
  for (const stacks of sizes) results.push(await measure(stacks));
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--stacks');
  const sizes = i > 0 ? (process.argv[i + 1] ?? '').split(',').map(Number) : undefined;
  process.stdout.write(JSON.stringify(await runMemoryBench(sizes)) + '\n');
}
