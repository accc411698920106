/**
 * Everything a reconcile needs, passed explicitly: no module-level state anywhere. One context
 * lives as long as the daemon; per-key memory in it is only an optimisation (a restart loses it
 * and the reconcilers still converge from what PocketBase and Coolify hold).
 */
import type { Clock } from '../clock.js';
import type { SharedCoolifyView } from '../coolify/shared-view.js';
import type { CoolifyApi } from '../coolify/types.js';
import { abortableCoolify, raceAbort } from './abortable-coolify.js';
import type { Logger } from '../logging/logger.js';
import type { Redactor } from '../logging/redactor.js';
import type { Audit } from './audit.js';
import type { Corrections } from './corrections.js';
import type { CreateIntents } from './create-intents.js';
import type { PeerSnapshot } from './peer-listing.js';
import type { EnqueuePort, PolicyPort, StorePort } from './ports.js';

export interface EngineSettings {
  /** Coolify environment name services are created in. */
  environment: string;
  defaultServerUuid: string;
  destinationUuid: string | undefined;
  routerBaseUrl: string;
  /** Re-check interval while something is starting, stopping or being deleted (ms). */
  statusPollMs: number;
  /** How long a requested deletion (or an orphan) waits before the service is deleted (ms). */
  deleteRetentionMs: number;
  /** Drift resync period (ms); also bounds how stale observed_at/synced_at may get. */
  resyncIntervalMs: number;
  /**
   * How long a start or stop is given to show up in Coolify's status before it is asked again
   * (ms). Coolify's status lags the containers by up to a minute or two.
   */
  lifecycleGraceMs: number;
}

export interface EngineMemory {
  /**
   * service uuid → the last start/stop the daemon asked for and when (epoch ms), so a service
   * whose status still lags is not started or stopped again within the grace period.
   */
  lifecycle: Map<string, { action: 'start' | 'stop'; at: number }>;
  /** service uuid → when its deletion was requested (epoch ms); deletion is asynchronous. */
  deleteRequestedAt: Map<string, number>;
  /** Stack ids whose service env vars were found to differ from what they should be. */
  envDrift: Set<string>;
  /**
   * Stack ids last seen with more than one service carrying their marker: their lookups list the
   * services even when the stored uuid is found, until the extra ones are gone.
   */
  duplicates: Set<string>;
  /** Tenant ids last seen with more than one project carrying their marker. */
  duplicateProjects: Set<string>;
  /**
   * stack id → hash of the decision whose create or update Coolify rejected (409/422/400). Set by
   * the refusal, removed once a pass gets past the apply (or the stack is deleted), so the drift
   * resync can tell "the same request again" from "the record or its inputs changed".
   */
  rejected: Map<string, string>;
  /** stack id → when applying its change was first held back to coalesce a burst (epoch ms). */
  applyHeldSince: Map<string, number>;
}

/** Whether acting on orphans is currently allowed (the drift resync's guard decides). */
export interface OrphanGate {
  allowed(): boolean;
  /** Why not, in words, when not allowed. */
  reason(): string;
}

export interface EngineContext {
  /** In a reconcile, a view that rejects every call once `signal` aborts. */
  coolify: CoolifyApi;
  /**
   * Aborted when the reconcile times out or shutdown's deadline passes; reconcilers stop between
   * steps (`signal.throwIfAborted()`). Never aborted outside a reconcile.
   */
  signal: AbortSignal;
  store: StorePort;
  policy: PolicyPort;
  clock: Clock;
  logger: Logger;
  redactor: Redactor;
  audit: Audit;
  enqueue: EnqueuePort;
  settings: EngineSettings;
  memory: EngineMemory;
  /** Identical corrections per key, to hold back the ones Coolify does not take. */
  corrections: Corrections;
  /** Creates sent whose result is not known yet (no second create within the grace period). */
  intents: CreateIntents;
  orphans: OrphanGate;
  /**
   * The shared observation of Coolify (see shared-view.ts): status polls, marker lookups and
   * adoption read it instead of asking Coolify per stack. Without it, every lookup asks Coolify.
   */
  view?: SharedCoolifyView;
  /**
   * Every tenant and stack, for quota and host ownership; may be up to a second old, but when
   * `mustList` (a stack id) is given, taken after that stack was created.
   */
  peers(mustList?: string): Promise<PeerSnapshot>;
}

export function newEngineMemory(): EngineMemory {
  return {
    lifecycle: new Map(),
    deleteRequestedAt: new Map(),
    envDrift: new Set(),
    duplicates: new Set(),
    duplicateProjects: new Set(),
    rejected: new Map(),
    applyHeldSince: new Map(),
  };
}

/**
 * Forgets what was asked of services a listing no longer shows (deleted orphans and duplicates,
 * services deleted by hand): only requests made before the listing was taken, so a service
 * created since is not mistaken for a gone one. Keeps the memory bounded over months.
 */
export function forgetGoneServices(memory: EngineMemory, present: ReadonlySet<string>, observedAt: number): void {
  for (const [uuid, last] of memory.lifecycle) if (!present.has(uuid) && last.at < observedAt) memory.lifecycle.delete(uuid);
  for (const [uuid, at] of memory.deleteRequestedAt) if (!present.has(uuid) && at < observedAt) memory.deleteRequestedAt.delete(uuid);
}

/**
 * The context one reconcile runs with: Coolify and PocketBase calls give up when `signal` aborts
 * (the reconcile timeout covers a hung PocketBase as well as a hung Coolify), and everything it
 * logs (audit lines included) goes through `logger`, a child logger carrying the reconcile's key
 * and id.
 */
export function reconcileContext(ctx: EngineContext, signal: AbortSignal, logger: Logger = ctx.logger): EngineContext {
  const store = abortableStore(ctx.store, signal);
  return {
    ...ctx,
    signal,
    logger,
    store,
    audit: ctx.audit.withLogger(logger),
    coolify: abortableCoolify(ctx.coolify, signal),
  };
}

/** `store` whose calls reject with the abort reason as soon as `signal` aborts. */
export function abortableStore(store: StorePort, signal: AbortSignal): StorePort {
  const r = <T>(call: () => Promise<T>) => raceAbort(signal, call);
  return {
    getPlan: (id) => r(() => store.getPlan(id)),
    getTenant: (id) => r(() => store.getTenant(id)),
    getStack: (id) => r(() => store.getStack(id)),
    listPlans: () => r(() => store.listPlans()),
    listTenants: () => r(() => store.listTenants()),
    listStacks: () => r(() => store.listStacks()),
    listStacksOfTenant: (tenantId) => r(() => store.listStacksOfTenant(tenantId)),
    updateTenant: (id, patch) => r(() => store.updateTenant(id, patch)),
    updateStack: (id, patch) => r(() => store.updateStack(id, patch)),
    deleteStack: (id) => r(() => store.deleteStack(id)),
    // The audit trail of a write already made is kept even when the run is aborted meanwhile.
    addEvent: (event) => store.addEvent(event),
    pruneEvents: (olderThanMs, options) => r(() => store.pruneEvents(olderThanMs, options)),
  };
}
