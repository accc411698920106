/**
 * `plan`: what the daemon would do now. The daemon's first pass reconciles every tenant and stack
 * (the change feed's listing keys them all) and the orphans the drift resync finds; `plan` runs
 * the very same reconcilers once per key, in that order, against a RecordingCoolify and a
 * RecordingStore, and turns what they would have written into actions. Plan and daemon agree by
 * construction: there is no second copy of the decisions.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { CoolifyInventory } from '../coolify/inventory.js';
import { SharedCoolifyView } from '../coolify/shared-view.js';
import type { CoolifyApi } from '../coolify/types.js';
import { Audit } from '../engine/audit.js';
import { Corrections } from '../engine/corrections.js';
import { CreateIntents } from '../engine/create-intents.js';
import { newEngineMemory, reconcileContext, type EngineContext } from '../engine/context.js';
import { planDrift } from '../engine/drift-plan.js';
import { PeerListing } from '../engine/peer-listing.js';
import type { PolicyPort, StorePort } from '../engine/ports.js';
import { engineSettings } from '../engine/settings.js';
import { TerminalError, errorMessage } from '../errors.js';
import { silentLogger } from '../logging/logger.js';
import type { Redactor } from '../logging/redactor.js';
import type { ReconcileEvent, ReconcileKey, Stack, Tenant } from '../pocketbase/types.js';
import { reconcileStack } from '../../reconcilers/stack.js';
import { reconcileTenant } from '../../reconcilers/tenant.js';
import { RecordingCoolify, type CoolifyWrite } from './recording-coolify.js';
import { RecordingStore, type RecordWrite } from './recording-store.js';

export interface PlanAction {
  /**
   * What would happen: a Coolify write (`create_project`, `create_service`, `update_service`,
   * `set_env`, `delete_env`, `deploy`, `start`, `stop`, `restart`, `delete_service`,
   * `delete_project`, `create_environment`, or the audit name of a more specific one such as
   * `schedule_delete`, `mark_orphan`, `orphan_stop`), `adopt`, `refuse`, `record` (daemon fields
   * of the PocketBase record) or `delete_record`.
   */
  action: string;
  /** Why, in the daemon's own words (its audit message). Secrets masked. */
  message: string;
  /** The Coolify resource (`planned-…` for one this plan would create). */
  coolifyUuid?: string;
  /** What differs: fields, urls, env var names (never values), record fields `from → to`. */
  changes: string[];
  /** The Coolify request the daemon would send (method and route template). */
  request?: { method: string; route: string };
}

export interface PlanEntry {
  key: ReconcileKey;
  /** `tenant <slug>`, `stack <tenant>/<name>`, or `orphan` for a service whose record is gone. */
  label: string;
  actions: PlanAction[];
  /** Why this key could not be planned (e.g. Coolify answered 500); the plan is then incomplete. */
  error?: string;
}

export interface PlanResult {
  /** Epoch ms at which the plan was made. */
  at: number;
  /** Keys with something to do or an error, in the order the daemon would take them. */
  entries: PlanEntry[];
  /** Number of actions over all entries. */
  changes: number;
  /** Managed services whose stack record is gone, by stack id. */
  orphans: string[];
  /** The orphan guard's verdict: while it refuses, orphans are left alone. */
  guard: { allowed: true } | { allowed: false; guard: string; message: string };
  /** Keys that could not be planned. */
  errors: number;
  /**
   * Something is pending: an action, or orphans the guard holds back (they wait for someone to
   * look at PocketBase, so "nothing to do" would hide them).
   */
  pending: boolean;
}

export interface PlanOptions {
  config: Config;
  /** The real client (its rate limiter applies to every read). */
  coolify: CoolifyApi;
  /** The real store; nothing is written to it. */
  store: StorePort;
  policy: PolicyPort;
  clock: Clock;
  redactor: Redactor;
}

/** Record fields that only say "looked at recently": refreshed by every pass, not a decision. */
const TIMESTAMP_FIELDS = new Set(['observedAt', 'syncedAt']);
const DATE_FIELDS = new Set(['deleteAfter']);

export async function runPlan(options: PlanOptions): Promise<PlanResult> {
  const { config, clock, redactor, policy } = options;
  const at = clock.now();
  let current: PlanEntry | undefined;
  /** Coolify writes of the current key not yet matched with their audit event. */
  let unexplained: PlanAction[] = [];

  const onCoolifyWrite = (w: CoolifyWrite) => {
    const action: PlanAction = {
      action: w.op,
      message: describeWrite(w),
      coolifyUuid: w.uuid,
      changes: w.changes.map((c) => redactor.redact(c)),
      request: w.request,
    };
    current?.actions.push(action);
    unexplained.push(action);
  };
  const onEvent = (e: ReconcileEvent) => {
    // Audit.write records its event right after the write it describes; Audit.record (adopt,
    // refuse) records one without a write.
    const last = unexplained.at(-1);
    const explains = e.outcome === 'ok' && e.action !== 'refuse' && e.action !== 'adopt' && last?.coolifyUuid === e.coolifyUuid;
    const write = explains ? unexplained.pop() : undefined;
    if (write) {
      write.action = e.action;
      write.message = e.message;
    } else {
      current?.actions.push({ action: e.action, message: e.message, ...(e.coolifyUuid ? { coolifyUuid: e.coolifyUuid } : {}), changes: [] });
    }
  };
  const onRecordWrite = (w: RecordWrite) => {
    if (!current) return;
    if (w.kind === 'delete_stack') {
      current.actions.push({ action: 'delete_record', message: 'the stack record is deleted (its service is gone and the retention has passed)', changes: [] });
      return;
    }
    const before = (w.before ?? {}) as unknown as Record<string, unknown>;
    const changes = Object.entries(w.patch)
      .filter(([k]) => !TIMESTAMP_FIELDS.has(k))
      .map(([k, v]) => `${k}: ${show(k, before[k])} → ${show(k, v)}`);
    if (changes.length > 0) current.actions.push({ action: 'record', message: `PocketBase ${w.kind} record`, changes: changes.map((c) => redactor.redact(c)) });
  };

  const coolify = new RecordingCoolify(options.coolify, onCoolifyWrite, (a, b) => policy.composeEquals(a, b));
  const store = new RecordingStore({ inner: options.store, onWrite: onRecordWrite, onEvent, now: () => clock.now() });
  const logger = silentLogger();

  const [plans, tenants, stacks] = await Promise.all([options.store.listPlans(), options.store.listTenants(), options.store.listStacks()]);
  // Observed as the daemon observes: one shared view (compose digests included) answers the drift
  // comparison and the reconcilers' lookups, and the recorded writes are noted in it.
  const view = new SharedCoolifyView(new CoolifyInventory(coolify, { now: () => clock.now(), composeDigest: policy.composeDigest }), () => clock.now());
  const inventory = await view.observe();
  const drift = await planDrift({
    plans,
    tenants,
    stacks,
    inventory,
    policy,
    routerBaseUrl: config.routerBaseUrl,
    deleteRetentionMs: config.deleteRetentionSeconds * 1000,
    orphanWindowMs: 2 * config.resyncIntervalSeconds * 1000,
    now: at,
  });
  const memory = newEngineMemory();
  for (const id of drift.duplicateStacks) memory.duplicates.add(id);
  const refusal = drift.refusal;
  const peers = new PeerListing(store, clock, Number.POSITIVE_INFINITY);
  const ctx: EngineContext = {
    coolify: view.watchWrites(coolify),
    view,
    store,
    policy,
    clock,
    logger,
    redactor,
    audit: new Audit(store, redactor, logger),
    // Every key is planned once in the daemon's order; keys a reconcile would enqueue are among them.
    enqueue: () => undefined,
    settings: engineSettings(config),
    memory,
    corrections: new Corrections({ clock }),
    intents: new CreateIntents({ clock }),
    orphans: { allowed: () => refusal === undefined, reason: () => refusal?.message ?? '' },
    signal: new AbortController().signal,
    peers: (mustList) => peers.get(mustList),
  };

  const tenantsById = new Map(tenants.map((t) => [t.id, t]));
  const order: { key: ReconcileKey; label: string; run: (c: EngineContext) => Promise<unknown> }[] = [
    ...[...tenants].sort(bySlug).map((t) => ({ key: `tenant:${t.id}` as const, label: `tenant ${t.slug || t.id}`, run: (c: EngineContext) => reconcileTenant(c, t.id) })),
    ...[...stacks].sort(byName(tenantsById)).map((s) => ({
      key: `stack:${s.id}` as const,
      label: `stack ${tenantsById.get(s.tenantId)?.slug ?? s.tenantId}/${s.name || s.id}`,
      run: (c: EngineContext) => reconcileStack(c, s.id),
    })),
    ...drift.orphans.map((id) => ({ key: `stack:${id}` as const, label: 'orphan', run: (c: EngineContext) => reconcileStack(c, id) })),
  ];

  const entries: PlanEntry[] = [];
  let errors = 0;
  for (const item of order) {
    const entry: PlanEntry = { key: item.key, label: item.label, actions: [] };
    current = entry;
    unexplained = [];
    try {
      await item.run(reconcileContext(ctx, ctx.signal, logger));
    } catch (e) {
      // A terminal error is the reconciler's verdict on a record (its error status is among the
      // actions); anything else means this key could not be looked at.
      if (!(e instanceof TerminalError)) {
        entry.error = redactor.redact(errorMessage(e));
        errors++;
      }
    }
    if (entry.actions.length > 0 || entry.error !== undefined) entries.push(entry);
  }
  current = undefined;

  const changes = entries.reduce((n, e) => n + e.actions.length, 0);
  return {
    at,
    entries,
    changes,
    orphans: drift.orphans,
    guard: refusal ? { allowed: false, guard: refusal.guard, message: refusal.message } : { allowed: true },
    errors,
    pending: changes > 0 || (refusal !== undefined && drift.orphans.length > 0),
  };
}

function describeWrite(w: CoolifyWrite): string {
  const what = w.name ? ` ${w.name}` : '';
  switch (w.op) {
    case 'update_service':
      return `update service${what}`;
    case 'set_env':
      return `set env vars of service${what}`;
    default:
      return `${w.op.replace('_', ' ')}${what}`;
  }
}

function show(field: string, value: unknown): string {
  if (value === null || value === undefined || value === '') return '(empty)';
  if (DATE_FIELDS.has(field) && typeof value === 'number') return new Date(value).toISOString();
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function bySlug(a: Tenant, b: Tenant): number {
  return a.slug.localeCompare(b.slug) || a.id.localeCompare(b.id);
}

function byName(tenants: Map<string, Tenant>) {
  return (a: Stack, b: Stack) =>
    (tenants.get(a.tenantId)?.slug ?? '').localeCompare(tenants.get(b.tenantId)?.slug ?? '') || a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}
