/**
 * End-to-end harness: a real PocketBase process, the Coolify simulator over HTTP on loopback, and
 * the daemon in-process with small intervals. Tests act as admins (a separate superuser client)
 * and read the resulting state of the world from PocketBase and the simulator's state.
 */
import Transport from 'winston-transport';
import type PocketBase from 'pocketbase';
import { spawn } from 'node:child_process';
import { appendFile, copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { parseMarker } from '../../src/coolify/markers.js';
import type { CoolifyClient } from '../../src/coolify/client.js';
import type { CoolifySim, CoolifySimOptions } from '../../src/coolify-sim/index.js';
import type { SimService } from '../../src/coolify-sim/state.js';
import { startDaemon, type Daemon, type DaemonDeps } from '../../src/engine/daemon.js';
import { createLogger, type Logger } from '../../src/logging/logger.js';
import { Redactor } from '../../src/logging/redactor.js';
import { defaultPocketBaseBinary, projectRoot } from '../../src/pocketbase/server-process.js';
import { startSimWithClient } from '../helpers/coolify-sim.js';
import { adminClient, startTestPocketBase, type TestPocketBase } from '../helpers/pocketbase.js';
import type { RawRecord } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';

/** Collects every formatted log line (after redaction) in memory. */
class MemoryTransport extends Transport {
  constructor(readonly lines: string[]) {
    super();
  }
  override log(info: unknown, next: () => void): void {
    const formatted = (info as Record<symbol, unknown>)[Symbol.for('message')];
    this.lines.push(typeof formatted === 'string' ? formatted : JSON.stringify(info));
    next();
  }
}

export interface HarnessOptions {
  /** Extra or overriding environment variables for the daemon's config. */
  env?: Record<string, string>;
  deps?: DaemonDeps;
  sim?: CoolifySimOptions;
  /** Start the daemon at once (default true). */
  startDaemon?: boolean;
}

export interface Harness {
  pb: TestPocketBase;
  admin: PocketBase;
  sim: CoolifySim;
  /** The tests' own Coolify client (own rate limiter), to read the world through the real API. */
  coolify: CoolifyClient;
  config: Config;
  logs: string[];
  daemon: Daemon | undefined;
  redactor: Redactor;
  logger: Logger;
  start(deps?: DaemonDeps): Promise<Daemon>;
  stopDaemon(): Promise<void>;
  cleanup(): Promise<void>;
  stack(id: string): Promise<RawRecord | null>;
  tenant(id: string): Promise<RawRecord>;
  /** Services in the simulator carrying our marker for `stackId`. */
  servicesOf(stackId: string): SimService[];
  waitStack(id: string, pred: (r: RawRecord) => boolean, timeoutMs?: number, what?: string): Promise<RawRecord>;
  waitTenant(id: string, pred: (r: RawRecord) => boolean, timeoutMs?: number, what?: string): Promise<RawRecord>;
  events(subject?: string): Promise<RawRecord[]>;
}

/** A value that passes the telegram-bot template's token pattern; a secret that must never leak. */
export const BOT_TOKEN = '123456789:AAHsecretBotTokenValue0123456789abc';

export const TEST_ENV: Record<string, string> = {
  RESYNC_INTERVAL_SECONDS: '3',
  STATUS_POLL_SECONDS: '1',
  // Env checks as often as their budget allows (a quarter of the limit), as tests of env drift expect.
  ENV_CHECK_INTERVAL_SECONDS: '1',
  DELETE_RETENTION_SECONDS: '2',
  COOLIFY_RATE_LIMIT_PER_MINUTE: '600',
  RECONCILE_CONCURRENCY: '4',
  HTTP_ADDR: '127.0.0.1:0',
  LOG_LEVEL: 'debug',
  ROUTER_BASE_URL: 'https://router.cloudfreedom.test',
};

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const pb = await startTestPocketBase();
  const { sim, client } = await startSimWithClient({ sim: { lagMs: 60, rateLimit: { limit: 1000 }, ...options.sim } });
  const config = loadConfig({
    POCKETBASE_URL: pb.server.url,
    POCKETBASE_SUPERUSER_EMAIL: pb.server.email,
    POCKETBASE_SUPERUSER_PASSWORD: pb.server.password,
    COOLIFY_URL: sim.url,
    COOLIFY_TOKEN: sim.token,
    COOLIFY_SERVER_UUID: sim.serverUuid,
    TEMPLATES_DIR: join(projectRoot(), 'templates'),
    ...TEST_ENV,
    ...options.env,
  });
  const logs: string[] = [];
  const redactor = new Redactor();
  const logger = createLogger({ level: 'debug', format: 'json', redactor, transports: [new MemoryTransport(logs)] });

  const h: Harness = {
    pb,
    admin: pb.admin,
    sim,
    coolify: client,
    config,
    logs,
    daemon: undefined,
    redactor,
    logger,
    async start(deps) {
      h.daemon = await startDaemon({
        config,
        deps: { logger, redactor, lifecycleGraceMs: 1500, backoff: { baseMs: 200, maxMs: 2000 }, ...options.deps, ...deps },
      });
      return h.daemon;
    },
    async stopDaemon() {
      const d = h.daemon;
      h.daemon = undefined;
      await d?.stop();
    },
    async cleanup() {
      await h.stopDaemon().catch(() => undefined);
      // E2E_LOG=<file> keeps the daemon's log of a run for debugging.
      if (process.env.E2E_LOG) await appendFile(process.env.E2E_LOG, logs.join('\n') + '\n');
      await sim.close();
      await pb.cleanup();
    },
    async stack(id) {
      try {
        return (await pb.admin.collection('stacks').getOne(id)) as RawRecord;
      } catch (e) {
        if ((e as { status?: number }).status === 404) return null;
        throw e;
      }
    },
    async tenant(id) {
      return (await pb.admin.collection('tenants').getOne(id)) as RawRecord;
    },
    servicesOf(stackId) {
      return sim.state.services.filter((s) => parseMarker(s.description)?.stackId === stackId);
    },
    async waitStack(id, pred, timeoutMs = 20_000, what) {
      return waitFor(
        async () => {
          const r = await h.stack(id);
          return r && pred(r) ? r : null;
        },
        timeoutMs,
        { what: what ?? `stack ${id}`, intervalMs: 50 },
      );
    },
    async waitTenant(id, pred, timeoutMs = 20_000, what) {
      return waitFor(
        async () => {
          const r = await h.tenant(id);
          return pred(r) ? r : null;
        },
        timeoutMs,
        { what: what ?? `tenant ${id}`, intervalMs: 50 },
      );
    },
    async events(subject) {
      return (await pb.admin.collection('reconcile_events').getFullList({
        ...(subject ? { filter: pb.admin.filter('subject = {:s}', { s: subject }) } : {}),
        sort: 'created',
      })) as RawRecord[];
    },
  };
  if (options.startDaemon !== false) await h.start();
  return h;
}

/** Run state of a simulated service as Coolify would report it (`running:healthy`, `exited` …). */
export function simStatus(service: SimService | undefined): string {
  if (!service) return 'missing';
  const states = service.subs.map((s) => s.status);
  if (states.length > 0 && states.every((s) => s.startsWith('running'))) return 'running';
  if (states.every((s) => s === 'exited')) return 'exited';
  return states.join(',');
}

/**
 * Changes PocketBase's database the way another tool would, bypassing the API (which, for example,
 * never lets a client set `created`): stops the server, runs `script` as the body of a one-off
 * migration `(app) => { … }` with `pocketbase migrate up`, starts the server again and reconnects
 * the harness's admin client. A daemon that is running sees an ordinary PocketBase outage.
 */
export async function changeOffline(h: Harness, script: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cf-e2e-offline-'));
  try {
    const migrations = join(projectRoot(), 'pocketbase', 'pb_migrations');
    for (const f of await readdir(migrations)) await copyFile(join(migrations, f), join(dir, f));
    // Named after every real migration so it runs last and only once.
    await writeFile(join(dir, `${Math.floor(Date.now() / 1000) + 1_000_000_000}_e2e_offline_change.js`), `migrate((app) => {\n${script}\n});\n`);
    await h.pb.server.stop();
    await new Promise<void>((resolve, reject) => {
      const p = spawn(defaultPocketBaseBinary(), ['migrate', 'up', `--dir=${h.pb.server.dataDir}`, `--migrationsDir=${dir}`, '--automigrate=false']);
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pocketbase migrate up failed: ${out}`))));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (h.pb.server.pid === undefined) await h.pb.server.start();
  }
  h.admin = await adminClient(h.pb.server);
  h.pb.admin = h.admin;
}
