/**
 * The daemon's operational HTTP endpoints (node:http, no framework):
 * - GET /healthz: 200 "ok" while the process loop runs (liveness); 503 once `live()` says otherwise.
 * - GET /readyz: 200 when every readiness check passes, else 503 with the failing checks as JSON.
 * - GET /metrics: Prometheus text from the daemon's own registry.
 *
 * Readiness checks are injected so the server knows nothing about PocketBase or Coolify. Each check is
 * bounded by `checkTimeoutMs`: a probe that hangs must turn into a failing check, not a hung request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { coerceError } from '../errors.js';

/**
 * A readiness probe. Passing: returns `true` or `{ ok: true }`. Failing: returns `false`,
 * `{ ok: false, message }`, or throws (the error message becomes the reason).
 */
export type ReadinessCheck = () => boolean | CheckOutcome | Promise<boolean | CheckOutcome>;
export interface CheckOutcome {
  ok: boolean;
  message?: string;
}

export interface FailingCheck {
  check: string;
  message: string;
}

/** What the server needs from Metrics: the text exposition and its content type. */
export interface MetricsSource {
  text(): Promise<string>;
  readonly contentType: string;
}

export interface HttpServerOptions {
  /** Interface to bind; keep it on loopback unless a scraper elsewhere needs it. */
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  metrics: MetricsSource;
  /** Named readiness checks, reported under their names (read on every request, so may grow). */
  readiness: Record<string, ReadinessCheck>;
  /** Extra fields for the /readyz body, e.g. the daemon's role. */
  info?: () => Record<string, unknown>;
  /** Liveness: false once the main loop has died. @default () => true */
  live?: () => boolean;
  /** Upper bound for one readiness check, in ms. @default 2000 */
  checkTimeoutMs?: number;
  /** Applied to every failure message before it leaves the process (e.g. Redactor.redact). */
  redact?: (text: string) => string;
  /** @default systemClock */
  clock?: Clock;
}

export interface RunningHttpServer {
  /** Base URL, e.g. http://127.0.0.1:9464 */
  url: string;
  port: number;
  /** Stops listening and drops idle keep-alive connections. */
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const live = options.live ?? (() => true);
  const redact = options.redact ?? ((text: string) => text);
  const clock = options.clock ?? systemClock;
  const checkTimeoutMs = options.checkTimeoutMs ?? 2000;

  const failingChecks = async (): Promise<FailingCheck[]> => {
    const results = await Promise.all(
      Object.entries(options.readiness).map(async ([check, probe]) => {
        const message = await runCheck(probe, clock, checkTimeoutMs);
        return message === undefined ? undefined : { check, message: redact(message) };
      }),
    );
    return results.filter((r): r is FailingCheck => r !== undefined);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') {
      return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    if (path === '/healthz') {
      return live()
        ? send(res, 200, 'text/plain; charset=utf-8', 'ok\n')
        : send(res, 503, 'text/plain; charset=utf-8', 'not live\n');
    }
    if (path === '/readyz') {
      const failing = await failingChecks();
      const body = JSON.stringify({ ready: failing.length === 0, ...options.info?.(), failing });
      return send(res, failing.length === 0 ? 200 : 503, 'application/json', `${body}\n`);
    }
    return send(res, 200, options.metrics.contentType, await options.metrics.text());
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `${redact(coerceError(e).message)}\n`);
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;

  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

/** Returns undefined when the check passes, else the reason it failed. */
async function runCheck(probe: ReadinessCheck, clock: Clock, timeoutMs: number): Promise<string | undefined> {
  let cancel = () => {};
  const timedOut = new Promise<string>((resolve) => {
    cancel = clock.schedule(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  const verdict = (async () => {
    try {
      const r = await probe();
      if (r === true) return undefined;
      if (r === false) return 'check failed';
      return r.ok ? undefined : (r.message ?? 'check failed');
    } catch (e) {
      return coerceError(e).message;
    }
  })();
  try {
    return await Promise.race([verdict, timedOut]);
  } finally {
    cancel();
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
