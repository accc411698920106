/**
 * Start-up checks (SPEC §5): configuration that parses but is wrong either stops start-up with one
 * message naming it, or keeps /readyz failing with a reason naming it (and an error log line).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/clock.js';
import { createLogger } from '../../src/logging/logger.js';
import { Redactor } from '../../src/logging/redactor.js';
import { connectPocketBase } from '../../src/pocketbase/client.js';
import { freePort, projectRoot } from '../../src/pocketbase/server-process.js';
import { packageVersion } from '../../src/version.js';
import { waitFor } from '../helpers/wait.js';
import { startHarness, type Harness } from './harness.js';
import Transport from 'winston-transport';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cf-startup-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs the compiled CLI's `run` with a config that is valid except for `env`. */
function runCli(env: Record<string, string>) {
  return spawnSync(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli.js'), 'run'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      POCKETBASE_URL: 'http://127.0.0.1:9',
      POCKETBASE_SUPERUSER_EMAIL: 'a@example.com',
      POCKETBASE_SUPERUSER_PASSWORD: 'a-password-1234',
      COOLIFY_URL: 'http://127.0.0.1:9',
      COOLIFY_TOKEN: '1|token',
      COOLIFY_SERVER_UUID: 'server',
      HTTP_ADDR: '127.0.0.1:0',
      ...env,
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/** A template folder with telegram-bot (valid) and `broken` (a manifest that does not parse). */
async function mixedTemplates(dir: string, withValid = true): Promise<string> {
  await mkdir(join(dir, 'broken'), { recursive: true });
  await writeFile(join(dir, 'broken', 'template.yaml'), 'name: [unclosed\n');
  await writeFile(join(dir, 'broken', 'compose.yaml'), 'services: {}\n');
  if (withValid) await cp(join(projectRoot(), 'templates', 'telegram-bot'), join(dir, 'telegram-bot'), { recursive: true });
  return dir;
}

describe('templates folder', () => {
  it('a missing folder stops start-up with one message naming it (exit 1)', () => {
    const run = runCli({ TEMPLATES_DIR: join(root, 'no-such-dir') });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`TEMPLATES_DIR "${join(root, 'no-such-dir')}"`);
    expect(run.stderr).toMatch(/cannot be read \(.*ENOENT/);
  });

  it('an empty folder stops start-up naming it', async () => {
    await mkdir(join(root, 'empty'));
    const run = runCli({ TEMPLATES_DIR: join(root, 'empty') });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`TEMPLATES_DIR "${join(root, 'empty')}"`);
    expect(run.stderr).toContain('holds no templates');
  });

  it('a folder of only invalid templates stops start-up naming each', async () => {
    const dir = await mixedTemplates(join(root, 'only-broken'), false);
    const run = runCli({ TEMPLATES_DIR: dir });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('holds no valid template');
    expect(run.stderr).toContain('broken/template.yaml');
  });
});

describe('with PocketBase and the simulator', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.cleanup();
    h = undefined;
  });

  /** The check's failure message, once it contains `fragment` (the checks run in the background). */
  async function failing(check: string, fragment = '') {
    return waitFor(
      async () => {
        const res = await fetch(`${h!.daemon!.url}/readyz`);
        const body = (await res.json()) as { ready: boolean; failing: { check: string; message: string }[] };
        const hit = body.failing.find((f) => f.check === check);
        return hit && res.status === 503 && hit.message.includes(fragment) ? hit.message : null;
      },
      15_000,
      { what: `/readyz failing ${check}` },
    );
  }

  function errorLines(fragment: string): string[] {
    return h!.logs.filter((l) => l.includes('"level":"error"') && l.includes(fragment));
  }

  it('invalid templates next to valid ones: the daemon runs, /readyz fails naming them, an error line says which', async () => {
    const dir = await mixedTemplates(join(root, 'mixed'));
    h = await startHarness({ env: { TEMPLATES_DIR: dir } });
    const message = await failing('templates');
    expect(message).toContain('invalid template broken');
    expect(message).toContain('broken/template.yaml');
    expect(errorLines('invalid template broken').length).toBe(1);
    // Everything else is healthy: only the templates check fails.
    await waitFor(async () => {
      const failingChecks = await h!.daemon!.readiness();
      return failingChecks.length === 1 && failingChecks[0]?.check === 'templates';
    }, 15_000, { what: 'only the templates check failing' });
  });

  it('a COOLIFY_SERVER_UUID Coolify does not have keeps /readyz failing naming it and the servers there are', async () => {
    h = await startHarness({ env: { COOLIFY_SERVER_UUID: 'no-such-server' } });
    const message = await failing('coolify_placement', 'no-such-server');
    expect(message).toContain('COOLIFY_SERVER_UUID no-such-server is not a server of this Coolify');
    expect(message).toContain(h.sim.serverUuid);
    expect(errorLines('COOLIFY_SERVER_UUID no-such-server').length).toBe(1);
  });

  it('a COOLIFY_DESTINATION_UUID the server does not have keeps /readyz failing naming it', async () => {
    h = await startHarness({ env: { COOLIFY_DESTINATION_UUID: 'no-such-destination' } });
    const message = await failing('coolify_placement', 'no-such-destination');
    expect(message).toContain('COOLIFY_DESTINATION_UUID no-such-destination is not a destination of server');
    expect(message).toContain(h.sim.destinationUuid);
  });

  it('a rejected token is its own check, logged at error once with what to do, and not "reachable"', async () => {
    h = await startHarness({ env: { COOLIFY_TOKEN: '9|not-a-token' } });
    const message = await failing('coolify_token', 'rejects');
    expect(message).toContain('Coolify rejects COOLIFY_TOKEN (401');
    expect(message).toContain('read:sensitive');
    expect(message).toContain('30 days');
    expect(message).not.toContain('not-a-token');
    const reach = await failing('coolify_reachable', '401');
    expect(reach).toContain('401');
    // Reconciles keep meeting 401s; the error line is written once per change, not per call.
    await h.daemon!.resync().catch(() => undefined);
    expect(errorLines('Coolify rejects COOLIFY_TOKEN').length).toBe(1);
    expect(h.logs.join('\n')).not.toContain('not-a-token');
  });
});

/** Log lines in memory, for connectPocketBase. */
class Lines extends Transport {
  constructor(readonly lines: string[]) {
    super();
  }
  override log(info: unknown, next: () => void): void {
    this.lines.push(JSON.stringify(info));
    next();
  }
}

describe('PocketBase sign-in failures name their real cause, once per attempt', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  async function attempts(url: string, n: number): Promise<string[]> {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', format: 'json', redactor: new Redactor(), transports: [new Lines(lines)] });
    const controller = new AbortController();
    const causes: string[] = [];
    const connecting = connectPocketBase({
      url,
      email: 'a@example.com',
      password: 'a-password-1234',
      redactor: new Redactor(),
      logger,
      clock: systemClock,
      initialBackoffMs: 10,
      maxBackoffMs: 20,
      signal: controller.signal,
      onAttemptFailed: (c) => causes.push(c.message),
    });
    await waitFor(() => causes.length >= n, 10_000, { what: `${n} attempts` });
    controller.abort();
    await connecting.catch(() => undefined);
    const failed = lines.filter((l) => l.includes('PocketBase sign-in failed'));
    // One line per attempt: attempt numbers never repeat.
    const numbers = failed.map((l) => (JSON.parse(l) as { attempt: number }).attempt);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(causes.length).toBeGreaterThanOrEqual(n);
    return failed;
  }

  it('a closed port shows ECONNREFUSED', async () => {
    const port = await freePort();
    const lines = await attempts(`http://127.0.0.1:${port}`, 2);
    expect(lines[0]).toContain('ECONNREFUSED');
    expect(lines[0]).toContain(`cannot connect to PocketBase at http://127.0.0.1:${port}`);
    expect(lines[0]).not.toContain('Something went wrong');
  });

  it('a server answering 404 is named as not PocketBase (logged at error)', async () => {
    const server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end('<h1>Not Found</h1>');
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const lines = await attempts(url, 2);
    expect(lines[0]).toContain('answered 404');
    expect(lines[0]).toContain('not a PocketBase server');
    expect(lines[0]).toContain('"level":"error"');
  });

  it('a server answering 200 without a token is named as not PocketBase', async () => {
    const server = createServer((_req, res) => res.end('<h1>hello</h1>'));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const lines = await attempts(url, 1);
    expect(lines[0]).toContain('without an auth token: not a PocketBase server');
  });
});

describe('the daemon while PocketBase is not there (compiled CLI)', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  /**
   * Runs `cf-reconciler run` against `pocketbaseUrl`, waits until /readyz names the PocketBase
   * problem, checks /healthz and /metrics meanwhile, and stops it with SIGTERM.
   */
  async function whileWaiting(pocketbaseUrl: string, cause: string): Promise<{ readyz: string; stdout: string; code: number | null }> {
    const port = await freePort();
    const child = spawn(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli.js'), 'run'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        POCKETBASE_URL: pocketbaseUrl,
        POCKETBASE_SUPERUSER_EMAIL: 'a@example.com',
        POCKETBASE_SUPERUSER_PASSWORD: 'a-password-1234',
        COOLIFY_URL: 'http://127.0.0.1:9',
        COOLIFY_TOKEN: '1|token',
        COOLIFY_SERVER_UUID: 'server',
        TEMPLATES_DIR: join(projectRoot(), 'templates'),
        HTTP_ADDR: `127.0.0.1:${port}`,
      },
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const base = `http://127.0.0.1:${port}`;
      const readyz = await waitFor(
        async () => {
          const res = await fetch(`${base}/readyz`);
          const text = await res.text();
          return res.status === 503 && text.includes('"check":"pocketbase"') && text.includes(cause) ? text : null;
        },
        20_000,
        { what: '/readyz naming the PocketBase problem' },
      );
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('cf_build_info{version=');
      // The first line says which version runs.
      const first = JSON.parse(stdout.split('\n')[0] ?? '') as { message: string; version: string };
      expect(first.message).toBe('cf-reconciler starting');
      expect(first.version).toBe(packageVersion());
      // A couple of attempts, to see each logged once.
      await waitFor(() => (stdout.match(/PocketBase sign-in failed/g) ?? []).length >= 2, 20_000, { what: 'two sign-in attempts' });
      return { readyz, stdout, code: null };
    } finally {
      child.kill('SIGTERM');
      const code = await exited;
      expect(code).toBe(0);
    }
  }

  function attemptsOf(stdout: string): number[] {
    return stdout
      .split('\n')
      .filter((l) => l.includes('PocketBase sign-in failed'))
      .map((l) => (JSON.parse(l) as { attempt: number }).attempt);
  }

  it('a closed port: /healthz and /metrics answer, /readyz shows ECONNREFUSED, each attempt logged once', async () => {
    const port = await freePort();
    const { readyz, stdout } = await whileWaiting(`http://127.0.0.1:${port}`, 'ECONNREFUSED');
    expect(readyz).toContain('ECONNREFUSED');
    const attempts = attemptsOf(stdout);
    expect(new Set(attempts).size).toBe(attempts.length);
    expect(stdout).not.toContain('Something went wrong');
  });

  it('a server that is not PocketBase (404): /readyz names it', async () => {
    const server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end('not here');
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { readyz } = await whileWaiting(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'answered 404');
    expect(readyz).toContain('answered 404');
    expect(readyz).toContain('not a PocketBase server');
  });
});
