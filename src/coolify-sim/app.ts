import { authenticate, hasAbility, type SimPrincipal, type SimTokenConfig } from './auth.js';
import { FAULT_HEADER, type SimFaults } from './faults.js';
import { NOT_FOUND_CATCH_ALL, Reply, SERVER_ERROR, type SimRequest, type SimResponse } from './http.js';
import type { Handler } from './handlers/context.js';
import type { SimLifecycle } from './lifecycle.js';
import { resolve } from './router.js';
import type { SimState } from './state.js';
import type { Throttle } from './throttle.js';

/**
 * The request pipeline, in Coolify's order (notes §1, §10): unauthenticated health and catch-all
 * → sanctum auth (401) → per-user throttle (429) → ability (403) → controller.
 */

export interface RequestLogEntry {
  /** Epoch ms when the response was decided. */
  time: number;
  method: string;
  /** Path without the query string. */
  path: string;
  status: number;
}

export type AppOutcome =
  | SimResponse
  | { drop: true }
  | { malformed: true }
  /** The answer `response`, cut off after `afterBytes` bytes of its body and `stallMs`. */
  | { cut: { response: SimResponse; afterBytes: number; stallMs: number } };

export interface SimAppDeps {
  state: SimState;
  lifecycle: SimLifecycle;
  tokens: SimTokenConfig[];
  throttle: Throttle;
  faults: SimFaults;
  version: string;
  now: () => number;
  /** Entries kept in the request log; the oldest go first. Unbounded when undefined. */
  requestLogLimit?: number;
}

const API_PREFIX = '/api/v1/';

export class SimApp {
  readonly requestLog: RequestLogEntry[] = [];
  readonly #deps: SimAppDeps;
  /** Releases of injected delays still waiting, so `close()` leaves no timer behind. */
  readonly #pendingDelays = new Set<() => void>();

  constructor(deps: SimAppDeps) {
    this.#deps = deps;
  }

  async handle(req: SimRequest): Promise<AppOutcome> {
    const outcome = await this.#route(req);
    const status = 'status' in outcome ? outcome.status : 'drop' in outcome ? 0 : 'cut' in outcome ? outcome.cut.response.status : 200;
    this.requestLog.push({ time: this.#deps.now(), method: req.method, path: req.path, status });
    const limit = this.#deps.requestLogLimit;
    // Trimmed in chunks so a long-running standalone sim does not shift the array on every request.
    if (limit !== undefined && this.requestLog.length > limit * 1.25) this.requestLog.splice(0, this.requestLog.length - limit);
    return outcome;
  }

  async #route(req: SimRequest): Promise<AppOutcome> {
    const d = this.#deps;
    if ((req.path === '/api/health' || req.path === '/api/v1/health') && req.method === 'GET') {
      return { status: 200, text: 'OK' };
    }
    if (!req.path.startsWith(API_PREFIX)) return { status: 404, body: NOT_FOUND_CATCH_ALL };
    const path = req.path.slice(API_PREFIX.length);
    const found = resolve(req.method, path);
    // `Route::any('/{any}')` answers every unknown path or verb, before any auth.
    if (found.kind === 'none') return { status: 404, body: NOT_FOUND_CATCH_ALL };

    const principal = authenticate(req, d.tokens);
    if (!principal) return { status: 401, body: { message: 'Unauthenticated.' } };

    const rate = d.throttle.hit(principal.user, d.now());
    const rateHeaders: Record<string, string> = {
      'X-RateLimit-Limit': String(rate.limit),
      'X-RateLimit-Remaining': String(rate.remaining),
    };
    const burst = d.faults.take('throttle', req.method, path);
    if (!rate.allowed || burst) {
      const retryAfter = burst?.kind === 'status' ? Number(burst.headers?.['Retry-After'] ?? 1) : Math.max(1, Math.ceil((rate.resetAt - d.now()) / 1000));
      return {
        status: 429,
        body: { message: 'Too Many Attempts.' },
        headers: {
          ...rateHeaders,
          'X-RateLimit-Remaining': '0',
          'Retry-After': String(retryAfter),
          'X-RateLimit-Reset': String(Math.ceil(d.now() / 1000) + retryAfter),
        },
      };
    }

    const withRate = (r: SimResponse): SimResponse => ({ ...r, headers: { ...rateHeaders, ...r.headers } });
    if (found.kind === 'post-only') {
      return withRate({ status: 405, body: { message: 'This endpoint has changed to a POST request.' }, headers: { Allow: 'POST' } });
    }
    if (!hasAbility(principal, found.route.ability)) {
      return withRate({ status: 403, body: { message: `Missing required permissions: ${found.route.ability}` } });
    }

    for (let fault = d.faults.take('controller', req.method, path); fault; fault = d.faults.take('controller', req.method, path)) {
      if (fault.kind === 'delay') {
        await this.#delay(fault.ms);
        continue;
      }
      if (fault.kind === 'drop') return { drop: true };
      if (fault.kind === 'lose') {
        // The answer goes nowhere; the work is done later, as a slow Coolify would.
        void this.#delay(fault.afterMs).then(() => this.#run(found.route.handler, req, found.params, principal));
        return { drop: true };
      }
      if (fault.kind === 'malformed') return { malformed: true };
      if (fault.kind === 'cut') {
        const response = withRate(this.#run(found.route.handler, req, found.params, principal));
        return { cut: { response, afterBytes: fault.afterBytes, stallMs: fault.stallMs } };
      }
      return withRate({ status: fault.status, body: fault.body, headers: { ...fault.headers, [FAULT_HEADER]: 'status' } });
    }
    return withRate(this.#run(found.route.handler, req, found.params, principal));
  }

  #delay(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.#pendingDelays.delete(release);
        resolve();
      };
      const timer = setTimeout(release, ms);
      this.#pendingDelays.add(release);
    });
  }

  /** Ends every injected delay now (the simulator is closing; the answers go nowhere). */
  releaseDelays(): void {
    for (const release of [...this.#pendingDelays]) release();
  }

  #run(handler: Handler, req: SimRequest, params: Record<string, string>, principal: SimPrincipal): SimResponse {
    const d = this.#deps;
    try {
      return handler({ req, params, state: d.state, principal, lifecycle: d.lifecycle, now: d.now(), version: d.version });
    } catch (e) {
      if (e instanceof Reply) return e.response;
      // An unexpected exception is Laravel's generic 500; keep it for whoever debugs the sim.
      this.lastError = e;
      if (process.env.COOLIFY_SIM_DEBUG) console.error('coolify-sim handler failed', e);
      return { status: 500, body: SERVER_ERROR };
    }
  }

  /** The last exception a handler threw unexpectedly (a simulator bug, or an injected parse failure). */
  lastError: unknown;
}
