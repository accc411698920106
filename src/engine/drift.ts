/**
 * The periodic drift resync: every RESYNC_INTERVAL_SECONDS ±10 % (the first tick too, so replicas
 * restarted together do not lock-step), one listing of each PocketBase collection plus the Coolify
 * inventory; keys that differ are enqueued at low priority. It also owns the orphan guard: until a
 * resync has looked at both sides and found PocketBase plausible, orphans are left alone.
 */
import type { Clock } from '../clock.js';
import type { InventorySnapshot } from '../coolify/inventory.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Redactor } from '../logging/redactor.js';
import { trackRecordSecrets } from './policy.js';
import type { Plan, ReconcileKey, Stack, Tenant } from '../pocketbase/types.js';
import type { Audit } from './audit.js';
import type { OrphanGate } from './context.js';
import { DecisionCache } from './decision-cache.js';
import { type DriftPlan, type EnvTarget, planDrift } from './drift-plan.js';
import type { EnqueuePort, PolicyPort, StorePort } from './ports.js';

export interface DriftMetrics {
  resyncDone(atMs: number, seconds: number): void;
  guardRefusal(guard: string): void;
  setOrphans(n: number): void;
  /** Records by status, from the resync's listing. */
  setRecordStatuses?(tenants: readonly Tenant[], stacks: readonly Stack[]): void;
}

export interface DriftOptions {
  store: StorePort;
  /** Takes a full observation of Coolify (the shared view's `observe`). */
  inventory: { observe(): Promise<InventorySnapshot> };
  policy: PolicyPort;
  clock: Clock;
  logger: Logger;
  redactor: Redactor;
  audit: Audit;
  enqueue: EnqueuePort;
  intervalMs: number;
  routerBaseUrl: string;
  deleteRetentionMs: number;
  metrics?: DriftMetrics;
  onEnvTargets?: (targets: EnvTarget[]) => void;
  /**
   * Stack ids with more than one service carrying their marker, told before their keys are
   * enqueued: a reconcile finding the stored uuid intact would otherwise not look for the others.
   */
  onDuplicates?: (stackIds: string[]) => void;
  /** Every managed service uuid the resync's listing shows, and when it was taken (epoch ms). */
  onServicesSeen?: (uuids: ReadonlySet<string>, observedAt: number) => void;
  /** Tenant ids with more than one project carrying their marker: their reconciles resolve them. */
  onDuplicateProjects?: (tenantIds: string[]) => void;
  /** The engine memory's rejected decisions (stack id → hash), read at each resync. */
  rejected?: ReadonlyMap<string, string>;
  /** Uniform [0, 1) for the jitter. */
  random?: () => number;
}

export interface Snapshot {
  plans: Plan[];
  tenants: Tenant[];
  stacks: Stack[];
}

export class DriftResync {
  readonly #o: DriftOptions;
  readonly #random: () => number;
  /** Decisions of the last resync: a stack whose inputs did not change is not rendered again. */
  readonly #decisions: DecisionCache;
  #cancel: (() => void) | undefined;
  #running: Promise<DriftPlan | undefined> | undefined;
  #stopped = true;
  #guard: { allowed: boolean; reason: string } = { allowed: false, reason: 'no resync has completed yet' };
  #lastSuccessAt: number | null = null;
  #lastError: string | undefined;
  /**
   * The gate's freshness: `#requested` counts PocketBase views handed over or announced (snapshots,
   * invalidations); `#evaluated` is the highest count a finished evaluation covered. The gate is
   * shut while `#evaluated < #requested`: the guard's verdict is about an older view.
   */
  #requested = 0;
  #evaluated = 0;
  /** The newest snapshot that arrived while a run was in progress; evaluated right after it. */
  #nextSnapshot: Snapshot | undefined;
  #followUp: Promise<DriftPlan | undefined> | undefined;

  constructor(options: DriftOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
    this.#decisions = new DecisionCache(options.policy);
  }

  /**
   * Fails closed: shut until the first evaluation, while a newer PocketBase view than the last
   * evaluated one exists or is being taken, and whenever the latest evaluation refused.
   */
  readonly gate: OrphanGate = {
    allowed: () => this.#guard.allowed && this.#evaluated >= this.#requested,
    reason: () =>
      this.#evaluated < this.#requested ? 'PocketBase changed since the orphan guard last evaluated it' : this.#guard.reason,
  };

  /**
   * PocketBase may have changed in ways no event reported (the realtime stream dropped, or a
   * listing began): shut the gate until a listing taken after this call has been evaluated.
   */
  invalidate(): void {
    this.#requested++;
  }

  /** Epoch ms of the last resync that read both sides, or null. */
  get lastSuccessAt(): number | null {
    return this.#lastSuccessAt;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#running?.catch(() => undefined);
    await this.#followUp?.catch(() => undefined);
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = this.#o.intervalMs * (0.9 + 0.2 * this.#random());
    this.#cancel = this.#o.clock.schedule(() => {
      void this.run()
        .catch(() => undefined)
        .finally(() => this.#schedule());
    }, delay);
  }

  /**
   * One resync. Concurrent calls share the run in progress. A snapshot from the change feed's own
   * listing (taken on every PocketBase reconnect) saves listing PocketBase twice.
   */
  run(snapshot?: Snapshot): Promise<DriftPlan | undefined> {
    if (snapshot) this.#requested++;
    if (!this.#running) return this.#start(snapshot);
    if (!snapshot) return this.#running;
    // The run in progress looked at an older view; this one must not be dropped, or the guard's
    // verdict would stay about a database that may since have been restored.
    this.#nextSnapshot = snapshot;
    this.#followUp ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#followUp = undefined;
        const next = this.#nextSnapshot;
        this.#nextSnapshot = undefined;
        return this.#running ?? this.#start(next);
      });
    return this.#followUp;
  }

  #start(snapshot: Snapshot | undefined): Promise<DriftPlan | undefined> {
    // A fresh listing starts after everything requested so far, so it covers all of it.
    const covers = this.#requested;
    this.#running = this.#runOnce(snapshot, covers).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #runOnce(snapshot: Snapshot | undefined, covers: number): Promise<DriftPlan | undefined> {
    const o = this.#o;
    const started = o.clock.now();
    let plan: DriftPlan;
    let duplicateTenants: string[];
    try {
      const [plans, tenants, stacks] = snapshot
        ? [snapshot.plans, snapshot.tenants, snapshot.stacks]
        : await Promise.all([o.store.listPlans(), o.store.listTenants(), o.store.listStacks()]);
      const inventory = await o.inventory.observe();
      duplicateTenants = inventory.duplicateTenants;
      if (o.onServicesSeen) {
        const seen = new Set<string>();
        for (const list of inventory.servicesByStack.values()) for (const s of list) seen.add(s.uuid);
        o.onServicesSeen(seen, inventory.observedAt);
      }
      // Every secret the records hold now is (re)tracked, then the sweep forgets those no record
      // has carried for two resyncs (rotated router keys, deleted stacks): bounded memory.
      o.metrics?.setRecordStatuses?.(tenants, stacks);
      for (const t of tenants) o.redactor.track(t.routerApiKey);
      for (const s of stacks) trackRecordSecrets(o.redactor, o.policy, undefined, s);
      o.redactor.sweep();
      plan = await planDrift({
        plans,
        tenants,
        stacks,
        inventory,
        policy: o.policy,
        decisions: this.#decisions,
        routerBaseUrl: o.routerBaseUrl,
        deleteRetentionMs: o.deleteRetentionMs,
        // Two periods (with jitter) so a mark made between two resyncs is still new in the next.
        orphanWindowMs: 2 * o.intervalMs,
        ...(o.rejected ? { rejected: o.rejected } : {}),
        now: o.clock.now(),
      });
    } catch (e) {
      // Without a complete view of both sides nothing may be concluded about orphans.
      this.#lastError = errorMessage(e);
      o.logger.warn('drift resync failed', { error: this.#lastError });
      throw e;
    }
    this.#lastError = undefined;
    await this.#applyGuard(plan);
    // Before the orphan keys are enqueued: their reconciles must find the gate reflecting this plan.
    this.#evaluated = Math.max(this.#evaluated, covers);
    if (plan.duplicateStacks.length > 0) o.onDuplicates?.(plan.duplicateStacks);
    if (duplicateTenants.length > 0) o.onDuplicateProjects?.(duplicateTenants);
    for (const [key, why] of plan.keys) {
      o.logger.debug('drift', { subject: key, reason: why });
      o.enqueue(key, 'low');
    }
    for (const key of plan.orphanKeys) o.enqueue(key, 'low');
    o.onEnvTargets?.(plan.envTargets);
    const done = o.clock.now();
    this.#lastSuccessAt = done;
    o.metrics?.resyncDone(done, (done - started) / 1000);
    o.metrics?.setOrphans(plan.orphans.length);
    o.logger.info('drift resync done', {
      differing: plan.keys.size,
      orphans: plan.orphans.length,
      managedServices: plan.managedServices,
    });
    return plan;
  }

  async #applyGuard(plan: DriftPlan): Promise<void> {
    const o = this.#o;
    if (!plan.refusal) {
      if (!this.#guard.allowed && this.#lastSuccessAt !== null) o.logger.info('orphan guard lifted');
      this.#guard = { allowed: true, reason: '' };
      return;
    }
    const wasAllowed = this.#guard.allowed || this.#lastSuccessAt === null;
    const { guard, message } = plan.refusal;
    this.#guard = { allowed: false, reason: message };
    o.metrics?.guardRefusal(guard);
    o.logger.warn(`refusing to act on orphaned services: ${message}`, { guard, orphans: plan.orphans.length });
    if (wasAllowed) {
      // One audit event when the guard trips, not one per resync while it stays tripped.
      const subject: ReconcileKey = `stack:${plan.newOrphans[0] ?? plan.orphans[0] ?? 'unknown'}`;
      await o.audit.record(subject, 'refuse', 'error', `refusing to act on orphaned services: ${message}`);
    }
  }
}
