import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimApp, type RequestLogEntry } from './app.js';
import type { Ability, SimTokenConfig } from './auth.js';
import { SimEdits } from './edits.js';
import { FAULT_HEADER, SimFaults } from './faults.js';
import type { SimResponse } from './http.js';
import { newToken } from './ids.js';
import { SimLifecycle } from './lifecycle.js';
import { SimState } from './state.js';
import { Throttle, type ThrottleOptions } from './throttle.js';

export interface CoolifySimOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Bearer token of the main user; generated (`<id>|<secret>`) when absent. */
  token?: string;
  /** Abilities of the main token. Default `['root']`. */
  abilities?: Ability[];
  /** More tokens, e.g. a read-only one for permission tests. */
  extraTokens?: SimTokenConfig[];
  /** Lag of queued jobs (start, stop, delete) in ms. Default 50; 0 runs them synchronously. */
  lagMs?: number;
  /** Per-user throttle. Default Coolify's 200 per 60 s. */
  rateLimit?: ThrottleOptions;
  /** Destinations on the server. Default 1; more exercises the destination_uuid rules. */
  destinations?: number;
  /** Text of GET /version. Default 4.3.11. */
  version?: string;
  /** Keep at most about this many request log entries (oldest dropped). Default: keep all. */
  requestLogLimit?: number;
}

export interface CoolifySim {
  /** Base URL, without /api/v1 (what COOLIFY_URL holds). */
  url: string;
  token: string;
  serverUuid: string;
  destinationUuid: string;
  state: SimState;
  requestLog: RequestLogEntry[];
  faults: SimFaults;
  edits: SimEdits;
  /** Adds a token at run time (e.g. a second user). */
  addToken(config: SimTokenConfig): void;
  close(): Promise<void>;
}

const HTML_ERROR_TITLES: Record<number, string> = { 429: 'Too Many Requests', 500: 'Server Error', 503: 'Service Unavailable' };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, r: SimResponse, acceptsJson: boolean): void {
  const { headers, payload } = render(r, acceptsJson, true);
  res.writeHead(r.status, headers);
  if (payload === undefined) void sendList(res, r.body as unknown[]);
  else res.end(payload);
}

/** Sends the first `afterBytes` bytes of the answer, then destroys the connection after `stallMs`. */
function sendCut(res: ServerResponse, cut: { response: SimResponse; afterBytes: number; stallMs: number }, acceptsJson: boolean): void {
  const { headers, payload = '' } = render(cut.response, acceptsJson, false);
  const bytes = Buffer.from(payload, 'utf8');
  res.writeHead(cut.response.status, { ...headers, 'Content-Length': String(bytes.length) });
  res.write(bytes.subarray(0, Math.min(cut.afterBytes, bytes.length)));
  setTimeout(() => res.socket?.destroy(), cut.stallMs).unref();
}

/** Headers and body of an answer; no body for a long list when `sliceLists` (send it with `sendList`). */
function render(r: SimResponse, acceptsJson: boolean, sliceLists: boolean): { headers: Record<string, string>; payload: string | undefined } {
  const headers: Record<string, string> = { ...r.headers };
  let payload: string;
  if (r.text !== undefined) {
    headers['Content-Type'] = 'text/html; charset=UTF-8';
    payload = r.text;
  } else if (!acceptsJson && HTML_ERROR_TITLES[r.status]) {
    // Laravel renders framework errors as HTML unless the request expects JSON (notes §2).
    headers['Content-Type'] = 'text/html; charset=UTF-8';
    payload = `<!DOCTYPE html><html><head><title>${HTML_ERROR_TITLES[r.status]}</title></head><body>${r.status} | ${HTML_ERROR_TITLES[r.status]}</body></html>`;
  } else {
    headers['Content-Type'] = 'application/json';
    if (sliceLists && Array.isArray(r.body) && r.body.length > LIST_SLICE) return { headers, payload: undefined };
    payload = JSON.stringify(r.body ?? null);
  }
  return { headers, payload };
}

/** Resolves when `res` can take more, or is closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

/** Items of a long list serialized per turn of the event loop. */
const LIST_SLICE = 200;

/**
 * A long list (10,000 services are about 25 MB) written a slice at a time, yielding between slices,
 * so one list does not hold up every other request: Coolify answers requests concurrently, and a
 * simulator that stalled for the length of a list would make the daemon look slow. The items were
 * built when the request was handled, so the answer is still one consistent snapshot.
 */
async function sendList(res: ServerResponse, items: unknown[]): Promise<void> {
  for (let i = 0; i < items.length; i += LIST_SLICE) {
    if (res.destroyed) return;
    const slice = JSON.stringify(items.slice(i, i + LIST_SLICE));
    const part = `${i === 0 ? '[' : ','}${slice.slice(1, -1)}${i + LIST_SLICE >= items.length ? ']' : ''}`;
    if (res.write(part)) await new Promise<void>((resolve) => setImmediate(resolve));
    else await drained(res);
  }
  res.end();
}

/** Starts the simulator on 127.0.0.1 with one server and its destination(s). */
export async function startCoolifySim(options: CoolifySimOptions = {}): Promise<CoolifySim> {
  const now = () => Date.now();
  const state = new SimState();
  const created = now();
  const server = { id: state.nextId('servers'), uuid: state.newUuid(), name: 'localhost', ip: '127.0.0.1', wildcardDomain: '127.0.0.1.sslip.io' };
  state.servers.push(server);
  const destinationCount = options.destinations ?? 1;
  for (let i = 0; i < destinationCount; i++) {
    state.destinations.push({
      id: state.nextId('destinations'),
      uuid: state.newUuid(),
      name: i === 0 ? 'localhost-coolify' : `localhost-coolify-${i + 1}`,
      network: i === 0 ? 'coolify' : `coolify-${i + 1}`,
      serverId: server.id,
      createdAt: created,
      updatedAt: created,
    });
  }

  const token = options.token ?? newToken(1);
  const tokens: SimTokenConfig[] = [{ token, abilities: options.abilities ?? ['root'], user: 'owner' }, ...(options.extraTokens ?? [])];
  const lifecycle = new SimLifecycle(state, options.lagMs ?? 50, now);
  const faults = new SimFaults();
  const app = new SimApp({
    state,
    lifecycle,
    tokens,
    throttle: new Throttle(options.rateLimit ?? { limit: 200 }),
    faults,
    version: options.version ?? '4.3.11',
    now,
    ...(options.requestLogLimit !== undefined ? { requestLogLimit: options.requestLogLimit } : {}),
  });

  const httpServer = createServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://sim.invalid');
        const outcome = await app.handle({
          method: (req.method ?? 'GET').toUpperCase(),
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          rawBody: await readBody(req),
        });
        if ('drop' in outcome) {
          req.socket.destroy();
          return;
        }
        if ('malformed' in outcome) {
          res.writeHead(200, { 'Content-Type': 'application/json', [FAULT_HEADER]: 'malformed' });
          res.end('{"uuid": "trunc');
          return;
        }
        const acceptsJson = String(req.headers.accept ?? '').includes('json');
        if ('cut' in outcome) {
          sendCut(res, outcome.cut, acceptsJson);
          return;
        }
        send(res, outcome, acceptsJson);
      } catch (e) {
        app.lastError = e;
        if (!res.headersSent) send(res, { status: 500, body: { message: 'Server Error' } }, true);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const destination = state.destinations[0];

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    serverUuid: server.uuid,
    destinationUuid: destination?.uuid ?? '',
    state,
    requestLog: app.requestLog,
    faults,
    edits: new SimEdits(state, lifecycle, now),
    addToken: (config) => tokens.push(config),
    close: async () => {
      lifecycle.close();
      app.releaseDelays();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}
