/**
 * Wires the daemon: PocketBase (store + change feed), Coolify (one client behind one rate
 * limiter), the template policy, the work queue with the tenant and stack reconcilers, the drift
 * resync with its orphan guard, the budgeted env checker and the HTTP server. Tests run it
 * in-process with their own clock, Coolify client or logger; `stop()` lets in-flight reconciles
 * finish.
 */
import type PocketBase from 'pocketbase';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { CoolifyClient, type CoolifyResponseInfo } from '../coolify/client.js';
import { CoolifyInventory } from '../coolify/inventory.js';
import { SharedCoolifyView } from '../coolify/shared-view.js';
import { RateLimiter } from '../coolify/rate-limiter.js';
import type { CoolifyApi } from '../coolify/types.js';
import { startHttpServer, type RunningHttpServer } from '../daemon/http-server.js';
import { Metrics } from '../daemon/metrics.js';
import { errorMessage } from '../errors.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { Redactor } from '../logging/redactor.js';
import { ChangeFeed } from '../pocketbase/change-feed.js';
import { connectPocketBase } from '../pocketbase/client.js';
import { PocketBaseStore } from '../pocketbase/store.js';
import type { ReconcileKey } from '../pocketbase/types.js';
import { WorkQueue, type DoneEvent, type ReconcileContext, type ReconcileResult } from '../queue/work-queue.js';
import { loadTemplateCatalog } from '../templates/index.js';
import { packageVersion } from '../version.js';
import { CoolifyAccessCheck } from '../startup/coolify-check.js';
import { StartupError } from '../startup/startup-error.js';
import { checkTemplates } from '../startup/templates-check.js';
import { reconcileStack } from '../../reconcilers/stack.js';
import { reconcileTenant } from '../../reconcilers/tenant.js';
import { Audit } from './audit.js';
import { newEngineMemory, reconcileContext, type EngineContext } from './context.js';
import { DriftResync } from './drift.js';
import type { DriftPlan } from './drift-plan.js';
import { EnvChecker } from './env-check.js';
import { PeerListing } from './peer-listing.js';
import { engineSettings } from './settings.js';
import { catalogPolicy } from './policy.js';
import type { Priority } from './ports.js';

export interface DaemonDeps {
  clock?: Clock;
  /** A Coolify client to use instead of building one from the config (its own limiter then applies). */
  coolify?: CoolifyApi;
  logger?: Logger;
  redactor?: Redactor;
  metrics?: Metrics;
  /** Uniform [0, 1) for resync jitter. */
  random?: () => number;
  /**
   * Most env-var checks per rate window; default a quarter of COOLIFY_RATE_LIMIT_PER_MINUTE; 0 disables.
   * The checks are spread over ENV_CHECK_INTERVAL_SECONDS, so this is only the ceiling.
   * (Named per minute because the window is a minute unless `rateWindowMs` shortens it.)
   */
  envChecksPerMinute?: number;
  /**
   * Length of the Coolify rate limiter's window (ms); default 60 000. Tests shorten it to fill the
   * window many times in a few seconds, keeping the limit from COOLIFY_RATE_LIMIT_PER_MINUTE and
   * the env-check budget derived from it; ignored with an injected `coolify`.
   */
  rateWindowMs?: number;
  /** Grace for a start/stop to show in Coolify's status (ms); default 6 × STATUS_POLL_SECONDS. */
  lifecycleGraceMs?: number;
  /** Queue retry schedule (ms); default 1 s doubling to 5 min. */
  backoff?: { baseMs: number; maxMs: number };
  /**
   * A reconcile running longer than this is aborted and retried with backoff (ms); default 120 s:
   * room for a few Coolify calls at the client's 60 s deadline each, plus rate-limiter waits.
   */
  reconcileTimeoutMs?: number;
  /** How long stop() waits for in-flight reconciles (ms); default 30 s. */
  shutdownDeadlineMs?: number;
}

export interface Daemon {
  /** Base URL of the health/metrics server. */
  url: string;
  metrics: Metrics;
  store: PocketBaseStore;
  coolify: CoolifyApi;
  queue: WorkQueue;
  logger: Logger;
  redactor: Redactor;
  envChecker: EnvChecker;
  /** Runs one drift resync now (shares a run in progress). */
  resync(): Promise<DriftPlan | undefined>;
  /** Readiness as /readyz sees it: names of failing checks with reasons. */
  readiness(): Promise<{ check: string; message: string }[]>;
  stop(): Promise<void>;
}

function keyKind(key: string): { kind: 'tenant' | 'stack'; id: string } | undefined {
  const m = /^(tenant|stack):(.+)$/.exec(key);
  if (!m || !m[1] || !m[2]) return undefined;
  return { kind: m[1] as 'tenant' | 'stack', id: m[2] };
}

export async function startDaemon(options: { config: Config; deps?: DaemonDeps }): Promise<Daemon> {
  const { config } = options;
  const deps = options.deps ?? {};
  const clock = deps.clock ?? systemClock;
  const redactor = deps.redactor ?? new Redactor();
  redactor.add(config.pocketbase.password, config.coolify.token);
  const logger = deps.logger ?? createLogger({ level: config.logLevel, format: config.logFormat, redactor });
  const metrics = deps.metrics ?? new Metrics({ processMetrics: true });

  // Coolify reachability for /readyz: any HTTP answer below 500 means the API is there.
  let coolifyHealth: { ok: boolean; message: string } = { ok: false, message: 'no Coolify call yet' };
  const onResponse = (info: CoolifyResponseInfo) => {
    metrics.countCoolifyRequest(info);
    access.observe(info);
    // A 401/403 is Coolify answering, but not reachable for the daemon's purposes (see coolify_token).
    const rejected = info.status === 401 || info.status === 403;
    const ok = typeof info.status === 'number' && info.status < 500 && !rejected;
    coolifyHealth = ok
      ? { ok: true, message: '' }
      : { ok: false, message: `last Coolify call: ${info.method} ${info.route} → ${info.status}${rejected ? ' (token rejected, see coolify_token)' : ''}` };
  };
  const limiter = new RateLimiter({
    limit: config.coolify.rateLimitPerMinute,
    clock,
    ...(deps.rateWindowMs !== undefined ? { windowMs: deps.rateWindowMs } : {}),
  });
  const coolify =
    deps.coolify ??
    new CoolifyClient({
      baseUrl: config.coolify.url,
      token: config.coolify.token,
      limiter,
      clock,
      logger,
      onResponse,
    });

  const access = new CoolifyAccessCheck({
    coolify,
    serverUuid: config.coolify.serverUuid,
    destinationUuid: config.coolify.destinationUuid,
    clock,
    logger,
  });

  const catalog = await loadTemplateCatalog(config.templatesDir);
  const templates = checkTemplates(catalog);
  if (templates.fatal) {
    logger.error(templates.fatal);
    throw new StartupError(templates.fatal);
  }
  if (templates.invalid) logger.error(templates.invalid);
  logger.info('templates loaded', { dir: config.templatesDir, templates: catalog.names() });
  const policy = catalogPolicy(catalog, { hostTemplate: config.defaultHostTemplate });

  // The cause of the last failed PocketBase sign-in, until one succeeds (for /readyz).
  let pocketbaseProblem: string | undefined = 'not signed in to PocketBase yet';

  const connect = (): Promise<PocketBase> =>
    connectPocketBase({
      url: config.pocketbase.url,
      email: config.pocketbase.email,
      password: config.pocketbase.password,
      redactor,
      logger,
      clock,
      userAgent: `cf-reconciler/${packageVersion()}`,
      onAttemptFailed: (cause) => {
        pocketbaseProblem = cause.message;
      },
    });
  // The feed owns its client's realtime connection; reads and writes go through another. One after
  // the other, so a PocketBase outage is retried (and logged) once per attempt, not twice.
  const pbStore = await connect();
  const pbFeed = await connect();
  pocketbaseProblem = undefined;
  const store = new PocketBaseStore({ pb: pbStore, logger, clock, redactor });
  const audit = new Audit(store, redactor, logger);

  // Called only once the queue below exists (by reconciles, the feed and the drift resync).
  const enqueue = (key: ReconcileKey, priority: Priority = 'high') => {
    queue.add(key, { priority });
  };

  // One observation of Coolify for the resync and every reconcile (see shared-view.ts).
  const view = new SharedCoolifyView(new CoolifyInventory(coolify, { now: () => clock.now(), composeDigest: policy.composeDigest }), () => clock.now());
  const memory = newEngineMemory();
  const drift = new DriftResync({
    store,
    inventory: view,
    policy,
    clock,
    logger,
    redactor,
    audit,
    enqueue,
    intervalMs: config.resyncIntervalSeconds * 1000,
    routerBaseUrl: config.routerBaseUrl,
    deleteRetentionMs: config.deleteRetentionSeconds * 1000,
    eventsRetentionMs: config.eventsRetentionDays * 86_400_000,
    metrics,
    onEnvTargets: (targets) => envChecker.setTargets(targets),
    onDuplicates: (ids) => {
      for (const id of ids) memory.duplicates.add(id);
    },
    rejected: memory.rejected,
    ...(deps.random ? { random: deps.random } : {}),
  });

  const peers = new PeerListing(store, clock, 1000);
  const ctx: EngineContext = {
    // Reconciles' writes are noted so the shared view never answers from before them.
    coolify: view.watchWrites(coolify),
    view,
    store,
    policy,
    clock,
    logger,
    redactor,
    audit,
    enqueue,
    settings: engineSettings(config, deps.lifecycleGraceMs),
    memory,
    orphans: drift.gate,
    signal: new AbortController().signal,
    peers: () => peers.get(),
  };

  const envChecker = new EnvChecker({
    coolify,
    clock,
    logger,
    periodMs: config.envCheckIntervalSeconds * 1000,
    perWindow: deps.envChecksPerMinute ?? Math.max(1, Math.floor(config.coolify.rateLimitPerMinute / 4)),
    ...(deps.rateWindowMs !== undefined ? { windowMs: deps.rateWindowMs } : {}),
    onDrift: (stackId) => {
      ctx.memory.envDrift.add(stackId);
      enqueue(`stack:${stackId}`, 'low');
    },
    onPeriod: (seconds) => metrics.setEnvCheckPeriod(seconds),
  });

  let reconciles = 0;
  const handler = async (key: string, run: ReconcileContext): Promise<ReconcileResult> => {
    const k = keyKind(key);
    if (!k) {
      logger.warn('ignoring malformed reconcile key', { key });
      return;
    }
    // Every line a reconcile logs carries its key and a per-process run id, so one run's lines
    // can be told from the next run of the same key.
    const log = logger.child({ key, reconcileId: ++reconciles });
    log.debug('reconcile started', { attempt: run.attempt });
    const rctx = reconcileContext(ctx, run.signal, log);
    return k.kind === 'tenant' ? reconcileTenant(rctx, k.id) : reconcileStack(rctx, k.id);
  };
  const onDone = (e: DoneEvent) => {
    const kind = keyKind(e.key)?.kind ?? 'stack';
    metrics.observeReconcile(kind, e.result, e.durationMs / 1000);
    if (e.result === 'error') {
      logger.warn('reconcile failed; retrying with backoff', {
        subject: e.key,
        attempt: e.attempt,
        retryInMs: e.nextInMs,
        error: e.error ? redactor.redact(e.error.message) : undefined,
      });
    } else if (e.result === 'terminal') {
      logger.info('reconcile stopped on a problem retrying cannot fix', {
        subject: e.key,
        error: e.error ? redactor.redact(e.error.message) : undefined,
      });
    }
  };
  const queue = new WorkQueue(handler, {
    concurrency: config.reconcileConcurrency,
    clock,
    onDone,
    reconcileTimeoutMs: deps.reconcileTimeoutMs ?? 120_000,
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
  });
  metrics.trackQueue(queue);
  metrics.trackLive({
    realtimeConnected: () => feed.connected,
    coolifyPausedUntil: () => (deps.coolify ? 0 : limiter.pausedUntil),
    now: () => clock.now(),
  });

  const feed = new ChangeFeed({
    pb: pbFeed,
    store,
    clock,
    logger,
    onKeys: (keys, source) => {
      for (const key of keys) {
        // A real change resets the key's backoff (reconciler-lessons 7).
        if (source === 'event') queue.forget(key);
        enqueue(key, source === 'event' ? 'high' : 'low');
      }
    },
    // Every PocketBase (re)connect is also a drift pass, reusing the feed's fresh listing.
    onResync: (snapshot) => {
      drift.run(snapshot).catch(() => undefined);
    },
    // A dropped stream or a new listing makes the guard's last verdict stale (a restored database?):
    // orphan action waits until a listing taken after this point has been evaluated.
    onStale: () => drift.invalidate(),
  });

  const resyncMaxAgeMs = 2 * config.resyncIntervalSeconds * 1000 + 60_000;
  const readiness = {
    templates: () => ({ ok: templates.invalid === undefined, message: templates.invalid ?? '' }),
    pocketbase: () => ({ ok: pocketbaseProblem === undefined, message: pocketbaseProblem ?? '' }),
    ...access.readiness,
    pocketbase_stream: () => ({ ok: feed.connected, message: 'PocketBase realtime stream is not connected' }),
    resync_recent: () => {
      const at = drift.lastSuccessAt;
      if (at === null) return { ok: false, message: drift.lastError ?? 'no drift resync has completed yet' };
      const age = clock.now() - at;
      return { ok: age <= resyncMaxAgeMs, message: `last drift resync ${Math.round(age / 1000)} s ago` };
    },
    coolify_reachable: () =>
      deps.coolify
        ? { ok: drift.lastError === undefined && drift.lastSuccessAt !== null, message: drift.lastError ?? 'Coolify not observed yet' }
        : coolifyHealth,
  };

  queue.start();
  let http: RunningHttpServer;
  try {
    http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      metrics,
      readiness,
      redact: (t) => redactor.redact(t),
      clock,
    });
  } catch (e) {
    await queue.shutdown({ deadlineMs: 0 });
    throw e;
  }
  access.start();
  await feed.start();
  drift.start();
  envChecker.start();
  logger.info('daemon started', { version: packageVersion(), http: http.url, concurrency: config.reconcileConcurrency });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('stopping: finishing in-flight reconciles');
      await feed.stop();
      await Promise.all([drift.stop(), envChecker.stop(), access.stop()]);
      await queue.shutdown({ deadlineMs: deps.shutdownDeadlineMs ?? 30_000 });
      await http.close();
      pbFeed.realtime.unsubscribe().catch(() => undefined);
      logger.info('stopped');
    })().catch((e: unknown) => {
      logger.error('error while stopping', { error: errorMessage(e) });
      throw e;
    }));

  return {
    url: http.url,
    metrics,
    store,
    coolify,
    queue,
    logger,
    redactor,
    envChecker,
    resync: () => drift.run(),
    readiness: async () => {
      const out: { check: string; message: string }[] = [];
      for (const [check, fn] of Object.entries(readiness)) {
        const r = fn();
        if (!r.ok) out.push({ check, message: r.message ?? 'check failed' });
      }
      return out;
    },
    stop,
  };
}
