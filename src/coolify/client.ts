import ky, { type KyInstance } from 'ky';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import {
  ShapeError,
  decodeDestination,
  decodeEnvVar,
  decodeList,
  decodeProject,
  decodeProjectDetail,
  decodeServer,
  decodeService,
  decodeServiceDetail,
  decodeUuid,
  decodeUuidAndDomains,
} from './decode.js';
import { CoolifyError } from './errors.js';
import { JsonArrayError, readJsonArray } from './json-array-stream.js';
import type { RateLimiter } from './rate-limiter.js';
import type {
  CoolifyApi,
  CoolifyDestination,
  CoolifyEnvVar,
  CoolifyProject,
  CoolifyProjectDetail,
  CoolifyServer,
  CoolifyService,
  CoolifyServiceDetail,
  CoolifyUrl,
  CreateServiceInput,
  LifecycleResult,
  UpdateServiceInput,
} from './types.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface CoolifyResponseInfo {
  method: HttpMethod;
  /** Route template relative to /api/v1, e.g. `services/{uuid}/start` (`health` is /api/health): low-cardinality, fit for metric labels. */
  route: string;
  /** HTTP status, or what happened instead of a response. */
  status: number | 'timeout' | 'network';
  durationMs: number;
}

export interface CoolifyClientOptions {
  /** Coolify base URL, e.g. https://coolify.example.com; the client adds /api/v1. */
  baseUrl: string;
  token: string;
  /** Shared by every client talking to the same Coolify user. */
  limiter: RateLimiter;
  clock?: Clock;
  logger?: Logger;
  /** Per-attempt timeout in ms. Default 15 000. */
  timeoutMs?: number;
  /** Budget for one call including all retries and waits, in ms. Default 60 000. */
  deadlineMs?: number;
  /** Retries after a transient failure (429s are bounded by the deadline instead). Default 3. */
  maxRetries?: number;
  /** Called once per HTTP attempt. */
  onResponse?: (info: CoolifyResponseInfo) => void;
  /**
   * Called right before each HTTP attempt, after the rate limiter's wait; a throw ends the call
   * unsent (a daemon that lost its lease or is stopping sends nothing more).
   */
  beforeSend?: () => void;
  /** fetch implementation; tests pass a recording wrapper around the global one. */
  fetch?: typeof fetch;
}

/**
 * `idempotent`: repeating the request cannot do harm (GET, DELETE, PATCH that sets fields, and the
 * lifecycle POSTs whose repeat is a no-op): retried on 5xx, timeouts, network errors and 429.
 * `create`: a repeat could create a duplicate, so it is retried only when Coolify certainly did not
 * run the controller: a 429 (the throttle runs before it) or a refused connection.
 */
type RetryPolicy = 'idempotent' | 'create';

interface Call {
  method: HttpMethod;
  route: string;
  path: string;
  searchParams?: Record<string, string>;
  json?: unknown;
  policy: RetryPolicy;
  /** Non-2xx statuses the caller handles itself (e.g. 400 "already running"). */
  handles?: (status: number, body: unknown) => boolean;
  /**
   * Reads a 2xx JSON body as it arrives instead of as one text (list responses): what it returns
   * is the reply's body. Called afresh on each attempt. It throws JsonArrayError or ShapeError for
   * a body of the wrong shape, and MapError around anything the caller's own code threw.
   */
  stream?: (body: ReadableStream<Uint8Array>) => Promise<unknown>;
}

/** What a caller's mapping function threw while a list was streamed: passed to the caller unchanged, never retried. */
class MapError {
  constructor(readonly cause: unknown) {}
}

interface Reply {
  status: number;
  body: unknown;
}

const TIMEOUT = Symbol('attempt timeout');
const DEADLINE = Symbol('call deadline');
/** Used when a 429 carries no usable Retry-After. */
const DEFAULT_RATE_LIMIT_PAUSE_MS = 5_000;
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 8_000;
/** Bound on 429 retries within one call, on top of the deadline. */
const MAX_RATE_LIMITED_RETRIES = 20;

/** Canonical padded base64 of the UTF-8 bytes: the only form Coolify accepts (notes §5.2). */
export function encodeCompose(yaml: string): string {
  return Buffer.from(yaml, 'utf8').toString('base64');
}

/** Parses `Retry-After` (seconds or HTTP date) into ms from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const enc = encodeURIComponent;

export class CoolifyClient implements CoolifyApi {
  readonly #ky: KyInstance;
  readonly #limiter: RateLimiter;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #deadlineMs: number;
  readonly #maxRetries: number;
  readonly #onResponse: ((info: CoolifyResponseInfo) => void) | undefined;
  readonly #beforeSend: (() => void) | undefined;
  readonly #healthUrl: string;
  readonly #fetch: typeof fetch;

  constructor(options: CoolifyClientOptions) {
    if (!options.token) throw new TypeError('Coolify token is empty');
    const base = options.baseUrl.replace(/\/+$/, '');
    const prefixUrl = `${base}/api/v1`;
    this.#healthUrl = `${base}/api/health`;
    this.#fetch = options.fetch ?? fetch;
    this.#ky = ky.create({
      prefixUrl,
      // Retries, timeouts and deadlines are handled below: ky 1's timeout is per attempt and its
      // Retry-After waits are uncapped.
      retry: 0,
      timeout: false,
      throwHttpErrors: false,
      headers: {
        Authorization: `Bearer ${options.token}`,
        Accept: 'application/json',
        'Content-Type': 'application/json',
      },
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.#limiter = options.limiter;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger();
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#deadlineMs = options.deadlineMs ?? 60_000;
    this.#maxRetries = options.maxRetries ?? 3;
    this.#onResponse = options.onResponse;
    this.#beforeSend = options.beforeSend;
  }

  // ---- projects ----

  async version(): Promise<string> {
    const r = await this.#call({ method: 'GET', route: 'version', path: 'version', policy: 'idempotent' });
    const text = typeof r.body === 'string' ? r.body.trim() : '';
    if (text === '') throw this.#invalid('GET', 'version', 'version is not a non-empty text');
    return text;
  }

  /**
   * One attempt, bounded by the per-attempt timeout. It bypasses the limiter and sends no token:
   * `/api/health` needs no auth and Coolify throttles it in its own bucket of 1000/min per client
   * IP (notes §1, §10), so probing it never spends the per-user budget of real work. Any failure,
   * the network's included, is reported as false because "not healthy" is the whole answer.
   */
  async health(): Promise<boolean> {
    const started = this.#clock.now();
    const abort = new AbortController();
    const cancelTimer = this.#clock.schedule(() => abort.abort(TIMEOUT), this.#timeoutMs);
    let status: CoolifyResponseInfo['status'];
    let healthy = false;
    try {
      const res = await this.#fetch(this.#healthUrl, { method: 'GET', headers: { Accept: 'application/json' }, signal: abort.signal });
      status = res.status;
      healthy = res.status === 200 && (await res.text()).trim() === 'OK';
    } catch {
      status = abort.signal.aborted ? 'timeout' : 'network';
    } finally {
      cancelTimer();
    }
    const durationMs = this.#clock.now() - started;
    this.#logger.debug('coolify request', { method: 'GET', route: 'health', status, durationMs });
    this.#onResponse?.({ method: 'GET', route: 'health', status, durationMs });
    return healthy;
  }

  async listProjects(): Promise<CoolifyProject[]> {
    const r = await this.#get('projects', 'projects');
    return this.#decode('GET', 'projects', () => decodeList(r.body, 'projects', decodeProject));
  }

  async getProject(uuid: string): Promise<CoolifyProjectDetail> {
    const path = `projects/${enc(uuid)}`;
    const r = await this.#get('projects/{uuid}', path);
    return this.#decode('GET', path, () => decodeProjectDetail(r.body));
  }

  async createProject(input: { name: string; description: string }): Promise<{ uuid: string }> {
    const r = await this.#call({
      method: 'POST',
      route: 'projects',
      path: 'projects',
      json: { name: input.name, description: input.description },
      policy: 'create',
    });
    return this.#decode('POST', 'projects', () => decodeUuid(r.body));
  }

  /** PATCH /projects/{uuid}: Coolify answers 201 (sic) with the project's uuid, name and description. */
  async updateProject(uuid: string, input: { description: string }): Promise<{ uuid: string }> {
    const path = `projects/${enc(uuid)}`;
    const r = await this.#call({ method: 'PATCH', route: 'projects/{uuid}', path, json: { description: input.description }, policy: 'idempotent' });
    return this.#decode('PATCH', path, () => decodeUuid(r.body));
  }

  async createEnvironment(projectUuid: string, name: string): Promise<{ uuid: string }> {
    const path = `projects/${enc(projectUuid)}/environments`;
    const r = await this.#call({ method: 'POST', route: 'projects/{uuid}/environments', path, json: { name }, policy: 'create' });
    return this.#decode('POST', path, () => decodeUuid(r.body));
  }

  /** A project already gone counts as deleted. */
  async deleteProject(uuid: string): Promise<void> {
    await this.#delete('projects/{uuid}', `projects/${enc(uuid)}`);
  }

  // ---- servers ----

  async listServers(): Promise<CoolifyServer[]> {
    const r = await this.#get('servers', 'servers');
    return this.#decode('GET', 'servers', () => decodeList(r.body, 'servers', decodeServer));
  }

  async listDestinations(serverUuid: string): Promise<CoolifyDestination[]> {
    const path = `servers/${enc(serverUuid)}/destinations`;
    const r = await this.#get('servers/{uuid}/destinations', path);
    return this.#decode('GET', path, () => decodeList(r.body, 'destinations', decodeDestination));
  }

  // ---- services ----

  async listServices(): Promise<CoolifyService[]> {
    const r = await this.#get('services', 'services');
    return this.#decode('GET', 'services', () => decodeList(r.body, 'services', decodeService));
  }

  /**
   * GET /services read as a stream: each service is decoded and mapped as soon as its bytes
   * arrive, so the composes of a whole listing are never in memory together (notes §5.1: the list
   * carries every service's compose). A retry starts a fresh list.
   */
  async listServicesMapped<T>(map: (service: CoolifyService) => T): Promise<T[]> {
    const r = await this.#call({
      method: 'GET',
      route: 'services',
      path: 'services',
      policy: 'idempotent',
      stream: (body) =>
        readJsonArray(body, (value, i) => {
          const service = decodeService(value, `services[${i}]`);
          try {
            return map(service);
          } catch (e) {
            throw new MapError(e);
          }
        }),
    });
    return r.body as T[];
  }

  async getService(uuid: string): Promise<CoolifyServiceDetail> {
    const path = `services/${enc(uuid)}`;
    const r = await this.#get('services/{uuid}', path);
    return this.#decode('GET', path, () => decodeServiceDetail(r.body));
  }

  async createService(input: CreateServiceInput): Promise<{ uuid: string; domains: string[] }> {
    const body: Record<string, unknown> = {
      name: input.name,
      description: input.description,
      project_uuid: input.projectUuid,
      environment_name: input.environmentName,
      server_uuid: input.serverUuid,
      docker_compose_raw: encodeCompose(input.composeYaml),
      instant_deploy: input.instantDeploy ?? false,
    };
    if (input.destinationUuid !== undefined) body.destination_uuid = input.destinationUuid;
    if (input.urls !== undefined) body.urls = urlsBody(input.urls);
    const r = await this.#call({ method: 'POST', route: 'services', path: 'services', json: body, policy: 'create' });
    return this.#decode('POST', 'services', () => decodeUuidAndDomains(r.body));
  }

  async updateService(uuid: string, input: UpdateServiceInput): Promise<{ uuid: string; domains: string[] }> {
    const body: Record<string, unknown> = {};
    if (input.name !== undefined) body.name = input.name;
    if (input.description !== undefined) body.description = input.description;
    if (input.composeYaml !== undefined) body.docker_compose_raw = encodeCompose(input.composeYaml);
    if (input.urls !== undefined) body.urls = urlsBody(input.urls);
    // Coolify answers an empty JSON object with 400 "Empty JSON." (notes §2).
    if (Object.keys(body).length === 0) throw new TypeError('updateService needs at least one field to change');
    const path = `services/${enc(uuid)}`;
    const r = await this.#call({ method: 'PATCH', route: 'services/{uuid}', path, json: body, policy: 'idempotent' });
    return this.#decode('PATCH', path, () => decodeUuidAndDomains(r.body));
  }

  /** Queues deletion with volumes, networks and configuration; a service already gone counts as deleted. */
  async deleteService(uuid: string): Promise<void> {
    await this.#delete('services/{uuid}', `services/${enc(uuid)}`, {
      delete_configurations: 'true',
      delete_volumes: 'true',
      docker_cleanup: 'true',
      delete_connected_networks: 'true',
    });
  }

  startService(uuid: string): Promise<LifecycleResult> {
    return this.#lifecycle(uuid, 'start', /^Service is already running\.?$/);
  }

  stopService(uuid: string): Promise<LifecycleResult> {
    return this.#lifecycle(uuid, 'stop', /^Service is already stopped\.?$/);
  }

  restartService(uuid: string): Promise<LifecycleResult> {
    return this.#lifecycle(uuid, 'restart', undefined);
  }

  async deployService(uuid: string): Promise<void> {
    const r = await this.#call({
      method: 'POST',
      route: 'deploy',
      path: 'deploy',
      searchParams: { uuid },
      policy: 'idempotent',
    });
    const deployments = this.#decode('POST', 'deploy', () => {
      const body = r.body as { deployments?: unknown };
      return decodeList(body?.deployments, 'deployments', (d, at) => {
        if (typeof d !== 'object' || d === null) throw new ShapeError(`${at} is not an object`);
        const message = (d as { message?: unknown }).message;
        return typeof message === 'string' ? message : '';
      });
    });
    // Per-resource refusals come back inside a 200 (notes §5.7).
    const refused = deployments.find((m) => /^Unauthorized/i.test(m));
    if (refused) {
      throw new CoolifyError('forbidden', `Coolify POST deploy refused: ${refused}`, {
        method: 'POST',
        path: 'deploy',
        status: 200,
        body: r.body,
      });
    }
  }

  // ---- env vars ----

  async listServiceEnvs(uuid: string): Promise<CoolifyEnvVar[]> {
    const path = `services/${enc(uuid)}/envs`;
    const r = await this.#get('services/{uuid}/envs', path);
    return this.#decode('GET', path, () => decodeList(r.body, 'envs', decodeEnvVar));
  }

  /**
   * Creates or updates by key in one bulk call (Coolify's `updateOrCreate`). Values are sent as
   * literals so Coolify does not expand `$…` inside secrets.
   */
  async upsertServiceEnvs(uuid: string, vars: { key: string; value: string }[]): Promise<void> {
    if (vars.length === 0) return;
    const path = `services/${enc(uuid)}/envs/bulk`;
    const r = await this.#call({
      method: 'PATCH',
      route: 'services/{uuid}/envs/bulk',
      path,
      json: { data: vars.map((v) => ({ key: v.key, value: v.value, is_literal: true })) },
      policy: 'idempotent',
    });
    this.#decode('PATCH', path, () => decodeList(r.body, 'envs', decodeEnvVar));
  }

  /** An env var already gone counts as deleted. */
  async deleteServiceEnv(serviceUuid: string, envUuid: string): Promise<void> {
    await this.#delete('services/{uuid}/envs/{env_uuid}', `services/${enc(serviceUuid)}/envs/${enc(envUuid)}`);
  }

  // ---- plumbing ----

  #get(route: string, path: string): Promise<Reply> {
    return this.#call({ method: 'GET', route, path, policy: 'idempotent' });
  }

  async #delete(route: string, path: string, searchParams?: Record<string, string>): Promise<void> {
    await this.#call({
      method: 'DELETE',
      route,
      path,
      policy: 'idempotent',
      // A retried DELETE whose first attempt went through sees 404: that is the desired state.
      handles: (status) => status === 404,
      ...(searchParams ? { searchParams } : {}),
    });
  }

  async #lifecycle(uuid: string, action: 'start' | 'stop' | 'restart', noop: RegExp | undefined): Promise<LifecycleResult> {
    const isNoop = (status: number, body: unknown) =>
      noop !== undefined && status === 400 && noop.test(String((body as { message?: unknown } | null)?.message ?? ''));
    const r = await this.#call({
      method: 'POST',
      route: `services/{uuid}/${action}`,
      path: `services/${enc(uuid)}/${action}`,
      policy: 'idempotent',
      handles: isNoop,
    });
    return isNoop(r.status, r.body) ? 'noop' : 'queued';
  }

  #decode<T>(method: HttpMethod, path: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ShapeError) throw this.#invalid(method, path, e.message);
      throw e;
    }
  }

  #invalid(method: HttpMethod, path: string, detail: string): CoolifyError {
    return new CoolifyError('invalid_response', `Coolify ${method} ${path} returned an unexpected response: ${detail}`, {
      method,
      path,
    });
  }

  async #call(call: Call): Promise<Reply> {
    const deadlineAt = this.#clock.now() + this.#deadlineMs;
    const deadline = new AbortController();
    const cancelDeadline = this.#clock.schedule(() => deadline.abort(DEADLINE), this.#deadlineMs);
    let failures = 0;
    let limited = 0;
    try {
      for (let attempt = 1; ; attempt++) {
        let lease;
        try {
          lease = await this.#limiter.acquire(deadline.signal);
        } catch {
          throw new CoolifyError(
            'timeout',
            `Coolify ${call.method} ${call.path}: deadline of ${this.#deadlineMs} ms passed while waiting for the rate limiter`,
            { method: call.method, path: call.path },
          );
        }
        let outcome: Reply | CoolifyError;
        try {
          this.#beforeSend?.();
          outcome = await this.#attempt(call, deadline.signal);
        } finally {
          lease.release();
        }
        if (!(outcome instanceof CoolifyError)) return outcome;
        const err = outcome;

        let waitMs: number;
        if (err.kind === 'rate_limited') {
          waitMs = Math.min(err.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS, this.#limiter.maxPauseMs);
          // Every caller waits, not just this one: Coolify's throttle is per user.
          this.#limiter.pauseUntil(this.#clock.now() + waitMs);
          limited++;
          if (limited > MAX_RATE_LIMITED_RETRIES) throw err;
        } else {
          failures++;
          if (failures > this.#maxRetries || !this.#retryable(call, err)) throw err;
          waitMs = backoff(failures);
        }
        if (this.#clock.now() + waitMs >= deadlineAt) throw err;
        this.#logger.warn('coolify call failed, retrying', {
          method: call.method,
          route: call.route,
          kind: err.kind,
          status: err.status,
          attempt,
          waitMs,
        });
        // A 429 wait happens inside the limiter, so concurrent callers share it.
        if (err.kind !== 'rate_limited') {
          try {
            await this.#clock.sleep(waitMs, deadline.signal);
          } catch {
            throw err;
          }
        }
      }
    } finally {
      cancelDeadline();
    }
  }

  #retryable(call: Call, err: CoolifyError): boolean {
    if (call.policy === 'idempotent') {
      return err.kind === 'server' || err.kind === 'timeout' || err.kind === 'network';
    }
    // A refused connection never reached Coolify.
    return err.kind === 'network' && errorCode(err.cause) === 'ECONNREFUSED';
  }

  async #attempt(call: Call, deadline: AbortSignal): Promise<Reply | CoolifyError> {
    const started = this.#clock.now();
    const attemptAbort = new AbortController();
    const cancelTimer = this.#clock.schedule(() => attemptAbort.abort(TIMEOUT), this.#timeoutMs);
    const signal = AbortSignal.any([attemptAbort.signal, deadline]);
    const report = (status: CoolifyResponseInfo['status']) => {
      const durationMs = this.#clock.now() - started;
      this.#logger.debug('coolify request', { method: call.method, route: call.route, status, durationMs });
      this.#onResponse?.({ method: call.method, route: call.route, status, durationMs });
    };
    const details = { method: call.method, path: call.path };
    try {
      const res = await this.#ky(call.path, {
        method: call.method,
        signal,
        ...(call.json !== undefined ? { json: call.json } : {}),
        ...(call.searchParams ? { searchParams: call.searchParams } : {}),
      });
      const isJson = (res.headers.get('content-type') ?? '').includes('json');
      if (call.stream && res.ok) return await this.#streamed(call, res, isJson, report);
      const text = await res.text();
      report(res.status);
      let body: unknown = text;
      if (isJson && text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          if (res.ok) return this.#invalid(call.method, call.path, 'body is not valid JSON');
        }
      }
      if (res.ok || call.handles?.(res.status, body)) return { status: res.status, body };
      if (res.ok === false && !isJson && res.status < 500 && res.status !== 429) {
        // Without JSON Laravel rendered an HTML page: keep the status, drop the markup.
        body = text.length > 200 ? `${text.slice(0, 200)}…` : text;
      }
      return CoolifyError.fromResponse({
        ...details,
        status: res.status,
        body,
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), this.#clock.now()),
      });
    } catch (e) {
      if (e instanceof MapError) throw e.cause;
      if (signal.aborted) {
        report('timeout');
        const why =
          deadline.aborted
            ? `deadline of ${this.#deadlineMs} ms exceeded`
            : `no response within ${this.#timeoutMs} ms`;
        return new CoolifyError('timeout', `Coolify ${call.method} ${call.path}: ${why}`, details);
      }
      report('network');
      const code = errorCode(e);
      return new CoolifyError(
        'network',
        `Coolify ${call.method} ${call.path}: network error${code ? ` (${code})` : ''}`,
        { ...details, cause: e },
      );
    } finally {
      cancelTimer();
    }
  }

  /** A streamed 2xx body: the reply, or invalid_response naming the route for a body of the wrong shape. */
  async #streamed(call: Call, res: Response, isJson: boolean, report: (status: number) => void): Promise<Reply | CoolifyError> {
    if (!isJson || res.body === null) {
      await res.body?.cancel();
      report(res.status);
      return this.#invalid(call.method, call.path, 'body is not JSON');
    }
    let body: unknown;
    try {
      body = await call.stream!(res.body);
    } catch (e) {
      if (e instanceof MapError || e instanceof JsonArrayError || e instanceof ShapeError) {
        report(res.status);
        if (e instanceof MapError) throw e;
        return this.#invalid(call.method, call.path, e.message);
      }
      // A read that failed (timeout, dropped connection) is classified by the caller's catch.
      throw e;
    }
    report(res.status);
    return { status: res.status, body };
  }
}

function urlsBody(urls: CoolifyUrl[]): { name: string; url: string | null }[] {
  return urls.map((u) => ({ name: u.name, url: u.url }));
}

/** Exponential with full jitter, in ms. */
function backoff(failures: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** Node's fetch wraps socket errors: `TypeError('fetch failed', { cause: { code } })`. */
function errorCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
