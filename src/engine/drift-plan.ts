/**
 * The drift comparison, pure: given one listing of each PocketBase collection and one Coolify
 * inventory, which keys differ from what they should be, which services are orphans, and whether
 * the orphan guard refuses. A converged system yields no keys, so a resync costs a constant number
 * of Coolify calls (the inventory's lists) and makes no writes.
 */
import { parseMarker } from '../coolify/markers.js';
import type { InventorySnapshot, ManagedService } from '../coolify/inventory.js';
import type { Plan, ReconcileKey, Stack, Tenant } from '../pocketbase/types.js';
import { DELETE_AFTER, DELETE_SEEN, ORPHANED_AT, readTimeToken } from '../../reconcilers/description-tokens.js';
import { pickKeeper } from '../../reconcilers/coolify-lookup.js';
import { isPaused, observedStatus, pausedStackMessage, pausedTenantMessage } from '../../reconcilers/pause.js';
import { isRejectionMessage } from '../../reconcilers/refusal.js';
import { expectedServiceDescription, restartDrift } from '../../reconcilers/restart.js';
import { effectiveDesire, foreignServiceMessage, missingPlanMessage, movedTenantMessage, otherTenantOf, serviceName } from '../../reconcilers/stack.js';
import { mayBeRunning, parseRunState, runningStatus, stoppedStatus } from '../../reconcilers/status-map.js';
import { DecisionCache } from './decision-cache.js';
import type { EnvFingerprint } from './env-check.js';
import type { PolicyPort } from './ports.js';
import { type Pause, timeSlicer } from './time-slice.js';

export interface DriftInput {
  plans: Plan[];
  tenants: Tenant[];
  stacks: Stack[];
  inventory: InventorySnapshot;
  policy: PolicyPort;
  /**
   * Decisions remembered from earlier resyncs (kept by the caller across them); without it every
   * stack is decided afresh. Entries of stacks not listed are dropped.
   */
  decisions?: DecisionCache;
  routerBaseUrl: string;
  deleteRetentionMs: number;
  /**
   * Orphans marked less than this long ago (ms) still count as new for the ratio guard. Marking is
   * an action, so it must not launder a burst of orphans into "old" ones: a burst of hand deletions
   * (or anything that marked services early) keeps the guard shut until the window has passed.
   * Default 0 (only unmarked orphans count).
   */
  orphanWindowMs?: number;
  /**
   * stack id → hash of the decision whose create or update Coolify last rejected (the engine's
   * memory). A stack still showing that rejection whose decision is the same would only send the
   * same refused request again, so it waits for a change instead of being retried every resync.
   */
  rejected?: ReadonlyMap<string, string>;
  /** Epoch ms. */
  now: number;
  /** Where the pass gives the event loop a turn; default a `timeSlicer()` of SLICE_MS. */
  pause?: Pause;
}

/** A service whose env vars the budgeted checker should compare with what they should be. */
export interface EnvTarget {
  stackId: string;
  serviceUuid: string;
  /** The desired env vars as digests (their values are not kept between resyncs). */
  env: EnvFingerprint;
}

export interface DriftPlan {
  /** Keys whose observed state differs from the expected one, with why (for debug logs). */
  keys: Map<ReconcileKey, string>;
  /** Orphan keys to act on (empty when the guard refuses). */
  orphanKeys: ReconcileKey[];
  /** Stack ids of every orphaned service group, acted on or not. */
  orphans: string[];
  /** Orphans not marked yet, or marked within `orphanWindowMs`: the ones "becoming" orphans now. */
  newOrphans: string[];
  /** Services carrying our stack marker. */
  managedServices: number;
  /**
   * Managed services not being retired: all but those marked `orphaned-at` (orphans and
   * duplicates) before the orphan window. The ratio guard judges new orphans against these, so a
   * crowd of services already retiring cannot dilute it.
   */
  liveServices: number;
  /** Which guard refuses to act on orphans and why, or undefined. */
  refusal: { guard: 'empty-stacks' | 'orphan-ratio'; message: string } | undefined;
  envTargets: EnvTarget[];
  /**
   * Ids of stacks (with a record) that have more than one service carrying their marker. Their
   * reconciles must list the services to see the extra ones, even when the stored uuid is intact.
   */
  duplicateStacks: string[];
}

/**
 * Async only to give the event loop a turn between stacks (`timeSlicer`): deciding 30,000 stacks
 * takes seconds of CPU. Nothing is awaited but those turns, so the result is the same as if it
 * ran at once on the input it was given.
 */
export async function planDrift(input: DriftInput): Promise<DriftPlan> {
  const { inventory, policy, now } = input;
  const pause = input.pause ?? timeSlicer();
  const decisions = input.decisions ?? new DecisionCache(policy);
  const keys = new Map<ReconcileKey, string>();
  const mark = (key: ReconcileKey, why: string) => {
    if (!keys.has(key)) keys.set(key, why);
  };
  const plansById = new Map(input.plans.map((p) => [p.id, p]));
  const tenantsById = new Map(input.tenants.map((t) => [t.id, t]));
  const servicesOfTenant = new Map<string, number>();
  for (const list of inventory.servicesByStack.values()) {
    for (const s of list) servicesOfTenant.set(s.marker.tenantId, (servicesOfTenant.get(s.marker.tenantId) ?? 0) + 1);
  }

  for (const t of input.tenants) {
    const key: ReconcileKey = `tenant:${t.id}`;
    const projects = inventory.projectsByTenant.get(t.id) ?? [];
    if (t.problems.length > 0) {
      if (t.syncStatus !== 'error') mark(key, 'malformed record');
      continue;
    }
    if (t.paused) {
      if (t.syncMessage !== pausedTenantMessage()) mark(key, 'paused, not shown yet');
      continue;
    }
    if (t.status === 'deleted') {
      if (projects.length > 0) mark(key, 'deleted tenant still has a project');
      else if (t.syncStatus !== 'deleted' && !(servicesOfTenant.get(t.id) ?? 0)) mark(key, 'sync status not deleted');
      continue;
    }
    const expected = t.status === 'suspended' ? 'suspended' : 'ready';
    if (projects.length !== 1) mark(key, projects.length === 0 ? 'project missing' : 'duplicate projects');
    else if (projects[0]?.uuid !== t.coolifyProjectUuid) mark(key, 'stored project uuid differs');
    else if (t.syncStatus !== expected) mark(key, `sync status ${t.syncStatus || 'empty'}, expected ${expected}`);
  }

  const entries = input.stacks.flatMap((s) => {
    const t = tenantsById.get(s.tenantId);
    return t ? [{ tenant: t, stack: s }] : [];
  });
  const hostOwners = policy.hostOwners(entries);
  // Grouped once: filtering every stack's peers out of all stacks made a resync O(stacks²).
  const stacksOfTenant = new Map<string, Stack[]>();
  for (const s of input.stacks) {
    const list = stacksOfTenant.get(s.tenantId);
    if (list) list.push(s);
    else stacksOfTenant.set(s.tenantId, [s]);
  }
  const envTargets: EnvTarget[] = [];
  const duplicateStacks: string[] = [];

  for (const stack of input.stacks) {
    const turn = pause();
    if (turn) await turn;
    const key: ReconcileKey = `stack:${stack.id}`;
    const tenant = tenantsById.get(stack.tenantId);
    if (!tenant) {
      if (stack.status !== 'error') mark(key, 'tenant missing');
      continue;
    }
    const services = inventory.servicesByStack.get(stack.id) ?? [];
    // The same choice the stack reconciler makes, so both compare against the same service.
    const service = pickKeeper(services, stack.coolifyServiceUuid);
    // Paused: only what the record shows may be corrected, never Coolify.
    if (isPaused(tenant, stack)) {
      if (stack.status !== observedStatus(service) || stack.statusMessage !== pausedStackMessage(tenant)) mark(key, 'paused, status not observed');
      continue;
    }
    // Refused (its stored uuid names a service that is not ours) and still so: a reconcile would
    // only refuse again. It runs again when the record changes.
    if (
      !service &&
      stack.coolifyServiceUuid &&
      stack.status === 'error' &&
      stack.statusMessage === foreignServiceMessage(stack.coolifyServiceUuid)
    ) {
      continue;
    }
    if (services.length > 1) {
      duplicateStacks.push(stack.id);
      const extra = services.filter((s) => s !== service);
      if (extra.some((s) => retirementDue(s, input.deleteRetentionMs, now))) mark(key, 'duplicate services');
    }
    // Refused because the stack was moved to another tenant, and still so: waits for a record change.
    const other = service ? otherTenantOf(service, tenant) : undefined;
    if (service && other !== undefined && stack.status === 'error' && stack.statusMessage === movedTenantMessage(service.uuid, other)) continue;
    const desire = effectiveDesire(tenant, stack);

    if (desire === 'delete') {
      if (!service) {
        if (stack.status !== 'deleting' || stack.deleteAfter === null || now >= stack.deleteAfter) mark(key, 'deletion pending');
        continue;
      }
      const deadline = readTimeToken(service.description, DELETE_AFTER);
      const seen = readTimeToken(service.description, DELETE_SEEN);
      if (deadline === undefined) mark(key, 'deletion not scheduled on the service');
      else if (now >= deadline) mark(key, 'deletion due');
      else if (seen === undefined || stack.updated > seen) mark(key, 'record changed since the deletion was scheduled');
      else if (mayBeRunning(parseRunState(service.status))) mark(key, 'deleting service still running');
      else if (stack.status !== 'deleting' || stack.deleteAfter !== deadline) mark(key, 'status not deleting');
      continue;
    }

    const plan = plansById.get(tenant.planId);
    const decision = plan
      ? decisions.decide({
          tenant,
          plan,
          stack,
          tenantStacks: stacksOfTenant.get(tenant.id) ?? [],
          hostOwners,
          routerBaseUrl: input.routerBaseUrl,
        })
      : { kind: 'error' as const, message: missingPlanMessage(tenant) };
    if (decision.kind === 'error') {
      // A cancelled deletion's deadline left on the service of an invalid stack would shorten a later
      // retention; the stack reconciler removes it before anything else, so drift must send it there.
      if (service && (readTimeToken(service.description, DELETE_AFTER) !== undefined || readTimeToken(service.description, ORPHANED_AT) !== undefined)) {
        mark(key, 'stale deletion token on an invalid stack');
      } else if (stack.status !== 'error' || stack.statusMessage !== decision.message) mark(key, 'invalid stack');
      continue;
    }
    if (stack.status === 'error' && isRejectionMessage(stack.statusMessage) && input.rejected?.get(stack.id) === decision.hash) continue;
    if (!service) {
      mark(key, 'service missing');
      continue;
    }
    envTargets.push({ stackId: stack.id, serviceUuid: service.uuid, env: decision.env });
    const why = serviceDrift(stack, tenant, service, decision.hash, decision.composeDigest) ?? restartDrift(stack, service.description);
    if (why) {
      mark(key, why);
      continue;
    }
    const state = parseRunState(service.status);
    if (desire === 'run') {
      if (state !== 'running' && state !== 'degraded') mark(key, `should run but is ${service.status}`);
      else if (stack.status !== runningStatus(state)) mark(key, `status ${stack.status || 'empty'} but service is ${service.status}`);
    } else if (mayBeRunning(state)) {
      mark(key, `should be stopped but is ${service.status}`);
    } else if (stack.status !== stoppedStatus(desire)) {
      mark(key, `status ${stack.status || 'empty'}, expected ${stoppedStatus(desire)}`);
    }
  }

  // Orphans: our services whose stack record is gone.
  const stackIds = new Set(input.stacks.map((s) => s.id));
  decisions.retain(stackIds);
  let managedServices = 0;
  let liveServices = 0;
  const window = input.orphanWindowMs ?? 0;
  const orphans: string[] = [];
  const newOrphans: string[] = [];
  const actionable: ReconcileKey[] = [];
  for (const [stackId, list] of inventory.servicesByStack) {
    managedServices += list.length;
    const marked = list.map((s) => readTimeToken(s.description, ORPHANED_AT));
    liveServices += marked.filter((t) => t === undefined || t > now - window).length;
    if (stackIds.has(stackId)) continue;
    orphans.push(stackId);
    if (marked.some((t) => t === undefined || t > now - window)) newOrphans.push(stackId);
    const needsWork = list.some((s) => retirementDue(s, input.deleteRetentionMs, now));
    if (needsWork) actionable.push(`stack:${stackId}`);
  }
  let refusal: DriftPlan['refusal'];
  if (input.stacks.length === 0 && managedServices > 0) {
    refusal = { guard: 'empty-stacks', message: `PocketBase returned no stacks while ${managedServices} managed services exist` };
  } else if (newOrphans.length * 5 > liveServices) {
    refusal = {
      guard: 'orphan-ratio',
      message: `${newOrphans.length} of ${liveServices} live managed services would become orphans in one resync (limit: a fifth; ${managedServices - liveServices} more are already being retired)`,
    };
  }
  return {
    keys,
    orphanKeys: refusal ? [] : actionable,
    orphans,
    newOrphans,
    managedServices,
    liveServices,
    refusal,
    envTargets,
    duplicateStacks,
  };
}

/**
 * A service being retired (orphan or duplicate) needs a reconcile when it is not marked yet, may
 * still run, or its retention (ms) has passed. Otherwise it just waits, and costs nothing.
 */
function retirementDue(service: ManagedService, retentionMs: number, now: number): boolean {
  const at = readTimeToken(service.description, ORPHANED_AT);
  return at === undefined || mayBeRunning(parseRunState(service.status)) || now >= at + retentionMs;
}

function serviceDrift(
  stack: Stack,
  tenant: Tenant,
  service: ManagedService,
  hash: string,
  composeDigest: string | undefined,
): string | undefined {
  if (service.uuid !== stack.coolifyServiceUuid) return 'stored service uuid differs';
  if (service.description !== expectedServiceDescription(tenant, stack, service.description)) {
    const extra = parseMarker(service.description)?.extra ?? {};
    return Object.keys(extra).length > 0 ? `marker carries ${Object.keys(extra).join(', ')}` : 'marker differs';
  }
  if (service.name !== serviceName(tenant, stack)) return 'service name differs';
  if (hash !== stack.appliedHash) return 'applied hash differs';
  if (service.composeDigest !== undefined && composeDigest !== service.composeDigest) {
    return 'compose edited in Coolify';
  }
  if (stack.deleteAfter !== null) return 'stale delete_after';
  return undefined;
}
