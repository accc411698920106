/**
 * A real PocketBase for a jest suite: fresh temp data dir, this project's migrations, a superuser,
 * and an admin SDK client (a separate client from the daemon's, as a person in the admin UI would be).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type PocketBase from 'pocketbase';
import { systemClock, type Clock } from '../../src/clock.js';
import { silentLogger, type Logger } from '../../src/logging/logger.js';
import { Redactor } from '../../src/logging/redactor.js';
import { connectPocketBase, createPocketBaseClient } from '../../src/pocketbase/client.js';
import { defaultPocketBaseBinary, startPocketBase, type PocketBaseServer } from '../../src/pocketbase/server-process.js';

export interface TestPocketBase {
  server: PocketBaseServer;
  /** Superuser client playing the admin (or billing) who edits records. */
  admin: PocketBase;
  /** Stops the server and removes its data dir. */
  cleanup(): Promise<void>;
}

export async function startTestPocketBase(): Promise<TestPocketBase> {
  const root = await mkdtemp(join(tmpdir(), 'cf-pb-'));
  const server = await startPocketBase({ dataDir: join(root, 'pb_data') });
  const admin = await adminClient(server);
  return {
    server,
    admin,
    async cleanup() {
      await admin.realtime.unsubscribe().catch(() => undefined);
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A fresh superuser client, authenticated with a long refresh threshold (the admin's browser). */
export async function adminClient(server: PocketBaseServer): Promise<PocketBase> {
  const pb = createPocketBaseClient(server.url);
  await pb.collection('_superusers').authWithPassword(server.email, server.password);
  return pb;
}

/** The daemon's client, connected the way the daemon connects. */
export async function daemonClient(
  server: PocketBaseServer,
  options: { clock?: Clock; logger?: Logger; redactor?: Redactor; autoRefreshThresholdSeconds?: number } = {},
): Promise<PocketBase> {
  return connectPocketBase({
    url: server.url,
    email: server.email,
    password: server.password,
    redactor: options.redactor ?? new Redactor(),
    logger: options.logger ?? silentLogger(),
    clock: options.clock ?? systemClock,
    ...(options.autoRefreshThresholdSeconds === undefined ? {} : { autoRefreshThresholdSeconds: options.autoRefreshThresholdSeconds }),
  });
}

/**
 * `pocketbase migrate down <count>` on a stopped server's data dir, as an operator rolls back.
 * Resolves with the command's output; rejects on a non-zero exit.
 */
export function migrateDown(dataDir: string, migrationsDir: string, count: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const p = spawn(defaultPocketBaseBinary(), [
      'migrate',
      'down',
      String(count),
      `--dir=${dataDir}`,
      `--migrationsDir=${migrationsDir}`,
      '--automigrate=false',
    ]);
    let text = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    p.stderr.on('data', (d: Buffer) => (text += d.toString()));
    p.stdin.end('y\n');
    p.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${String(code)}: ${text}`))));
  });
}

/** The migration files PocketBase loads from `dir` (SPEC: `*.js`), sorted as it applies them. */
export async function migrationFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.js')).sort();
}
