/**
 * The daemon's Prometheus metrics, on a registry of its own so that several daemons in one test process
 * (or a library user's own metrics) never collide on prom-client's global registry.
 *
 * Names carry their unit (`_seconds`, `_total`). Label sets known up front are created at 0 so a
 * dashboard shows a flat line rather than "no data" before the first event.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { STACK_STATUSES, TENANT_SYNC_STATUSES } from '../pocketbase/types.js';
import { packageVersion } from '../version.js';

export type ReconcileKind = 'tenant' | 'stack';
/** Mirrors the work queue's DoneEvent result. */
export type ReconcileOutcome = 'success' | 'requeue' | 'error' | 'terminal';

export const RECONCILE_KINDS: readonly ReconcileKind[] = ['tenant', 'stack'];
export const RECONCILE_OUTCOMES: readonly ReconcileOutcome[] = ['success', 'requeue', 'error', 'terminal'];
/** Safety guards of the orphan sweep (SPEC §3), pre-initialised; other names are counted too. */
export const DEFAULT_GUARDS: readonly string[] = ['empty-stacks', 'orphan-ratio'];

export interface CoolifyRequestInfo {
  method: string;
  /** A route template such as `services/{uuid}/start`, never a concrete path (label cardinality). */
  route: string;
  /** HTTP status, or what happened instead of a response (`timeout`, `network`). */
  status: number | string;
  /** When given, also observed in cf_coolify_request_duration_seconds. */
  durationMs?: number;
}

/** What the queue gauges read at scrape time (WorkQueue satisfies it). */
export interface QueueGaugeSource {
  readonly depth: number;
  readonly inFlight: number;
  /** Keys whose last run failed and that wait for (or run) their retry. */
  readonly backingOff: number;
}

/** Label value for a record whose daemon-written status is still empty (never reconciled). */
export const NO_STATUS = 'none';

/** Live state read at scrape time: the realtime stream and the Coolify limiter. */
export interface LiveGaugeSources {
  /** True while the PocketBase realtime stream is connected. */
  realtimeConnected(): boolean;
  /** Epoch ms until which a 429 holds every Coolify call back; 0 when not paused. */
  coolifyPausedUntil(): number;
  /** Epoch ms now (the daemon's clock). */
  now(): number;
}

/** Event loop delay sampling period of the process metrics (ms). */
export const EVENT_LOOP_SAMPLE_MS = 100;

export interface MetricsOptions {
  /** Guard names to pre-initialise at 0. @default DEFAULT_GUARDS */
  guards?: readonly string[];
  /** Also export Node process metrics (CPU, memory, event loop lag). @default false */
  processMetrics?: boolean;
  /** Value of cf_build_info's `version` label. @default the package.json version */
  version?: string;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #reconciles: Counter<'kind' | 'result'>;
  readonly #reconcileDuration: Histogram<'kind'>;
  readonly #queueDepth: Gauge;
  readonly #queueInFlight: Gauge;
  readonly #coolifyRequests: Counter<'method' | 'route' | 'status'>;
  readonly #coolifyDuration: Histogram<'method' | 'route'>;
  readonly #lastResync: Gauge;
  readonly #resyncDuration: Histogram;
  readonly #guardRefusals: Counter<'guard'>;
  readonly #orphans: Gauge;
  readonly #envCheckPeriod: Gauge;
  readonly #leader: Gauge;
  readonly #queueBackoff: Gauge;
  readonly #stacks: Gauge<'status'>;
  readonly #tenants: Gauge<'sync_status'>;
  readonly #realtimeUp: Gauge;
  readonly #coolifyPaused: Gauge;
  #queueSource: QueueGaugeSource | undefined;
  #live: LiveGaugeSources | undefined;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.#reconciles = new Counter({
      name: 'cf_reconciles_total',
      help: 'Reconcile runs by kind and outcome (success, requeue = scheduled poll, error = retried with backoff, terminal = not retried).',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.#reconcileDuration = new Histogram({
      name: 'cf_reconcile_duration_seconds',
      help: 'Wall time of one reconcile run, by kind.',
      labelNames: ['kind'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.#queueDepth = new Gauge({
      name: 'cf_queue_depth',
      help: 'Keys waiting in the work queue (not counting running or delayed keys).',
      registers,
      collect: () => {
        if (this.#queueSource) this.#queueDepth.set(this.#queueSource.depth);
      },
    });
    this.#queueInFlight = new Gauge({
      name: 'cf_queue_in_flight',
      help: 'Reconciles running now.',
      registers,
      collect: () => {
        if (this.#queueSource) this.#queueInFlight.set(this.#queueSource.inFlight);
      },
    });
    this.#coolifyRequests = new Counter({
      name: 'cf_coolify_requests_total',
      help: 'HTTP attempts against the Coolify API by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#coolifyDuration = new Histogram({
      name: 'cf_coolify_request_duration_seconds',
      help: 'Duration of one HTTP attempt against the Coolify API.',
      labelNames: ['method', 'route'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers,
    });
    this.#lastResync = new Gauge({
      name: 'cf_last_resync_timestamp_seconds',
      help: 'Unix time at which the last full drift resync finished (0 = none yet).',
      registers,
    });
    this.#resyncDuration = new Histogram({
      name: 'cf_resync_duration_seconds',
      help: 'Wall time of one full drift resync.',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.#guardRefusals = new Counter({
      name: 'cf_guard_refusals_total',
      help: 'Resyncs in which a safety guard refused to act on orphans, by guard.',
      labelNames: ['guard'],
      registers,
    });
    this.#orphans = new Gauge({
      name: 'cf_orphans',
      help: 'Managed Coolify services whose stack record no longer exists.',
      registers,
    });
    this.#envCheckPeriod = new Gauge({
      name: 'cf_env_check_period_seconds',
      help: 'Time one full rotation of env-var checks over all services takes at the current budget.',
      registers,
    });

    this.#leader = new Gauge({
      name: 'cf_leader',
      help: 'Whether this daemon holds the lease and acts on Coolify (1) or waits as a standby (0).',
      registers,
    });
    new Gauge({
      name: 'cf_build_info',
      help: 'Always 1; the version label says which cf-reconciler runs.',
      labelNames: ['version'],
      registers,
    }).set({ version: options.version ?? packageVersion() }, 1);
    this.#queueBackoff = new Gauge({
      name: 'cf_queue_backoff',
      help: 'Keys whose last reconcile failed, waiting for their retry with backoff.',
      registers,
      collect: () => {
        if (this.#queueSource) this.#queueBackoff.set(this.#queueSource.backingOff);
      },
    });
    this.#stacks = new Gauge({
      name: 'cf_stacks',
      help: `Stack records by the status the daemon wrote (${NO_STATUS} = not reconciled yet), as of the last drift resync.`,
      labelNames: ['status'],
      registers,
    });
    this.#tenants = new Gauge({
      name: 'cf_tenants',
      help: `Tenant records by sync_status (${NO_STATUS} = not reconciled yet), as of the last drift resync.`,
      labelNames: ['sync_status'],
      registers,
    });
    this.#realtimeUp = new Gauge({
      name: 'cf_realtime_connected',
      help: '1 while the PocketBase realtime stream is connected, else 0.',
      registers,
      collect: () => {
        if (this.#live) this.#realtimeUp.set(this.#live.realtimeConnected() ? 1 : 0);
      },
    });
    this.#coolifyPaused = new Gauge({
      name: 'cf_coolify_rate_limit_paused_seconds',
      help: 'Seconds every Coolify call is still held back after a 429 (0 = not paused).',
      registers,
      collect: () => {
        if (!this.#live) return;
        const until = this.#live.coolifyPausedUntil();
        this.#coolifyPaused.set(until > 0 ? Math.max(0, (until - this.#live.now()) / 1000) : 0);
      },
    });
    for (const status of [...STACK_STATUSES, NO_STATUS]) this.#stacks.set({ status }, 0);
    for (const status of [...TENANT_SYNC_STATUSES, NO_STATUS]) this.#tenants.set({ sync_status: status }, 0);

    for (const kind of RECONCILE_KINDS) {
      for (const result of RECONCILE_OUTCOMES) this.#reconciles.inc({ kind, result }, 0);
      this.#reconcileDuration.zero({ kind });
    }
    for (const guard of options.guards ?? DEFAULT_GUARDS) this.#guardRefusals.inc({ guard }, 0);
    for (const gauge of [
      this.#queueDepth,
      this.#queueInFlight,
      this.#queueBackoff,
      this.#lastResync,
      this.#orphans,
      this.#envCheckPeriod,
      this.#realtimeUp,
      this.#coolifyPaused,
      this.#leader,
    ]) {
      gauge.set(0);
    }
    // prom-client samples event loop delay every 10 ms by default: a native timer waking the
    // process 100 times a second, measured at half a percent of a core on an idle daemon. Every
    // 100 ms still catches any stall of 100 ms or more, and shorter ones in proportion.
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** Content-Type of `text()`, for the /metrics response. */
  get contentType(): string {
    return this.registry.contentType;
  }

  observeReconcile(kind: ReconcileKind, result: ReconcileOutcome, seconds: number): void {
    this.#reconciles.inc({ kind, result });
    this.#reconcileDuration.observe({ kind }, nonNegative(seconds));
  }

  /**
   * Reads depth and in-flight from `source` at every scrape, so the gauges are exact without the
   * caller pushing updates on every add. `setQueue` still works for callers that push.
   */
  trackQueue(source: QueueGaugeSource): void {
    this.#queueSource = source;
  }

  /** Reads the realtime stream and the limiter's pause at every scrape. */
  trackLive(sources: LiveGaugeSources): void {
    this.#live = sources;
  }

  /**
   * Records by status from one listing (the drift resync's): every known status is set, so one
   * that emptied drops to 0 instead of keeping its last count.
   */
  setRecordStatuses(tenants: readonly { syncStatus: string }[], stacks: readonly { status: string }[]): void {
    const count = (values: string[], known: readonly string[]) => {
      const out = new Map<string, number>([...known, NO_STATUS].map((k) => [k, 0]));
      for (const v of values) out.set(v || NO_STATUS, (out.get(v || NO_STATUS) ?? 0) + 1);
      return out;
    };
    for (const [status, n] of count(stacks.map((s) => s.status), STACK_STATUSES)) this.#stacks.set({ status }, n);
    for (const [status, n] of count(tenants.map((t) => t.syncStatus), TENANT_SYNC_STATUSES)) this.#tenants.set({ sync_status: status }, n);
  }

  setQueue(depth: number, inFlight: number): void {
    this.#queueDepth.set(depth);
    this.#queueInFlight.set(inFlight);
  }

  countCoolifyRequest(info: CoolifyRequestInfo): void {
    const method = info.method.toUpperCase();
    this.#coolifyRequests.inc({ method, route: info.route, status: String(info.status) });
    if (info.durationMs !== undefined) {
      this.#coolifyDuration.observe({ method, route: info.route }, nonNegative(info.durationMs / 1000));
    }
  }

  /** @param atMs when the resync finished, ms since the epoch (from the daemon's Clock). */
  resyncDone(atMs: number, seconds: number): void {
    this.#lastResync.set(atMs / 1000);
    this.#resyncDuration.observe(nonNegative(seconds));
  }

  guardRefusal(guard: string): void {
    this.#guardRefusals.inc({ guard });
  }

  setOrphans(n: number): void {
    this.#orphans.set(n);
  }

  setEnvCheckPeriod(seconds: number): void {
    this.#envCheckPeriod.set(seconds);
  }

  setLeader(leading: boolean): void {
    this.#leader.set(leading ? 1 : 0);
  }

  /** The Prometheus text exposition of every metric in this registry. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** A clock that stepped backwards must not make prom-client throw on a negative observation. */
function nonNegative(seconds: number): number {
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}
