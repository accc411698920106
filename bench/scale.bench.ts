/**
 * The daemon at scale (issue "Observe Coolify once for everyone"): one world of `tenants` ×
 * `perTenant` stacks whose services already match in Coolify while PocketBase's daemon fields are
 * empty (a restored database), measured in one run:
 *
 * - adoption: Coolify calls and writes until every stack is `running` with its uuid recorded;
 * - steady state: Coolify calls of one converged resync, env reads per second against
 *   services ÷ ENV_CHECK_INTERVAL_SECONDS, daemon CPU with default settings;
 * - memory: RSS while idle (sampled, no forced GC) and after a forced GC, and heap retained after
 *   that GC apart from garbage;
 * - change → first Coolify write latency (p50, p99), one edit at a time;
 * - a burst of 200 edits of one stack's param within about a second: PATCHes, deploys, and the
 *   time from the last edit to the final value deployed.
 *
 * The daemon runs as a child process (bench/daemon-child.ts) with default settings except a
 * rate limit high enough not to bind, and with the NODE_OPTIONS the Docker image sets (V8's heap
 * bounds); PocketBase is its own process; the simulator runs here. BENCH_NODE_OPTIONS replaces
 * those options ('' for V8's defaults) and BENCH_NODE_FLAGS adds flags to the daemon's node, to
 * see what trading CPU for memory gives.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { startCoolifySim, type CoolifySim } from '../src/coolify-sim/index.js';
import { createPocketBaseClient } from '../src/pocketbase/client.js';
import { projectRoot, startPocketBase } from '../src/pocketbase/server-process.js';
import { imageNodeOptions } from './image-options.js';
import { median } from './stats.js';
import { ROUTER_BASE_URL, buildWorld, seedMatchingServices, seededMigrationsDir } from './world.js';

export interface ScaleBenchResult {
  stacks: number;
  tenants: number;
  seedPocketBaseMs: number;
  seedCoolifyMs: number;
  adoption: { ms: number; calls: number; writes: number; envReads: number; gets: number; lists: number };
  steady: { resyncCalls: string[]; resyncMs: number; resyncCpuMs: number; resyncTotalCpuMs: number; idleCpuPercent: number; cpuPercent: number; envReadsPerSecond: number; envTurnsPerSecond: number; envReadsBound: number };
  /**
   * RSS (MiB) while idle, sampled every second without forcing a collection (median; highest over
   * the idle window and the 15 s after a resync), the process's peak since it started (adoption),
   * and after a forced full GC; heap retained after that GC apart from the garbage it freed.
   */
  memory: { idleRssMiB: number; idleRssMaxMiB: number; peakRssMiB: number; rssAfterGcMiB: number; retainedHeapMiB: number; garbageMiB: number };
  latency: { samples: number; p50Ms: number; p99Ms: number; worstMs: number[] };
  burst: { edits: number; editMs: number; patches: number; deploys: number; finalAppliedMs: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isWrite = (m: string) => m === 'POST' || m === 'PATCH' || m === 'DELETE';
const ENV_READ = /^\/api\/v1\/services\/[^/]+\/envs$/;

class Child {
  #seq = 0;
  #waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  readonly ready: Promise<void>;
  constructor(readonly proc: ChildProcess) {
    let ready!: () => void;
    this.ready = new Promise((r) => (ready = r));
    proc.on('message', (raw) => {
      const msg = raw as Record<string, unknown>;
      if (msg.ready) ready();
      const id = msg.id as number | undefined;
      if (id !== undefined) this.#waiting.get(id)?.(msg);
    });
  }
  ask<T = Record<string, unknown>>(cmd: string, extra: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#seq;
    return new Promise<T>((resolve) => {
      this.#waiting.set(id, (m) => {
        this.#waiting.delete(id);
        resolve(m as T);
      });
      this.proc.send({ id, cmd, ...extra });
    });
  }
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

async function waitUntil(what: string, timeoutMs: number, fn: () => Promise<boolean> | boolean, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function runScaleBench(options: { tenants: number; perTenant: number; latencySamples?: number; log?: (line: string) => void }): Promise<ScaleBenchResult> {
  const log = options.log ?? (() => undefined);
  const world = buildWorld(options.tenants, options.perTenant);
  const n = world.stacks.length;
  const root = await mkdtemp(join(tmpdir(), 'cf-bench-scale-'));
  const migrations = await seededMigrationsDir(world);
  let t = performance.now();
  const pb = await startPocketBase({ dataDir: join(root, 'pb_data'), migrationsDir: migrations, startTimeoutMs: 120_000 });
  const seedPocketBaseMs = performance.now() - t;
  log(`seeded PocketBase with ${world.tenants.length} tenants and ${n} stacks in ${Math.round(seedPocketBaseMs)} ms`);
  let sim: CoolifySim | undefined;
  let child: Child | undefined;
  try {
    sim = await startCoolifySim({ lagMs: 50, rateLimit: { limit: 100_000_000 } });
    t = performance.now();
    await seedMatchingServices(sim, world);
    const seedCoolifyMs = performance.now() - t;
    log(`seeded the simulator with ${n} matching services in ${Math.round(seedCoolifyMs)} ms`);
    const admin = createPocketBaseClient(pb.url);
    await admin.collection('_superusers').authWithPassword(pb.email, pb.password);

    // Adoption: the daemon starts on a PocketBase whose daemon fields are all empty.
    const from = sim.requestLog.length;
    t = performance.now();
    const proc = fork(join(projectRoot(), 'dist', 'bench', 'daemon-child.js'), [], {
      execArgv: ['--expose-gc', ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)],
      env: {
        PATH: process.env.PATH ?? '',
        POCKETBASE_URL: pb.url,
        POCKETBASE_SUPERUSER_EMAIL: pb.email,
        POCKETBASE_SUPERUSER_PASSWORD: pb.password,
        COOLIFY_URL: sim.url,
        COOLIFY_TOKEN: sim.token,
        COOLIFY_SERVER_UUID: sim.serverUuid,
        // High enough never to bind, so counts and CPU are the daemon's own.
        COOLIFY_RATE_LIMIT_PER_MINUTE: '100000',
        ROUTER_BASE_URL,
        TEMPLATES_DIR: join(projectRoot(), 'templates'),
        HTTP_ADDR: '127.0.0.1:0',
        LOG_LEVEL: process.env.BENCH_DAEMON_LOG ?? 'warn',
        // BENCH_DAEMON_LOG=<level> (with BENCH_CHILD_STDOUT=1): the daemon's log as text on stdout.
        ...(process.env.BENCH_DAEMON_LOG ? { BENCH_DAEMON_LOG: process.env.BENCH_DAEMON_LOG } : {}),
        // V8 sized as the image sizes it; BENCH_NODE_OPTIONS replaces that ('' for V8's defaults).
        NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? imageNodeOptions(),
        // glibc malloc tuning passes through, to study native memory (e.g. MALLOC_ARENA_MAX=2).
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_') || k === 'GLIBC_TUNABLES')),
      },
      stdio: ['ignore', process.env.BENCH_CHILD_STDOUT ? 'inherit' : 'ignore', 'inherit', 'ipc'],
    });
    child = new Child(proc);
    await child.ready;
    // BENCH_PROFILE_START=<file>: a CPU profile of the daemon's first 60 s (its first resync).
    const startProfile = process.env.BENCH_PROFILE_START;
    if (startProfile) {
      const c = child;
      await c.ask('profile-start');
      setTimeout(() => void c.ask('profile-stop', { path: startProfile }).then(() => log(`start profile written: ${startProfile}`)), 60_000);
    }
    const c = child;
    const quiet = async () => {
      const q = await c.ask<{ depth: number; inFlight: number }>('queue');
      return q.depth === 0 && q.inFlight === 0;
    };
    await waitUntil('adoption', 1_800_000, async () => {
      const r = await admin.collection('stacks').getList(1, 1, { filter: 'status = "running" && coolify_service_uuid != ""' });
      return r.totalItems === n && (await quiet());
    }, 1000);
    const adoptionMs = performance.now() - t;
    const during = sim.requestLog.slice(from).filter((r) => r.path.startsWith('/api/v1/'));
    const adoption = {
      ms: Math.round(adoptionMs),
      calls: during.length,
      writes: during.filter((r) => isWrite(r.method)).length,
      envReads: during.filter((r) => r.method === 'GET' && ENV_READ.test(r.path)).length,
      gets: during.filter((r) => r.method === 'GET' && /^\/api\/v1\/(services|projects)\/[^/]+$/.test(r.path)).length,
      lists: during.filter((r) => r.method === 'GET' && (r.path === '/api/v1/services' || r.path === '/api/v1/projects')).length,
    };
    log(`adoption: ${JSON.stringify(adoption)}`);

    // Steady state at default settings: an idle window, then one converged resync. Adoption's and
    // the resync's own garbage collections (V8 compacts a heap a while after a burst of work ends)
    // are counted with them, not with the idle rate: each is followed by SETTLE_MS before the
    // next measurement starts.
    const SETTLE_MS = 15_000;
    await sleep(SETTLE_MS);
    const idleMs = 20_000;
    // Turns of the env checker's rotation; its memory of adoption's reads (which lets a turn pass
    // without a call for an hour) is dropped, so the window shows the steady cost of env checks.
    const envCheck = await c.ask<{ spacingMs: number; targets: number }>('envcheck');
    const envTurnsPerSecond = 1000 / envCheck.spacingMs;
    // BENCH_PROFILE=<prefix>: CPU profiles of the daemon over the idle window and over the resync
    // with the 15 s after it (<prefix>.idle.cpuprofile, <prefix>.resync.cpuprofile).
    const profile = process.env.BENCH_PROFILE;
    if (profile) await c.ask('profile-start');
    const cpu0 = (await c.ask<{ micros: number }>('cpu')).micros;
    const e0 = sim.requestLog.length;
    // RSS as it is while idle (no forced collection), sampled every second over the window.
    const idleRss: number[] = [];
    const sampleRss = async (ms: number, into: number[]) => {
      for (const end = Date.now() + ms; Date.now() < end; ) {
        await sleep(Math.min(1000, end - Date.now()));
        into.push((await c.ask<{ rss: number }>('rss')).rss / 2 ** 20);
      }
    };
    await sampleRss(idleMs, idleRss);
    const cpu1 = (await c.ask<{ micros: number }>('cpu')).micros;
    if (profile) await c.ask('profile-stop', { path: `${profile}.idle.cpuprofile` });
    const envReadsPerSecond = sim.requestLog.slice(e0).filter((r) => ENV_READ.test(r.path)).length / (idleMs / 1000);
    const idleCpuPercent = ((cpu1 - cpu0) / 1000 / idleMs) * 100;

    if (profile) await c.ask('profile-start');
    const r0 = sim.requestLog.length;
    const w0 = performance.now();
    const resync = await c.ask<{ keys: number; cpuMicros: number; ms: number }>('resync');
    const resyncCalls = sim.requestLog
      .slice(r0)
      .filter((r) => !ENV_READ.test(r.path))
      .map((r) => `${r.method} ${r.path}`)
      .sort();
    if (resync.keys !== 0) log(`warning: converged resync found ${resync.keys} differing keys`);
    const afterResyncRss: number[] = [];
    await sampleRss(SETTLE_MS, afterResyncRss);
    const cpu2 = (await c.ask<{ micros: number }>('cpu')).micros;
    if (profile) await c.ask('profile-stop', { path: `${profile}.resync.cpuprofile` });
    // The resync and what it left to do (its collections), above the idle rate over the same time.
    const resyncTotalCpuMs = Math.max(0, (cpu2 - cpu1) / 1000 - ((performance.now() - w0) * idleCpuPercent) / 100);
    // Default RESYNC_INTERVAL_SECONDS: one resync every 300 s on top of the idle rate, and as much
    // again for the full pass after PocketBase closes an idle realtime stream (every 5 min at
    // worst), which the idle window does not see.
    const cpuPercent = idleCpuPercent + ((2 * resyncTotalCpuMs) / 300_000) * 100;
    const steady = {
      resyncCalls,
      resyncMs: Math.round(resync.ms),
      resyncCpuMs: Math.round(resync.cpuMicros / 1000),
      resyncTotalCpuMs: Math.round(resyncTotalCpuMs),
      idleCpuPercent,
      cpuPercent,
      envReadsPerSecond,
      envTurnsPerSecond,
      envReadsBound: n / 3600,
    };
    log(`steady: ${JSON.stringify(steady)}`);

    const mem = await c.ask<{ rss: number; heapBefore: number; heapAfter: number; maxRssMiB: number }>('memory');
    log(`memory detail: ${JSON.stringify(mem)}`);
    const memory = { idleRssMiB: median(idleRss), idleRssMaxMiB: Math.max(...idleRss, ...afterResyncRss), peakRssMiB: mem.maxRssMiB, rssAfterGcMiB: mem.rss / 2 ** 20, retainedHeapMiB: mem.heapAfter / 2 ** 20, garbageMiB: Math.max(0, mem.heapBefore - mem.heapAfter) / 2 ** 20 };
    log(`memory: ${JSON.stringify(memory)}`);
    // BENCH_HEAPSNAPSHOT=1: a heap snapshot of the converged daemon (summarise it with bench/heap-summary.ts).
    if (process.env.BENCH_HEAPSNAPSHOT) log(`heap snapshot: ${(await c.ask<{ path: string }>('heapsnapshot')).path}`);

    // Change → first Coolify write, one edit at a time on different stacks.
    const samples: number[] = [];
    const count = Math.min(options.latencySamples ?? 100, n - 1);
    for (let i = 0; i < count; i++) {
      const stack = world.stacks[1 + Math.floor((i * (n - 1)) / count)]!;
      const uuid = String((await admin.collection('stacks').getOne(stack.id)).coolify_service_uuid);
      const mark = sim.requestLog.length;
      const t0 = Date.now();
      await admin.collection('stacks').update(stack.id, { params: { TELEGRAM_BOT_TOKEN: stack.params.TELEGRAM_BOT_TOKEN, BOT_NAME: `Bot ${i}` } });
      let first: number | undefined;
      await waitUntil('a write for the edit', 30_000, () => {
        first = sim!.requestLog.slice(mark).find((r) => isWrite(r.method) && r.path.includes(uuid))?.time;
        return first !== undefined;
      }, 5);
      samples.push(first! - t0);
      if (first! - t0 > 50) {
        const before = sim.requestLog.slice(mark).filter((r) => r.time <= first!).map((r) => `${r.method} ${r.path.replace(/[a-z0-9]{20,}/g, ':id')} @${r.time - t0}`);
        log(`slow sample ${i}: ${first! - t0} ms; requests until the first write: ${before.join(', ')}`);
      }
      await waitUntil('quiet after the edit', 30_000, quiet, 50);
    }
    const latency = { samples: samples.length, p50Ms: median(samples), p99Ms: percentile(samples, 99), worstMs: [...samples].sort((a, b) => b - a).slice(0, 5) };
    log(`latency: ${JSON.stringify(latency)}`);

    // A burst of 200 edits of one stack's param.
    const target = world.stacks[0]!;
    const uuid = String((await admin.collection('stacks').getOne(target.id)).coolify_service_uuid);
    const b0 = sim.requestLog.length;
    const e = performance.now();
    let last = '';
    for (let i = 0; i < 200; i++) {
      last = `Burst ${i}`;
      await admin.collection('stacks').update(target.id, { params: { TELEGRAM_BOT_TOKEN: target.params.TELEGRAM_BOT_TOKEN, BOT_NAME: last } });
    }
    const lastEditAt = Date.now();
    const editMs = performance.now() - e;
    let appliedAt: number | undefined;
    await waitUntil('the final value deployed', 60_000, () => {
      const service = sim!.state.service(uuid);
      if (!service?.composeRaw.includes(`Your name is ${last}.`)) return false;
      const patched = sim!.requestLog.slice(b0).filter((r) => r.method === 'PATCH' && r.path === `/api/v1/services/${uuid}`).at(-1)?.time ?? 0;
      appliedAt = sim!.requestLog.slice(b0).find((r) => r.method === 'POST' && r.path === '/api/v1/deploy' && r.time >= patched)?.time;
      return appliedAt !== undefined;
    }, 20);
    await waitUntil('quiet after the burst', 60_000, quiet, 100);
    await sleep(3000);
    const burstLog = sim.requestLog.slice(b0);
    const burst = {
      edits: 200,
      editMs: Math.round(editMs),
      patches: burstLog.filter((r) => r.method === 'PATCH' && r.path === `/api/v1/services/${uuid}`).length,
      deploys: burstLog.filter((r) => r.method === 'POST' && r.path === '/api/v1/deploy').length,
      finalAppliedMs: appliedAt! - lastEditAt,
    };
    log(`burst: ${JSON.stringify(burst)}`);

    return { stacks: n, tenants: world.tenants.length, seedPocketBaseMs: Math.round(seedPocketBaseMs), seedCoolifyMs: Math.round(seedCoolifyMs), adoption, steady, memory, latency, burst };
  } finally {
    if (child) {
      const exited = new Promise((r) => child!.proc.once('exit', r));
      child.proc.send({ id: -1, cmd: 'stop' });
      const timer = setTimeout(() => child!.proc.kill('SIGKILL'), 40_000);
      await exited;
      clearTimeout(timer);
    }
    await sim?.close();
    await pb.stop();
    await rm(root, { recursive: true, force: true });
    await rm(migrations, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const result = await runScaleBench({
    tenants: arg('tenants', 2000),
    perTenant: arg('per-tenant', 5),
    latencySamples: arg('latency-samples', 100),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}
