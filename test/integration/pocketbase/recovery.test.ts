/**
 * Recovery against a real PocketBase: restarts and crashes of the server, changes made while the
 * feed could not listen, a first subscribe while PocketBase is down, the watchdog, and the
 * client's authentication retries. Time-driven parts use a ManualClock; real waiting happens only
 * for the server process itself.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type PocketBase from 'pocketbase';
import Transport from 'winston-transport';
import { ManualClock, systemClock, type Clock } from '../../../src/clock.js';
import { TerminalError } from '../../../src/errors.js';
import { createLogger, type Logger } from '../../../src/logging/logger.js';
import { Redactor } from '../../../src/logging/redactor.js';
import { ChangeFeed, type FeedEventInfo, type KeySource, type ResyncSnapshot } from '../../../src/pocketbase/change-feed.js';
import { connectPocketBase } from '../../../src/pocketbase/client.js';
import { defaultPocketBaseBinary, projectRoot } from '../../../src/pocketbase/server-process.js';
import { PocketBaseStore } from '../../../src/pocketbase/store.js';
import type { ReconcileKey } from '../../../src/pocketbase/types.js';
import { createStack, createTenantWithStack } from '../../helpers/pb-fixtures.js';
import { daemonClient, startTestPocketBase, type TestPocketBase } from '../../helpers/pocketbase.js';
import { waitFor } from '../../helpers/wait.js';

class Capture extends Transport {
  readonly lines: string[] = [];
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    this.lines.push(String(info[Symbol.for('message')] ?? ''));
    next();
  }
}

function capturingLogger(redactor = new Redactor()): { logger: Logger; capture: Capture } {
  const capture = new Capture();
  return { logger: createLogger({ level: 'debug', redactor, transports: [capture] }), capture };
}

interface Harness {
  feed: ChangeFeed;
  keys: { key: ReconcileKey; source: KeySource }[];
  events: FeedEventInfo[];
  capture: Capture;
  resyncs: () => number;
  snapshot: () => ResyncSnapshot | undefined;
}

let pb: TestPocketBase;
const feeds: ChangeFeed[] = [];

beforeAll(async () => {
  pb = await startTestPocketBase();
});

afterEach(async () => {
  for (const f of feeds.splice(0)) await f.stop();
  // Every test leaves the server running for the next one.
  if (pb.server.pid === undefined) await pb.server.start();
});

afterAll(async () => {
  await pb?.cleanup();
});

function makeFeed(client: PocketBase, clock: Clock, options: { watchdogMs?: number; maxConnectionAgeMs?: number } = {}): Harness {
  const { logger, capture } = capturingLogger();
  const keys: Harness['keys'] = [];
  const events: FeedEventInfo[] = [];
  let resyncs = 0;
  let lastSnapshot: ResyncSnapshot | undefined;
  const feed = new ChangeFeed({
    pb: client,
    store: new PocketBaseStore({ pb: client, logger, clock }),
    clock,
    logger,
    onKeys: (ks, source) => keys.push(...ks.map((key) => ({ key, source }))),
    onEvent: (e) => events.push(e),
    onResync: (snapshot) => {
      resyncs++;
      lastSnapshot = snapshot;
    },
    initialBackoffMs: 200,
    maxBackoffMs: 2000,
    ...options,
  });
  feeds.push(feed);
  return { feed, keys, events, capture, resyncs: () => resyncs, snapshot: () => lastSnapshot };
}

/** Changes the database while the server is stopped, the way a restore or another tool would. */
async function changeOffline(script: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cf-offline-'));
  try {
    const project = join(projectRoot(), 'pocketbase', 'pb_migrations');
    for (const f of await readdir(project)) await copyFile(join(project, f), join(dir, f));
    await writeFile(join(dir, `${Math.floor(Date.now() / 1000) + 1_000_000_000}_offline_change.js`), `migrate((app) => {\n${script}\n});\n`);
    await new Promise<void>((resolve, reject) => {
      const p = spawn(defaultPocketBaseBinary(), ['migrate', 'up', `--dir=${pb.server.dataDir}`, `--migrationsDir=${dir}`, '--automigrate=false']);
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`migrate up failed: ${out}`))));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Advances a manual clock in steps (firing retries and watchdog ticks) until `check` holds. */
function driveUntil<T>(clock: ManualClock, stepMs: number, check: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  return waitFor(
    async () => {
      const v = await check();
      if (!v) clock.advance(stepMs);
      return v;
    },
    timeoutMs,
    { intervalMs: 50 },
  );
}

describe('server restarts', () => {
  it('survives a restart and catches, by resync, records created and deleted while it was down', async () => {
    const { tenant, stack } = await createTenantWithStack(pb.admin);
    const doomed = await createStack(pb.admin, { tenant_id: tenant.id });
    const client = await daemonClient(pb.server);
    const h = makeFeed(client, systemClock);
    await h.feed.start();
    expect(h.resyncs()).toBe(1);

    await pb.server.stop();
    await waitFor(() => !h.feed.connected, 10_000, { what: 'the feed to notice the outage' });
    await changeOffline(`
      const stacks = app.findCollectionByNameOrId('stacks');
      const r = new Record(stacks);
      r.set('id', 'offlinestack001');
      r.set('tenant_id', '${tenant.id}');
      r.set('name', 'made-offline');
      r.set('template', 'telegram-bot');
      r.set('desired_status', 'running');
      app.save(r);
      app.delete(app.findRecordById('stacks', '${doomed.id}'));
    `);
    const mark = h.keys.length;
    await pb.server.start();

    await waitFor(() => h.resyncs() >= 2 && h.feed.connected, 15_000, { what: 'reconnect and resync' });
    const resynced = h.keys.slice(mark).filter((k) => k.source === 'resync').map((k) => k.key);
    // Only what changed while the stream was down is keyed; the unchanged records are left to the
    // drift resync, which gets the whole listing (a reconnect must not cost a reconcile per record).
    expect(resynced).toEqual(['stack:offlinestack001']);
    // A record deleted while the stream was down gets no key from the feed: it reaches the orphan
    // path only through the drift resync, whose guard judges the whole listing (a restored database
    // must not wipe production). The listing handed over shows it gone.
    expect(resynced).not.toContain(`stack:${doomed.id}`);
    const ids = h.snapshot()?.stacks.map((s) => s.id) ?? [];
    expect(ids).toEqual(expect.arrayContaining(['offlinestack001', stack.id]));
    expect(h.snapshot()?.tenants.map((t) => t.id)).toContain(tenant.id);
    expect(ids).not.toContain(doomed.id);

    // Live events flow again on the new connection.
    await pb.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
    expect((await waitFor(() => h.events.find((e) => e.id === stack.id && e.action === 'update'))).keys).toEqual([`stack:${stack.id}`]);
  });

  it('survives a crash (SIGKILL) of PocketBase', async () => {
    const { stack } = await createTenantWithStack(pb.admin);
    const client = await daemonClient(pb.server);
    const h = makeFeed(client, systemClock);
    await h.feed.start();
    await pb.server.kill();
    await waitFor(() => !h.feed.connected, 10_000);
    await pb.server.start();
    await waitFor(() => h.resyncs() >= 2 && h.feed.connected, 15_000);
    await pb.admin.collection('stacks').update(stack.id, { params: { BOT_NAME: 'after crash' } });
    expect((await waitFor(() => h.events.find((e) => e.id === stack.id))).keys).toEqual([`stack:${stack.id}`]);
  });
});

describe('first subscribe', () => {
  it('is retried with backoff until PocketBase comes up', async () => {
    const { stack } = await createTenantWithStack(pb.admin);
    const client = await daemonClient(pb.server);
    await pb.server.stop();

    const clock = new ManualClock(Date.now());
    const h = makeFeed(client, clock);
    const started = h.feed.start();
    const failures = () => h.capture.lines.filter((l) => l.includes('realtime subscribe failed')).length;
    await driveUntil(clock, 2000, () => failures() >= 3);
    expect(h.feed.connected).toBe(false);
    expect(h.keys).toEqual([]);

    await pb.server.start();
    await driveUntil(clock, 2000, () => h.feed.connected);
    await started;
    expect(h.resyncs()).toBe(1);
    expect(h.keys.map((k) => k.key)).toContain(`stack:${stack.id}`);
    await pb.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
    await waitFor(() => h.events.find((e) => e.id === stack.id));
  });

  it('stop() ends the retries', async () => {
    const client = await daemonClient(pb.server);
    await pb.server.stop();
    const clock = new ManualClock(Date.now());
    const h = makeFeed(client, clock);
    const started = h.feed.start();
    await driveUntil(clock, 2000, () => h.capture.lines.some((l) => l.includes('realtime subscribe failed')));
    await h.feed.stop();
    await expect(started).resolves.toBeUndefined();
    expect(h.feed.connected).toBe(false);
  });
});

describe('watchdog', () => {
  it('replaces a connection whose PB_CONNECT has not re-fired within the maximum stream age', async () => {
    const { stack } = await createTenantWithStack(pb.admin);
    const client = await daemonClient(pb.server);
    const clock = new ManualClock(Date.now());
    const h = makeFeed(client, clock, { watchdogMs: 60_000, maxConnectionAgeMs: 35 * 60_000 });
    await h.feed.start();
    const firstResync = h.feed.lastResyncAt ?? 0;

    clock.advance(36 * 60_000);
    await waitFor(() => h.feed.forcedReconnects === 1 && h.resyncs() === 2 && h.feed.connected, 10_000);
    expect(h.feed.lastResyncAt).toBeGreaterThanOrEqual(firstResync + 35 * 60_000);
    expect(h.capture.lines.some((l) => l.includes('presumed dead'))).toBe(true);

    await pb.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
    expect((await waitFor(() => h.events.find((e) => e.id === stack.id))).keys).toEqual([`stack:${stack.id}`]);
  });

  it('forces a reconnect after a long outage and recovers when PocketBase returns', async () => {
    const { stack } = await createTenantWithStack(pb.admin);
    const client = await daemonClient(pb.server);
    const clock = new ManualClock(Date.now());
    const h = makeFeed(client, clock, { watchdogMs: 10_000 });
    await h.feed.start();

    await pb.server.kill();
    await waitFor(() => !h.feed.connected, 10_000);
    clock.advance(11_000);
    await waitFor(() => h.feed.forcedReconnects === 1);
    // Our own retry loop now owns reconnection (the SDK's was dropped); bring the server back.
    await pb.server.start();
    await driveUntil(clock, 2000, () => h.feed.connected && h.resyncs() >= 2);
    await pb.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
    expect((await waitFor(() => h.events.find((e) => e.id === stack.id))).keys).toEqual([`stack:${stack.id}`]);
  });
});

describe('connectPocketBase', () => {
  it('retries authentication while PocketBase is down, and never logs the password', async () => {
    await pb.server.stop();
    const redactor = new Redactor();
    const { logger, capture } = capturingLogger(redactor);
    const clock = new ManualClock(Date.now());
    const connecting = connectPocketBase({
      url: pb.server.url,
      email: pb.server.email,
      password: pb.server.password,
      redactor,
      logger,
      clock,
      initialBackoffMs: 100,
      maxBackoffMs: 1000,
    });
    let client: PocketBase | undefined;
    void connecting.then((c) => (client = c));
    await driveUntil(clock, 1000, () => capture.lines.filter((l) => l.includes('PocketBase sign-in failed, retrying')).length >= 2);
    await pb.server.start();
    await driveUntil(clock, 1000, () => client);
    expect(client?.authStore.isSuperuser).toBe(true);
    await expect(client?.collection('plans').getList(1, 1)).resolves.toBeDefined();
    const logs = capture.lines.join('\n');
    expect(logs).not.toContain(pb.server.password);
    expect(redactor.redact(`x ${pb.server.password} ${client?.authStore.token ?? ''}`)).toBe('x [REDACTED] [REDACTED]');
  });

  it('gives up at once on wrong credentials, without echoing them', async () => {
    const { logger } = capturingLogger();
    const err = await connectPocketBase({
      url: pb.server.url,
      email: pb.server.email,
      password: 'wrong-password-123',
      redactor: new Redactor(),
      logger,
      clock: new ManualClock(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as Error).message).toMatch(/rejected the superuser credentials/);
    expect((err as Error).message).not.toContain('wrong-password-123');
  });
});
