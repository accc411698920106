/**
 * Wires the daemon as runnables under one Manager (manager.ts): the HTTP server (started first,
 * so /healthz and /metrics answer before PocketBase sign-in), then, while this daemon leads, the
 * work queue with the tenant and stack reconcilers, the change feed, the drift resync with its
 * orphan guard, the budgeted env checker and the event pruner. PocketBase (store + feed) and
 * Coolify (one client behind one rate limiter and the send gate) are built here. Tests run it
 * in-process with their own clock, Coolify client or logger; `stop()` lets in-flight reconciles
 * finish within one shutdown deadline.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type PocketBase from 'pocketbase';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { CoolifyClient, type CoolifyResponseInfo } from '../coolify/client.js';
import { CoolifyInventory } from '../coolify/inventory.js';
import { SharedCoolifyView } from '../coolify/shared-view.js';
import { RateLimiter } from '../coolify/rate-limiter.js';
import type { CoolifyApi } from '../coolify/types.js';
import { startHttpServer, type ReadinessCheck, type RunningHttpServer } from '../daemon/http-server.js';
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
import { abortableCoolify } from './abortable-coolify.js';
import { Audit } from './audit.js';
import { forgetGoneServices, newEngineMemory, reconcileContext, type EngineContext } from './context.js';
import { DriftResync } from './drift.js';
import type { DriftPlan } from './drift-plan.js';
import { Corrections } from './corrections.js';
import { CreateIntents, PocketBaseCreateIntents } from './create-intents.js';
import { EnvChecker, noteEnvReads } from './env-check.js';
import { EventPruner } from './event-prune.js';
import { Manager, type Runnable } from './manager.js';
import { PeerListing } from './peer-listing.js';
import { parseStack, parseTenant } from '../pocketbase/records.js';
import { engineSettings } from './settings.js';
import { configPolicy } from './policy.js';
import type { PolicyPort, Priority } from './ports.js';
import { gatedCoolify, SendGate } from './send-gate.js';
import { LeaderElector, type LeaseTimings } from '../leader/elector.js';
import { PocketBaseLeaseStore } from '../leader/lease-store.js';

export interface DaemonDeps {
  clock?: Clock;
  /** A Coolify client to use instead of building one from the config (its own limiter then applies). */
  coolify?: CoolifyApi;
  logger?: Logger;
  redactor?: Redactor;
  metrics?: Metrics;
  /** Uniform [0, 1) for resync jitter. */
  random?: () => number;
  /** The template policy to decide with instead of the catalog's own (tests count its decisions). */
  policy?: PolicyPort;
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
  /** Hold-back of corrections that do not take, after the 3rd identical one (ms); default 2 min doubling to 1 h. */
  correctionBackoff?: { baseMs: number; maxMs: number };
  /**
   * A reconcile running longer than this is aborted and retried with backoff (ms); default 120 s:
   * room for a few Coolify calls at the client's 60 s deadline each, plus rate-limiter waits.
   */
  reconcileTimeoutMs?: number;
  /** One deadline for all of stop(), in-flight reconciles included (ms); default 30 s. */
  shutdownDeadlineMs?: number;
  /** Told the HTTP server's URL as soon as it listens (before PocketBase sign-in). */
  onListening?: (url: string) => void;
  /** The leader lease: this daemon's identity (default LEASE_IDENTITY, else host name + random) and timings (default 15/10/2 s). */
  lease?: { identity?: string; timings?: LeaseTimings };
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
  /** 'leader' while this daemon acts on Coolify, 'standby' while it waits, 'stopped' after stop. */
  role(): DaemonRole;
  /** Names of the runnables running now, in start order. */
  runnables(): string[];
  /** Resolves once the daemon has stopped: by stop(), or by itself when it lost the lease. */
  done: Promise<void>;
  /** Why the daemon stopped by itself (the lease was lost), else undefined. */
  lostLease(): string | undefined;
  stop(): Promise<void>;
}

export type DaemonRole = 'leader' | 'standby' | 'stopped';

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
  const shutdownDeadlineMs = deps.shutdownDeadlineMs ?? 30_000;
  const manager = new Manager({ clock, logger, shutdownDeadlineMs });
  // Nothing reaches Coolify unless this daemon holds a renewed lease.
  const gate = new SendGate();
  let stopped = false;
  // Whether this daemon holds a renewed lease (the elector, once it exists, answers).
  let holding: () => boolean = () => false;
  const role = (): DaemonRole => (stopped ? 'stopped' : holding() ? 'leader' : 'standby');

  // Readiness checks, filled in as the parts come to exist: /readyz reads this object per request.
  // The cause of the last failed PocketBase sign-in, until one succeeds.
  let pocketbaseProblem: string | undefined = `signing in to PocketBase at ${config.pocketbase.url}`;
  const readiness: Record<string, ReadinessCheck> = {
    pocketbase: () => ({ ok: pocketbaseProblem === undefined, message: pocketbaseProblem ?? '' }),
  };
  let http: RunningHttpServer | undefined;
  manager.add({
    name: 'http',
    needsLeadership: false,
    start: async () => {
      http = await startHttpServer({
        host: config.http.host,
        port: config.http.port,
        metrics,
        readiness,
        info: () => ({ role: role() }),
        redact: (t) => redactor.redact(t),
        clock,
      });
    },
    stop: async () => {
      await http?.close();
    },
  });
  // First of all, so /healthz and /metrics answer whatever PocketBase and Coolify do (SPEC §5).
  await manager.start();
  const url = http!.url;
  // The first line a daemon logs says which version runs (also in cf_build_info).
  logger.info('cf-reconciler starting', { version: packageVersion(), http: url });
  deps.onListening?.(url);

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
  const coolify = deps.coolify
    ? gatedCoolify(deps.coolify, gate)
    : new CoolifyClient({
        baseUrl: config.coolify.url,
        token: config.coolify.token,
        limiter,
        clock,
        logger,
        onResponse,
        // Checked after the limiter's wait: a call queued while leading is not sent after.
        beforeSend: () => gate.check(),
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
    await manager.stop();
    throw new StartupError(templates.fatal);
  }
  if (templates.invalid) logger.error(templates.invalid);
  readiness.templates = () => ({ ok: templates.invalid === undefined, message: templates.invalid ?? '' });
  logger.info('templates loaded', { dir: config.templatesDir, templates: catalog.names() });
  const policy = deps.policy ?? configPolicy(catalog, config);

  const connect = (client: string): Promise<PocketBase> =>
    connectPocketBase({
      url: config.pocketbase.url,
      email: config.pocketbase.email,
      password: config.pocketbase.password,
      redactor,
      logger,
      clock,
      tokenSlot: `pocketbase token (${client})`,
      userAgent: `cf-reconciler/${packageVersion()}`,
      onAttemptFailed: (cause) => {
        pocketbaseProblem = `signing in to PocketBase at ${config.pocketbase.url}: ${cause.message}`;
      },
    });
  // The feed owns its client's realtime connection; reads and writes go through another. One after
  // the other, so a PocketBase outage is retried (and logged) once per attempt, not twice.
  let pbStore: PocketBase;
  let pbFeed: PocketBase;
  try {
    pbStore = await connect('store');
    pbFeed = await connect('feed');
  } catch (e) {
    pocketbaseProblem = `PocketBase sign-in failed: ${errorMessage(e)}`;
    await manager.stop();
    throw e;
  }
  pocketbaseProblem = undefined;
  const store = new PocketBaseStore({ pb: pbStore, logger, clock, redactor });
  const audit = new Audit(store, redactor, logger);

  // Adds one reconcile makes for another key go through the rate-limited path (client-go
  // AddRateLimited), so two keys asking for each other slow down instead of spinning.
  const enqueue = (key: ReconcileKey, priority: Priority = 'high') => {
    queue.addRateLimited(key, { priority });
  };

  // Aborted when the drift resync and the env checks stop: their calls waiting on the rate
  // limiter give up at once instead of holding shutdown.
  const driftAbort = new AbortController();
  const envAbort = new AbortController();
  // One observation of Coolify for the resync and every reconcile (see shared-view.ts).
  const view = new SharedCoolifyView(
    new CoolifyInventory(abortableCoolify(coolify, driftAbort.signal), { now: () => clock.now(), composeDigest: policy.composeDigest }),
    () => clock.now(),
  );
  const memory = newEngineMemory();
  const drift = new DriftResync({
    store,
    inventory: view,
    policy,
    clock,
    logger,
    redactor,
    audit,
    enqueue: (key, priority = 'low') => queue.add(key, { priority }),
    intervalMs: config.resyncIntervalSeconds * 1000,
    routerBaseUrl: config.routerBaseUrl,
    deleteRetentionMs: config.deleteRetentionSeconds * 1000,
    metrics,
    onEnvTargets: (targets) => envChecker.setTargets(targets),
    onDuplicates: (ids) => {
      for (const id of ids) memory.duplicates.add(id);
    },
    onServicesSeen: (uuids, observedAt) => forgetGoneServices(memory, uuids, observedAt),
    onDuplicateProjects: (tenantIds) => {
      for (const id of tenantIds) memory.duplicateProjects.add(id);
    },
    rejected: memory.rejected,
    ...(deps.random ? { random: deps.random } : {}),
  });
  const pruner = new EventPruner({
    store,
    clock,
    logger,
    retentionMs: config.eventsRetentionDays * 86_400_000,
    intervalMs: Math.max(config.resyncIntervalSeconds * 1000, 3_600_000),
  });

  const peers = new PeerListing(store, clock, 1000);
  const corrections = new Corrections({ clock, ...deps.correctionBackoff });
  const ctx: EngineContext = {
    // Reconciles' writes are noted so the shared view never answers from before them.
    // Env reads are reported to the env checker, which then skips those services' next turn.
    coolify: noteEnvReads(view.watchWrites(coolify), (uuid) => envChecker.noteRead(uuid)),
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
    corrections,
    intents: new CreateIntents({ store: new PocketBaseCreateIntents(pbStore), clock }),
    orphans: drift.gate,
    signal: new AbortController().signal,
    peers: (mustList) => peers.get(mustList),
  };

  const envChecker = new EnvChecker({
    coolify: abortableCoolify(coolify, envAbort.signal),
    clock,
    logger,
    periodMs: config.envCheckIntervalSeconds * 1000,
    perWindow: deps.envChecksPerMinute ?? Math.max(1, Math.floor(config.coolify.rateLimitPerMinute / 4)),
    ...(deps.rateWindowMs !== undefined ? { windowMs: deps.rateWindowMs } : {}),
    onDrift: (stackId) => {
      ctx.memory.envDrift.add(stackId);
      queue.add(`stack:${stackId}`, { priority: 'low' });
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
        // A real change resets the key's backoff and its count of corrections that did not take
        // (reconciler-lessons 7, SPEC §3).
        if (source === 'event') {
          queue.forget(key);
          corrections.reset(key);
        }
        queue.add(key, { priority: source === 'event' ? 'high' : 'low' });
      }
    },
    // Every PocketBase (re)connect is also a drift pass, reusing the feed's fresh listing.
    // The peer listing follows the feed's listings and events, so no reconcile waits for a listing.
    onRecord: (collection, action, raw) => {
      if (collection === 'stacks') peers.apply({ collection, action, record: parseStack(raw) });
      else peers.apply({ collection, action, record: parseTenant(raw) });
    },
    onStreamLost: () => peers.streamLost(),
    onResync: (snapshot) => {
      peers.replace(snapshot);
      drift.run(snapshot).catch(() => undefined);
    },
    // A dropped stream or a new listing makes the guard's last verdict stale (a restored database?):
    // orphan action waits until a listing taken after this point has been evaluated.
    onStale: () => drift.invalidate(),
  });

  // The queue's share of the one deadline: in-flight reconciles are aborted a little before it,
  // so aborting and settling them fits inside it too.
  const queueDeadlineMs = shutdownDeadlineMs - Math.min(5_000, shutdownDeadlineMs / 5);
  const queueGraceMs = Math.min(2_000, shutdownDeadlineMs / 10);
  const leaderParts: Runnable[] = [
    {
      name: 'queue-workers',
      needsLeadership: true,
      start: () => queue.start(),
      stop: async () => {
        await queue.shutdown({ deadlineMs: queueDeadlineMs, graceMs: queueGraceMs });
        gate.close('this daemon is stopping');
      },
    },
    {
      name: 'change-feed',
      needsLeadership: true,
      // Not awaited: the feed retries its subscription until PocketBase answers, and nothing else
      // waits for it (realtime is a hint; the drift resync is the truth).
      start: () => {
        feed.start().catch((e: unknown) => logger.error('change feed failed', { error: errorMessage(e) }));
      },
      stop: () => feed.stop(),
    },
    {
      name: 'drift-resync',
      needsLeadership: true,
      start: () => drift.start(),
      stop: async () => {
        driftAbort.abort(new Error('drift resync stopped'));
        await drift.stop();
      },
    },
    {
      name: 'env-checks',
      needsLeadership: true,
      start: () => envChecker.start(),
      stop: async () => {
        envAbort.abort(new Error('env checks stopped'));
        await envChecker.stop();
      },
    },
    { name: 'event-pruning', needsLeadership: true, start: () => pruner.start(), stop: () => pruner.stop() },
    // Verifies the token and COOLIFY_SERVER_UUID with Coolify calls: a standby sends none.
    { name: 'coolify-access-check', needsLeadership: true, start: () => access.start(), stop: () => access.stop() },
  ];
  manager.add(...leaderParts);

  const resyncMaxAgeMs = 2 * config.resyncIntervalSeconds * 1000 + 60_000;
  // A standby is ready (it is doing its job: waiting); these checks are about leading.
  const whenLeading = (check: () => { ok: boolean; message: string }) => () => (manager.leading ? check() : { ok: true, message: '' });
  for (const [name, check] of Object.entries(access.readiness)) {
    readiness[name] = whenLeading(() => {
      const r = check();
      return { ok: r.ok, message: r.message ?? '' };
    });
  }
  readiness.pocketbase_stream = whenLeading(() => ({ ok: feed.connected, message: 'PocketBase realtime stream is not connected' }));
  readiness.resync_recent = whenLeading(() => {
    const at = drift.lastSuccessAt;
    if (at === null) return { ok: false, message: drift.lastError ?? 'no drift resync has completed yet' };
    const age = clock.now() - at;
    return { ok: age <= resyncMaxAgeMs, message: `last drift resync ${Math.round(age / 1000)} s ago` };
  });
  readiness.coolify_reachable = whenLeading(() =>
    deps.coolify
      ? { ok: drift.lastError === undefined && drift.lastSuccessAt !== null, message: drift.lastError ?? 'Coolify not observed yet' }
      : coolifyHealth,
  );

  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('stopping: finishing in-flight reconciles');
      await manager.stop();
      peers.close();
      gate.close('this daemon stopped');
      stopped = true;
      metrics.setLeader(false);
      pbFeed.realtime.unsubscribe().catch(() => undefined);
      logger.info('stopped');
    })()
      .catch((e: unknown) => {
        logger.error('error while stopping', { error: errorMessage(e) });
        throw e;
      })
      .finally(resolveDone));

  let lost: string | undefined;
  let leading: Promise<void> | undefined;
  const election: LeaderElector = new LeaderElector({
    store: new PocketBaseLeaseStore(pbStore),
    clock,
    logger,
    identity: deps.lease?.identity ?? config.leaseIdentity ?? `${hostname()}-${randomBytes(4).toString('hex')}`,
    ...(deps.lease?.timings ? { timings: deps.lease.timings } : {}),
    onStartedLeading: () => {
      // Every request from now on asks the lease whether its renew deadline has passed.
      gate.open(() => election.holding());
      metrics.setLeader(true);
      leading = manager.startLeading();
    },
    onStoppedLeading: (reason) => {
      // Writes stopped already (the gate asks the lease); now stop everything, like client-go's
      // callers do, and let the supervisor start a fresh standby.
      gate.close(`the lease was lost: ${reason}`);
      metrics.setLeader(false);
      lost = reason;
      void stop().catch(() => undefined);
    },
  });
  holding = () => election.holding();
  manager.add({ name: 'leader-election', needsLeadership: false, start: () => election.start(), stop: () => election.stop() });
  await manager.start();
  await leading;
  logger.info('daemon started', { version: packageVersion(), http: url, concurrency: config.reconcileConcurrency, role: role() });

  return {
    url,
    metrics,
    store,
    coolify,
    queue,
    logger,
    redactor,
    envChecker,
    resync: () => (election.holding() ? drift.run() : Promise.resolve(undefined)),
    readiness: async () => {
      const out: { check: string; message: string }[] = [];
      for (const [check, fn] of Object.entries(readiness)) {
        const r = await fn();
        if (r === true) continue;
        if (r === false) out.push({ check, message: 'check failed' });
        else if (!r.ok) out.push({ check, message: r.message ?? 'check failed' });
      }
      return out;
    },
    role,
    runnables: () => manager.running,
    done,
    lostLease: () => lost,
    stop,
  };
}
