/**
 * `npm run demo`: a fresh PocketBase from the pinned npm binary (migrations applied, a superuser),
 * the Coolify simulator and the daemon, all on loopback, with a sample plan, tenant and stack. It
 * prints where the admin UI is and how to log in, and runs until stopped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config.js';
import { parseMarker } from '../coolify/markers.js';
import { startCoolifySim, type CoolifySim } from '../coolify-sim/index.js';
import { serviceStatus } from '../coolify-sim/serialize.js';
import { startDaemon, type Daemon } from '../engine/daemon.js';
import { createPocketBaseClient } from '../pocketbase/client.js';
import { projectRoot, startPocketBase, type PocketBaseServer } from '../pocketbase/server-process.js';

export interface DemoOptions {
  /** Keeps PocketBase's data here (reused across runs); a temp dir removed on exit by default. */
  dataDir?: string;
  /** Log level of the daemon. */
  logLevel?: string;
  /** Simulated Coolify job lag (ms). */
  lagMs?: number;
  print?: (line: string) => void;
}

export interface RunningDemo {
  pocketbase: PocketBaseServer;
  sim: CoolifySim;
  daemon: Daemon;
  stackId: string;
  /**
   * Resolves with the Coolify service uuid once the stack record is `running` and the simulator
   * holds that service, carrying the stack's marker, running; rejects after `timeoutMs`.
   */
  waitForRunning(timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}

/** A token of the shape Telegram issues, made up: the simulator never calls Telegram. */
const SAMPLE_BOT_TOKEN = `123456789:AAH${randomBytes(24).toString('hex').slice(0, 32)}`;

export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const print = options.print ?? ((line: string) => process.stdout.write(line + '\n'));
  const temp = options.dataDir === undefined;
  const root = options.dataDir ? resolve(options.dataDir) : await mkdtemp(join(tmpdir(), 'cf-demo-'));
  const pocketbase = await startPocketBase({ dataDir: join(root, 'pb_data') });
  const sim = await startCoolifySim({ lagMs: options.lagMs ?? 1500 });

  const admin = createPocketBaseClient(pocketbase.url);
  await admin.collection('_superusers').authWithPassword(pocketbase.email, pocketbase.password);
  const findOrCreate = async (collection: string, filter: string, fields: Record<string, unknown>): Promise<{ id: string }> => {
    const found = await admin.collection(collection).getList(1, 1, { filter });
    return found.items[0] ?? (await admin.collection(collection).create(fields));
  };
  const plan = await findOrCreate('plans', admin.filter('name = {:n}', { n: 'starter' }), {
    name: 'starter',
    max_stacks: 3,
    cpu_limit: 1,
    memory_mb: 1024,
    pids_limit: 256,
    allowed_templates: ['telegram-bot', 'openclaw-agent', 'base-llm'],
  });
  const tenant = await findOrCreate('tenants', admin.filter('slug = {:s}', { s: 'demo' }), {
    name: 'Demo Tenant',
    slug: 'demo',
    domain: 'demo.cloudfreedom.test',
    status: 'active',
    plan: plan.id,
    router_api_key: `cfr-demo-${randomBytes(12).toString('hex')}`,
  });
  const stack = await findOrCreate('stacks', admin.filter('tenant_id = {:t} && name = {:n}', { t: tenant.id, n: 'assistant' }), {
    tenant_id: tenant.id,
    name: 'assistant',
    template: 'telegram-bot',
    params: { BOT_NAME: 'Demo Assistant', TELEGRAM_BOT_TOKEN: SAMPLE_BOT_TOKEN },
    domains: [],
    desired_status: 'running',
  });

  const config = loadConfig({
    POCKETBASE_URL: pocketbase.url,
    POCKETBASE_SUPERUSER_EMAIL: pocketbase.email,
    POCKETBASE_SUPERUSER_PASSWORD: pocketbase.password,
    COOLIFY_URL: sim.url,
    COOLIFY_TOKEN: sim.token,
    COOLIFY_SERVER_UUID: sim.serverUuid,
    TEMPLATES_DIR: join(projectRoot(), 'templates'),
    RESYNC_INTERVAL_SECONDS: '30',
    STATUS_POLL_SECONDS: '2',
    DELETE_RETENTION_SECONDS: '120',
    HTTP_ADDR: '127.0.0.1:0',
    LOG_LEVEL: options.logLevel ?? 'info',
    LOG_FORMAT: 'text',
  });
  const daemon = await startDaemon({ config });

  print('');
  print('cf-reconciler demo is running');
  print(`  PocketBase admin UI : ${pocketbase.url}/_/`);
  print(`  login               : ${pocketbase.email}`);
  print(`  password            : ${pocketbase.password}`);
  print(`  Coolify simulator   : ${sim.url}/api/v1 (bearer token ${sim.token})`);
  print(`  health and metrics  : ${daemon.url}/healthz  ${daemon.url}/readyz  ${daemon.url}/metrics`);
  print(`  sample stack        : stacks/${stack.id} (tenant "demo", template telegram-bot)`);
  print(`  data dir            : ${root}${temp ? ' (removed on exit)' : ''}`);
  print('Edit the records in the admin UI (suspend the tenant, stop or delete the stack) and watch the daemon follow.');
  print('Press Ctrl-C to stop.');
  print('');

  let stopping: Promise<void> | undefined;
  return {
    pocketbase,
    sim,
    daemon,
    stackId: stack.id,
    async waitForRunning(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await admin.collection('stacks').getOne(stack.id);
        const uuid = String(s.coolify_service_uuid ?? '');
        // PocketBase's word is not enough: Coolify (the simulator) must run the service it names.
        const service = uuid ? sim.state.service(uuid) : undefined;
        const coolifyStatus = service ? serviceStatus(service) : 'missing';
        if (s.status === 'running' && service && parseMarker(service.description)?.stackId === stack.id && coolifyStatus.startsWith('running')) {
          print(`demo: Coolify service ${uuid} of stacks/${stack.id} is ${coolifyStatus}`);
          return uuid;
        }
        if (Date.now() > deadline) {
          throw new Error(`sample stack did not reach running within ${timeoutMs} ms (status ${String(s.status)}, Coolify service ${uuid || 'none'} ${coolifyStatus})`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop: () =>
      (stopping ??= (async () => {
        await daemon.stop();
        await sim.close();
        await pocketbase.stop();
        if (temp) await rm(root, { recursive: true, force: true });
      })()),
  };
}
