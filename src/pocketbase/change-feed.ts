/**
 * Turns PocketBase realtime events and full resyncs into reconcile keys.
 *
 * Events are hints, not a log: PocketBase keeps no replay buffer and may reorder or duplicate
 * messages, so every (re)connect is followed by a full listing of plans, tenants and stacks. Keys
 * carry no event data (level-triggered). The first listing keys every record; a later one (after a
 * reconnect, which PocketBase forces every 5 to 30 minutes) keys only records whose `updated`
 * differs from what the feed last saw, listed or in an event: the rest is the drift resync's,
 * which looks at everything for a constant number of Coolify calls.
 *
 * A resync keys only records that exist. A record missing from a listing may have been deleted, or
 * the database may have been restored from a backup or emptied: only the drift resync's orphan guard,
 * which compares the listing with Coolify, may decide which. A realtime delete event, by contrast,
 * is an explicit deletion and is keyed at once.
 *
 * Noise filter: the daemon's own status writes must not wake the reconciler again. Per record the
 * feed keeps a fingerprint of the admin-owned fields and the daemon-field values last seen; an
 * update yields a key only if an admin field changed, or a daemon field differs from what the
 * daemon itself last wrote (an admin saved a stale copy, which must be corrected), or, for daemon
 * fields this process never wrote, differs from what was last seen (someone else wrote it).
 *
 * Uses one SDK client exclusively: `stop()` and forced reconnects drop every realtime
 * subscription of that client.
 */
import type PocketBase from 'pocketbase';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { backoffMs } from './client.js';
import { adminFingerprint, parsePlan, parseStack, parseTenant, STACK_DAEMON_KEYS, TENANT_DAEMON_KEYS } from './records.js';
import type { PocketBaseStore } from './store.js';
import type { Plan, ReconcileKey, Stack, Tenant } from './types.js';

export type KeySource = 'event' | 'resync';

export interface ResyncSnapshot {
  plans: Plan[];
  tenants: Tenant[];
  stacks: Stack[];
}

export interface ChangeFeedOptions {
  pb: PocketBase;
  store: PocketBaseStore;
  clock: Clock;
  logger: Logger;
  onKeys: (keys: ReconcileKey[], source: KeySource) => void;
  onResync?: (snapshot: ResyncSnapshot) => void | Promise<void>;
  /**
   * PocketBase may have changed without events saying so: the stream dropped, or a resync's listing
   * began. Anything concluded from earlier listings (the orphan guard) is stale until the next
   * `onResync`.
   */
  onStale?: () => void;
  /**
   * Every realtime event's tenant or stack record, before its keys are emitted (so a reconcile of
   * that key finds it): lets a record cache follow PocketBase between listings.
   */
  onRecord?: (collection: 'tenants' | 'stacks', action: FeedEventInfo['action'], raw: Record<string, unknown>) => void;
  /** The realtime stream was lost: events may be missing until the next `onResync`. */
  onStreamLost?: () => void;
  /** Called once per realtime event after it was handled, with the keys it produced (possibly none). For metrics. */
  onEvent?: (info: FeedEventInfo) => void;
  /** Disconnected for this long (ms) without the SDK getting back → drop everything and reconnect. Default 60 s. */
  watchdogMs?: number;
  /**
   * PocketBase closes every realtime stream after at most 30 min, so PB_CONNECT re-fires at least that
   * often. A stream older than this (ms) is presumed silently dead and is replaced. Default 35 min.
   */
  maxConnectionAgeMs?: number;
  /** Backoff for the first subscribe and for failed resyncs; ms. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface FeedEventInfo {
  collection: 'plans' | 'tenants' | 'stacks';
  id: string;
  action: 'create' | 'update' | 'delete';
  keys: ReconcileKey[];
}

type Watched = FeedEventInfo['collection'];
const WATCHED: readonly Watched[] = ['tenants', 'stacks', 'plans'];

interface Seen {
  admin: string;
  /** Parsed daemon-field values (tenants and stacks only). */
  daemon: Record<string, unknown>;
  /** tenant id of a stack, plan id of a tenant: the fan-out index used when a lookup fails. */
  parent: string;
  /** The record's `updated` as PocketBase sent it. */
  updated: string;
}

interface RealtimeMessage {
  action?: string;
  record?: Record<string, unknown>;
}

export class ChangeFeed {
  readonly #pb: PocketBase;
  readonly #store: PocketBaseStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #onKeys: ChangeFeedOptions['onKeys'];
  readonly #onResync: ChangeFeedOptions['onResync'];
  readonly #onStale: ChangeFeedOptions['onStale'];
  readonly #onRecord: ChangeFeedOptions['onRecord'];
  readonly #onStreamLost: ChangeFeedOptions['onStreamLost'];
  readonly #onEvent: ChangeFeedOptions['onEvent'];
  readonly #watchdogMs: number;
  readonly #maxConnectionAgeMs: number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;

  readonly #seen: Record<Watched, Map<string, Seen>> = { plans: new Map(), tenants: new Map(), stacks: new Map() };
  #connected = false;
  #connecting = false;
  #lastConnectAt: number | null = null;
  #disconnectedSince: number | null = null;
  #lastResyncAt: number | null = null;
  #resyncing: Promise<void> | null = null;
  #resyncAgain = false;
  #resyncFailures = 0;
  /** True once a listing has filled `#seen`: later listings key only what changed. */
  #listed = false;
  #cancelResyncRetry: (() => void) | undefined;
  #cancelWatchdog: (() => void) | undefined;
  #abort = new AbortController();
  #started = false;
  #stopped = false;
  #reconnects = 0;

  constructor(options: ChangeFeedOptions) {
    this.#pb = options.pb;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#onKeys = options.onKeys;
    this.#onResync = options.onResync;
    this.#onStale = options.onStale;
    this.#onRecord = options.onRecord;
    this.#onStreamLost = options.onStreamLost;
    this.#onEvent = options.onEvent;
    this.#watchdogMs = options.watchdogMs ?? 60_000;
    this.#maxConnectionAgeMs = options.maxConnectionAgeMs ?? 35 * 60_000;
    this.#initialBackoffMs = options.initialBackoffMs ?? 500;
    this.#maxBackoffMs = options.maxBackoffMs ?? 30_000;
  }

  /** True while the realtime stream is up (as far as the feed can tell). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Clock time (epoch ms) the last full resync completed, or null before the first. */
  get lastResyncAt(): number | null {
    return this.#lastResyncAt;
  }

  /** Connections replaced by the watchdog since start. */
  get forcedReconnects(): number {
    return this.#reconnects;
  }

  /**
   * Subscribes (retrying until PocketBase answers), runs the first resync and starts the watchdog.
   * Resolves once the first resync has been attempted, or when stop() is called first.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error('ChangeFeed already started');
    this.#started = true;
    this.#pb.realtime.onDisconnect = () => this.#markDisconnected();
    this.#scheduleWatchdog();
    await this.#connect();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort(new Error('change feed stopped'));
    this.#cancelWatchdog?.();
    this.#cancelResyncRetry?.();
    this.#pb.realtime.onDisconnect = undefined as unknown as PocketBase['realtime']['onDisconnect'];
    this.#connected = false;
    this.#onStreamLost?.();
    await this.#dropConnection();
    await this.#resyncing?.catch(() => undefined);
  }

  /**
   * Lists plans, tenants and stacks, and emits a key for every tenant and stack that exists (the
   * first time) or changed since the feed last saw it (afterwards). Concurrent calls coalesce into
   * one extra pass.
   * Rejects if the listing fails.
   */
  resync(): Promise<void> {
    if (this.#resyncing) {
      this.#resyncAgain = true;
      return this.#resyncing;
    }
    const run = (async () => {
      try {
        do {
          this.#resyncAgain = false;
          await this.#resyncOnce();
        } while (this.#resyncAgain && !this.#stopped);
      } finally {
        this.#resyncing = null;
      }
    })();
    this.#resyncing = run;
    return run;
  }

  async #connect(): Promise<void> {
    this.#connecting = true;
    try {
      for (let attempt = 0; !this.#stopped; attempt++) {
        try {
          for (const c of WATCHED) {
            await this.#pb.collection(c).subscribe('*', (msg: RealtimeMessage) => this.#onMessage(c, msg));
          }
          // Registered after the collection topics so the listener only runs on reconnects; the first
          // connection's resync is run below, once every topic is live.
          await this.#pb.realtime.subscribe('PB_CONNECT', () => this.#onReconnected());
          break;
        } catch (e) {
          // Drop half-made subscriptions so the next attempt starts clean.
          await this.#dropConnection();
          const delay = backoffMs(attempt, this.#initialBackoffMs, this.#maxBackoffMs);
          this.#logger.warn('PocketBase realtime subscribe failed, retrying', {
            attempt: attempt + 1,
            retryInMs: delay,
            error: errorMessage(e),
          });
          try {
            await this.#clock.sleep(delay, this.#abort.signal);
          } catch {
            return;
          }
        }
      }
      if (this.#stopped) return;
      this.#markConnected();
      this.#logger.info('subscribed to PocketBase realtime', { topics: WATCHED });
    } finally {
      this.#connecting = false;
    }
    await this.#resyncSafely();
  }

  #onReconnected(): void {
    if (this.#stopped) return;
    this.#markConnected();
    this.#logger.info('PocketBase realtime reconnected; resyncing');
    void this.#resyncSafely();
  }

  #markConnected(): void {
    this.#connected = true;
    this.#disconnectedSince = null;
    this.#lastConnectAt = this.#clock.now();
  }

  #markDisconnected(): void {
    if (this.#stopped) return;
    if (this.#connected) {
      this.#logger.warn('PocketBase realtime disconnected');
      this.#onStale?.();
      this.#onStreamLost?.();
    }
    this.#connected = false;
    this.#disconnectedSince ??= this.#clock.now();
  }

  /** Resync from inside the feed: failures are logged and retried with backoff, never thrown. */
  async #resyncSafely(): Promise<void> {
    this.#cancelResyncRetry?.();
    try {
      await this.resync();
      this.#resyncFailures = 0;
    } catch (e) {
      if (this.#stopped) return;
      const delay = backoffMs(this.#resyncFailures++, this.#initialBackoffMs, this.#maxBackoffMs);
      this.#logger.error('PocketBase resync failed, retrying', { retryInMs: delay, error: errorMessage(e) });
      this.#cancelResyncRetry = this.#clock.schedule(() => void this.#resyncSafely(), delay);
    }
  }

  async #resyncOnce(): Promise<void> {
    this.#onStale?.();
    const [rawPlans, rawTenants, rawStacks] = await Promise.all([
      this.#store.listRaw('plans'),
      this.#store.listRaw('tenants'),
      this.#store.listRaw('stacks'),
    ]);
    const plans = rawPlans.map(parsePlan);
    const tenants = rawTenants.map(parseTenant);
    const stacks = rawStacks.map(parseStack);
    // Vanished records are forgotten but not keyed (see the module comment): a key for a missing
    // stack leads to the orphan path, which must only be reached through the guard or a delete event.
    for (const c of ['tenants', 'stacks'] as const) {
      const present = new Set((c === 'tenants' ? tenants : stacks).map((r) => r.id));
      for (const id of this.#seen[c].keys()) if (!present.has(id)) this.#store.forget(c, id);
    }
    const changed = (c: Watched, raw: Record<string, unknown>): boolean => {
      if (!this.#listed) return true;
      const before = this.#seen[c].get(String(raw.id));
      return !before || before.updated !== String(raw.updated ?? '');
    };
    const keys: ReconcileKey[] = [];
    for (const r of rawTenants) if (changed('tenants', r)) keys.push(`tenant:${String(r.id)}`);
    for (const r of rawStacks) if (changed('stacks', r)) keys.push(`stack:${String(r.id)}`);
    // A changed plan changes what its tenants' stacks should be.
    const changedPlans = new Set(rawPlans.filter((r) => this.#listed && changed('plans', r)).map((r) => String(r.id)));
    if (changedPlans.size > 0) {
      const tenantsOfPlans = new Set(tenants.filter((t) => changedPlans.has(t.planId)).map((t) => t.id));
      for (const t of tenantsOfPlans) keys.push(`tenant:${t}`);
      for (const st of stacks) if (tenantsOfPlans.has(st.tenantId)) keys.push(`stack:${st.id}`);
    }

    this.#seen.plans = new Map(rawPlans.map((r) => [String(r.id), this.#describe('plans', r)]));
    this.#seen.tenants = new Map(rawTenants.map((r) => [String(r.id), this.#describe('tenants', r)]));
    this.#seen.stacks = new Map(rawStacks.map((r) => [String(r.id), this.#describe('stacks', r)]));
    this.#listed = true;

    this.#lastResyncAt = this.#clock.now();
    this.#logger.debug('PocketBase resync', { plans: plans.length, tenants: tenants.length, stacks: stacks.length, keyed: keys.length });
    if (keys.length > 0) this.#onKeys([...new Set(keys)], 'resync');
    await this.#onResync?.({ plans, tenants, stacks });
  }

  #onMessage(collection: Watched, msg: RealtimeMessage): void {
    if (this.#stopped) return;
    this.#handle(collection, msg).catch((e: unknown) => {
      this.#logger.error('could not process a PocketBase event', { collection, error: errorMessage(e) });
    });
  }

  async #handle(collection: Watched, msg: RealtimeMessage): Promise<void> {
    const raw = msg.record;
    const action = msg.action;
    if (!raw || typeof raw.id !== 'string' || (action !== 'create' && action !== 'update' && action !== 'delete')) return;
    const id = raw.id;
    if (collection !== 'plans') this.#onRecord?.(collection, action, raw);
    const keys = await this.#keysFor(collection, action, id, raw);
    this.#emit(keys);
    this.#onEvent?.({ collection, id, action, keys });
  }

  async #keysFor(
    collection: Watched,
    action: FeedEventInfo['action'],
    id: string,
    raw: Record<string, unknown>,
  ): Promise<ReconcileKey[]> {
    const seen = this.#seen[collection];
    const previous = seen.get(id);
    if (action === 'delete') {
      seen.delete(id);
      if (collection !== 'plans') this.#store.forget(collection, id);
    } else {
      const now = this.#describe(collection, raw);
      seen.set(id, now);
      const adminChanged = action === 'create' || !previous || previous.admin !== now.admin;
      if (!adminChanged) {
        if (collection === 'plans' || this.#daemonFieldsExpected(collection, id, now.daemon, previous)) return [];
        // Someone else wrote daemon fields (typically a stale copy saved by the admin UI): correct them.
        this.#logger.debug('daemon fields changed by someone else; re-reconciling', { collection, id });
        return [collection === 'stacks' ? `stack:${id}` : `tenant:${id}`];
      }
    }
    if (collection === 'stacks') return [`stack:${id}`];
    if (collection === 'tenants') return [`tenant:${id}`, ...(await this.#stacksOfTenant(id))];
    return this.#fanOutPlan(id);
  }

  /** True when every daemon field equals what this process last wrote, or (if never written) last saw. */
  #daemonFieldsExpected(collection: 'tenants' | 'stacks', id: string, now: Record<string, unknown>, previous: Seen | undefined): boolean {
    const written = this.#store.lastWritten(collection, id);
    for (const [key, value] of Object.entries(now)) {
      const expected = written && key in written ? written[key] : previous?.daemon[key];
      if (!Object.is(expected, value)) return false;
    }
    return true;
  }

  #describe(collection: Watched, raw: Record<string, unknown>): Seen {
    const admin = adminFingerprint(collection, raw);
    const updated = String(raw.updated ?? '');
    if (collection === 'plans') return { admin, daemon: {}, parent: '', updated };
    if (collection === 'tenants') {
      const t = parseTenant(raw);
      return { admin, daemon: pick(t, TENANT_DAEMON_KEYS), parent: t.planId, updated };
    }
    const s = parseStack(raw);
    return { admin, daemon: pick(s, STACK_DAEMON_KEYS), parent: s.tenantId, updated };
  }

  async #stacksOfTenant(tenantId: string): Promise<ReconcileKey[]> {
    try {
      return (await this.#store.listStacksOfTenant(tenantId)).map((s) => `stack:${s.id}` as const);
    } catch (e) {
      this.#logger.warn('could not list stacks of a changed tenant; using the last known list', { tenantId, error: errorMessage(e) });
      return this.#children('stacks', tenantId).map((id) => `stack:${id}` as const);
    }
  }

  async #fanOutPlan(planId: string): Promise<ReconcileKey[]> {
    try {
      const [tenants, stacks] = await Promise.all([this.#store.listTenantsOfPlan(planId), this.#store.listStacksOfPlan(planId)]);
      return [...tenants.map((t) => `tenant:${t.id}` as const), ...stacks.map((s) => `stack:${s.id}` as const)];
    } catch (e) {
      this.#logger.warn('could not list tenants of a changed plan; using the last known list', { planId, error: errorMessage(e) });
      const tenantIds = this.#children('tenants', planId);
      return [
        ...tenantIds.map((id) => `tenant:${id}` as const),
        ...tenantIds.flatMap((t) => this.#children('stacks', t).map((id) => `stack:${id}` as const)),
      ];
    }
  }

  #children(collection: 'tenants' | 'stacks', parent: string): string[] {
    return [...this.#seen[collection].entries()].filter(([, s]) => s.parent === parent).map(([id]) => id);
  }

  #emit(keys: ReconcileKey[]): void {
    if (keys.length === 0 || this.#stopped) return;
    this.#onKeys(keys, 'event');
  }

  #scheduleWatchdog(): void {
    if (this.#stopped) return;
    const every = Math.max(100, Math.min(this.#watchdogMs, this.#maxConnectionAgeMs) / 2);
    this.#cancelWatchdog = this.#clock.schedule(() => {
      this.#watchdogTick();
      this.#scheduleWatchdog();
    }, every);
  }

  #watchdogTick(): void {
    if (this.#stopped || this.#connecting) return;
    const now = this.#clock.now();
    if (!this.#pb.realtime.isConnected) this.#markDisconnected();
    if (this.#disconnectedSince !== null && now - this.#disconnectedSince >= this.#watchdogMs) {
      void this.#forceReconnect(`no realtime connection for ${now - this.#disconnectedSince} ms`);
    } else if (this.#connected && this.#lastConnectAt !== null && now - this.#lastConnectAt >= this.#maxConnectionAgeMs) {
      void this.#forceReconnect(`no PB_CONNECT for ${now - this.#lastConnectAt} ms`);
    }
  }

  /**
   * Removes every subscription and closes the SDK's stream, including a reconnect loop in progress.
   * `unsubscribe()` alone leaves that loop running when the SDK has no client id (mid-reconnect),
   * and while it runs the SDK's connect() returns at once without connecting. The SDK has no public
   * call for this, so its (private) disconnect is used when present.
   */
  async #dropConnection(): Promise<void> {
    await this.#pb.realtime.unsubscribe().catch(() => undefined);
    const realtime = this.#pb.realtime as unknown as { disconnect?: () => void };
    if (typeof realtime.disconnect === 'function') realtime.disconnect();
  }

  /** Drops the SDK's connection and subscriptions, then subscribes again (which resyncs). */
  async #forceReconnect(reason: string): Promise<void> {
    if (this.#connecting || this.#stopped) return;
    this.#connecting = true;
    this.#reconnects++;
    this.#logger.warn('PocketBase realtime stream presumed dead; reconnecting', { reason });
    this.#connected = false;
    this.#onStreamLost?.();
    await this.#dropConnection();
    // Dropping ran the SDK's disconnect hook; restart the outage clock from now.
    this.#disconnectedSince = this.#clock.now();
    await this.#connect();
  }
}

function pick<T extends object>(record: T, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = (record as Record<string, unknown>)[k];
  return out;
}

