/**
 * The stack reconciler: makes one Coolify service match one `stacks` record. Level-triggered: it
 * re-reads the stack, its tenant and plan from PocketBase and the service from Coolify on every
 * run, and acts only on the difference. Daemon fields in the record are treated as a cache; what
 * Coolify holds (uuid, marker, delete-after token) wins over a stale copy.
 */
import { TerminalError } from '../src/errors.js';
import { humanMs } from '../src/engine/corrections.js';
import { RetryAfterError } from '../src/queue/queue-errors.js';
import { CoolifyError } from '../src/coolify/errors.js';
import { formatServiceMarker, parseMarker, withMarkerTokens } from '../src/coolify/markers.js';
import type { CoolifyService, CoolifyServiceApplication, CoolifyServiceDetail, CoolifyUrl, UpdateServiceInput } from '../src/coolify/types.js';
import type { ReconcileKey, Stack, StackStatusPatch, Tenant } from '../src/pocketbase/types.js';
import type { StackApply } from '../src/templates/types.js';
import type { EngineContext } from '../src/engine/context.js';
import { trackRecordSecrets } from '../src/engine/policy.js';
import { peerIndex, stackHostInputs, tenantHostInputs } from '../src/engine/peer-listing.js';
import { findStackService, observeStackService, projectBelongsTo, type ObservedService, type ServiceLookup } from './coolify-lookup.js';
import { holdApply, releaseHold } from './coalesce.js';
import { envDifferences } from '../src/engine/env-check.js';
import { raceAbort } from '../src/engine/abortable-coolify.js';
import type { CoolifyEnvVar } from '../src/coolify/types.js';
import { DELETE_AFTER, DELETE_SEEN, ORPHANED_AT, isoTime, readTimeToken } from './description-tokens.js';
import { MANAGED_ENV_VAR, managedEnvValue, readManagedEnv } from './managed-env.js';
import { MAX_WAIT_MS, forgetService, requestDelete, requestDeploy, requestStart, requestStop } from './lifecycle.js';
import { reconcileOrphan } from './orphans.js';
import { isPaused, noteUnpaused, observePausedStack } from './pause.js';
import { isRejection, isRejectionMessage, refuse, rejectionMessage } from './refusal.js';
import { expectedServiceDescription, restartIfRequested } from './restart.js';
import { deletionRetention } from './retention.js';
import { tenantDeletionNotBefore } from './tenant-deadline.js';
import { type Desire, mayBeRunning, parseRunState, runningStatus, stoppedStatus } from './status-map.js';
import { writeStack } from './status-write.js';

export type StackResult = { requeueAfterMs?: number } | void;

export function stackKey(id: string): ReconcileKey {
  return `stack:${id}`;
}

export function serviceName(tenant: Tenant, stack: Stack): string {
  return `${tenant.slug}-${stack.name}`;
}

export function effectiveDesire(tenant: Tenant, stack: Stack): Desire {
  if (tenant.status === 'deleted' || stack.desiredStatus === 'deleted') return 'delete';
  if (tenant.status === 'suspended') return 'suspend';
  if (stack.desiredStatus === 'stopped') return 'stop';
  return 'run';
}

export async function reconcileStack(ctx: EngineContext, stackId: string): Promise<StackResult> {
  const stack = await ctx.store.getStack(stackId);
  if (!stack) {
    ctx.memory.rejected.delete(stackId);
    return reconcileOrphan(ctx, stackId);
  }
  const tenant = await ctx.store.getTenant(stack.tenantId);
  if (!tenant) {
    const message = stack.tenantId ? `tenant ${stack.tenantId} does not exist` : `the stack record is malformed: ${stack.problems.join('; ')}`;
    await writeStack(ctx, stack, { status: 'error', statusMessage: message });
    throw new TerminalError(`stack ${stack.id}: ${message}`);
  }
  trackRecordSecrets(ctx.redactor, ctx.policy, tenant, stack);
  if (isPaused(tenant, stack)) return observePausedStack(ctx, tenant, stack);
  await noteUnpaused(ctx, stackKey(stack.id), stack.statusMessage);
  const desire = effectiveDesire(tenant, stack);
  if (desire === 'delete') {
    ctx.memory.rejected.delete(stack.id);
    return deleteStack(ctx, tenant, stack);
  }
  return convergeStack(ctx, tenant, stack, desire);
}

/**
 * Why a stack cannot be decided when its tenant's plan cannot be read: a tenant record the daemon
 * cannot act on (no plan set, e.g. after installing into an existing database) says so first.
 */
export function missingPlanMessage(tenant: Tenant): string {
  if (tenant.problems.length > 0) return `the tenant record is malformed: ${tenant.problems.join('; ')}`;
  return `plan ${tenant.planId} of tenant ${tenant.slug} does not exist`;
}

export function foreignServiceMessage(uuid: string): string {
  return `service ${uuid} is not managed by cf-reconciler`;
}

function refuseStack(ctx: EngineContext, stack: Stack, message: string, uuid: string, audit = true): Promise<never> {
  return refuse(ctx, {
    key: stackKey(stack.id),
    current: { status: stack.status, message: stack.statusMessage },
    message,
    uuid,
    audit,
    writeError: (statusMessage) => writeStack(ctx, stack, { status: 'error', statusMessage }),
  });
}

function refuseForeign(ctx: EngineContext, stack: Stack, uuid: string): Promise<never> {
  return refuseStack(ctx, stack, foreignServiceMessage(uuid), uuid);
}

/**
 * The stack's service carries another tenant's marker: an admin changed the stack's `tenant_id`.
 * The service sits in the other tenant's project with that tenant's router key; re-marking it or
 * giving it this tenant's key would mix two tenants in one project, so nothing is touched.
 */
export function movedTenantMessage(uuid: string, markedTenantId: string): string {
  return `service ${uuid} belongs to tenant ${markedTenantId} (its marker and project), not to this stack's tenant; the daemon does not move services between tenants: set tenant_id back to ${markedTenantId}, or create a new stack under the new tenant`;
}

/** The tenant id in the service's marker when it is not `tenant`'s, else undefined. */
export function otherTenantOf(service: { description: string }, tenant: Tenant): string | undefined {
  const marked = parseMarker(service.description)?.tenantId;
  return marked !== undefined && marked !== tenant.id ? marked : undefined;
}

export function movedProjectMessage(uuid: string, projectUuid: string): string {
  return `service ${uuid} is not in the tenant's project ${projectUuid} (the stack's tenant_id was changed?); the daemon does not move services between tenants: set tenant_id back, or create a new stack under this tenant`;
}

/** True when the tenant's project is readable and none of its environments holds the service. */
async function projectOfOtherTenant(ctx: EngineContext, tenant: Tenant, service: ObservedService): Promise<boolean> {
  if (!tenant.coolifyProjectUuid || service.environmentId === 0) return false;
  // The shared view already mapped the service's environment to its project.
  if (service.projectUuid !== undefined) return service.projectUuid !== tenant.coolifyProjectUuid;
  try {
    const project = await ctx.coolify.getProject(tenant.coolifyProjectUuid);
    return !project.environments.some((e) => e.id === service.environmentId);
  } catch (e) {
    // A missing project is the tenant reconciler's to recreate; it says nothing about this service.
    if (e instanceof CoolifyError && e.kind === 'not_found') return false;
    throw e;
  }
}

export function foreignProjectMessage(uuid: string): string {
  return `the tenant's project ${uuid} is not managed by cf-reconciler (it lacks the tenant's marker); fix the tenant's coolify_project_uuid`;
}

/** The fields host ownership is computed from are the same in both copies of a stack and its tenant. */
function sameHostInputs(a: { tenant: Tenant; stack: Stack } | undefined, b: { tenant: Tenant; stack: Stack }): boolean {
  if (!a) return false;
  return stackHostInputs(a.stack) === stackHostInputs(b.stack) && tenantHostInputs(a.tenant) === tenantHostInputs(b.tenant);
}

async function decide(ctx: EngineContext, tenant: Tenant, stack: Stack) {
  const plan = await ctx.store.getPlan(tenant.planId);
  if (!plan) return { kind: 'error' as const, message: missingPlanMessage(tenant) };
  const peers = await ctx.peers(stack.id);
  const index = peerIndex(peers);
  const listed = index.stack(stack.id);
  const listedTenant = listed ? index.tenant(listed.tenantId) : undefined;
  // The freshly read records win over the listing (they may be a few ms newer).
  const tenantOf = (id: string) => (id === tenant.id ? tenant : index.tenant(id));
  // Host ownership over every stack is computed once per listing, not once per reconcile (at
  // 10,000 stacks that is most of a reconcile's CPU), and reused while this stack's and its
  // tenant's host inputs are as listed; a changed stack gets its own computation.
  const hostOwners = () => {
    const entries: { tenant: Tenant; stack: Stack }[] = [];
    for (const s of peers.stacks) {
      const t = s.id === stack.id ? undefined : tenantOf(s.tenantId);
      if (t) entries.push({ tenant: t, stack: s });
    }
    const own = tenantOf(stack.tenantId);
    if (own) entries.push({ tenant: own, stack });
    return ctx.policy.hostOwners(entries);
  };
  const reuse = sameHostInputs(listed && listedTenant ? { tenant: listedTenant, stack: listed } : undefined, { tenant, stack });
  if (reuse) peers.hostOwners ??= hostOwners();
  const others = index.stacksOf(tenant.id).filter((s) => s.id !== stack.id);
  return ctx.policy.decide({
    tenant,
    plan,
    stack,
    tenantStacks: stack.tenantId === tenant.id ? [...others, stack] : others,
    hostOwners: reuse && peers.hostOwners ? peers.hostOwners : hostOwners(),
    routerBaseUrl: ctx.settings.routerBaseUrl,
  });
}

/** Coolify's own words in an error answer (`message`), or the error's message. */
function coolifyMessage(e: CoolifyError): string {
  const body = e.body as { message?: unknown } | undefined;
  return typeof body?.message === 'string' ? body.message : e.message;
}

function normaliseUrls(list: string | null | undefined): string {
  return (list ?? '')
    .split(',')
    .map((u) => u.trim().toLowerCase())
    .filter((u) => u !== '')
    .sort()
    .join(',');
}

/** True when an ingress service's public URLs in Coolify differ from the decision's. */
export function urlsDiffer(want: CoolifyUrl[], apps: CoolifyServiceApplication[]): boolean {
  return want.some((w) => {
    const app = apps.find((a) => a.name === w.name);
    return !app || normaliseUrls(app.fqdn) !== normaliseUrls(w.url);
  });
}

async function convergeStack(ctx: EngineContext, tenant: Tenant, stack: Stack, desire: Exclude<Desire, 'delete'>): Promise<StackResult> {
  const key = stackKey(stack.id);
  const poll = { requeueAfterMs: ctx.settings.statusPollMs };
  const decision = await decide(ctx, tenant, stack);
  // An edit (the record asks for something not applied yet) of a settled stack may read its one service.
  const edited = decision.kind === 'apply' && decision.hash !== stack.appliedHash;
  // Looked up before anything can return early: a cancelled deletion's deadline must leave the
  // service whatever else is wrong with the stack, or a later deletion would find it already past.
  const lookup = await lookupService(ctx, stack, true, edited);
  if (lookup.kind === 'found') {
    const other = otherTenantOf(lookup.service, tenant);
    if (other !== undefined) return refuseStack(ctx, stack, movedTenantMessage(lookup.service.uuid, other), lookup.service.uuid);
    await cancelDeletion(ctx, key, lookup.service);
  }
  if (decision.kind === 'error') {
    await writeStack(ctx, stack, { status: 'error', statusMessage: decision.message, deleteAfter: null });
    throw new TerminalError(`stack ${stack.id}: ${ctx.redactor.redact(decision.message)}`);
  }
  for (const v of decision.env) if (v.secret) ctx.redactor.track(v.value);
  // The reads above may have taken the run's whole budget; Coolify is not touched after an abort.
  ctx.signal.throwIfAborted();

  // Only a create needs the tenant's project; a service that exists is adopted and converged
  // without waiting for the tenant (a restored PocketBase has no project uuids yet).
  if (!tenant.coolifyProjectUuid && lookup.kind !== 'found') {
    ctx.enqueue(`tenant:${tenant.id}`, 'high');
    const why = tenant.syncStatus === 'error' ? `tenant problem: ${tenant.syncMessage}` : "waiting for the tenant's Coolify project";
    await writeStack(ctx, stack, { status: 'pending', statusMessage: why });
    return poll;
  }
  if (lookup.kind === 'foreign') return refuseForeign(ctx, stack, lookup.uuid);

  let service: ObservedService;
  let changed: 'created' | 'applied' | 'recorded' | 'none';
  let duplicateWait: number | undefined;
  if (lookup.kind === 'none') {
    // A create whose answer was lost may still show up: no second one within the grace period.
    const pending = await ctx.intents.waitMs(key);
    if (pending) {
      await writeStack(ctx, stack, {
        status: 'deploying',
        statusMessage: `the create sent at ${isoTime(pending.sentAt)} got no answer; waiting for Coolify to show the service before creating it again`,
      });
      return { requeueAfterMs: Math.min(ctx.settings.statusPollMs, pending.waitMs) };
    }
    const created = await createService(ctx, tenant, stack, decision);
    if (!created) return poll;
    service = created;
    changed = 'created';
  } else {
    service = lookup.service;
    // Found by its marker: a create whose answer was lost has its result now.
    if (ctx.intents.pendingInMemory(key)) await ctx.intents.end(key);
    if (lookup.adopted && stack.coolifyServiceUuid !== service.uuid) {
      await ctx.audit.record(key, 'adopt', 'ok', `adopted service ${service.uuid} found by its marker`, service.uuid);
    }
    duplicateWait = await retireDuplicates(ctx, stack, service.uuid, lookup.duplicates);
    // The same request Coolify already refused is not sent again by a stray run (a poll timer left
    // by a hold); the record waits for a change, as the drift resync does.
    if (ctx.memory.rejected.get(stack.id) === decision.hash && stack.status === 'error' && isRejectionMessage(stack.statusMessage)) return;
    // A change that would redeploy a service deployed moments ago waits for its burst to end.
    if (desire === 'run' && decision.hash !== stack.appliedHash) {
      const hold = holdApply(ctx, stack, service.uuid);
      if (hold > 0) return { requeueAfterMs: hold };
    }
    changed = await applyIfNeeded(ctx, tenant, stack, decision, service);
    if (changed !== 'none') releaseHold(ctx, stack.id);
  }
  ctx.memory.rejected.delete(stack.id);
  let deployed = false;
  if (desire === 'run' && (changed === 'created' || changed === 'applied')) {
    await requestDeploy(ctx, key, service.uuid, changed === 'created' ? 'new service' : 'configuration changed');
    deployed = true;
  }
  // One write at the end of the pass (each write is a realtime event for every subscriber).
  const applied: StackStatusPatch = { coolifyServiceUuid: service.uuid };
  if (changed !== 'none') Object.assign(applied, { appliedHash: decision.hash, templateVersion: decision.templateVersion });
  const restarting = await restartIfRequested(ctx, stack, service, desire, deployed, applied);
  if (restarting) return restarting;
  const result = await settleRunState(ctx, stack, service, desire, deployed, applied);
  if (duplicateWait === undefined) return result;
  return { requeueAfterMs: Math.min(result?.requeueAfterMs ?? Infinity, duplicateWait) };
}

/**
 * The stack's service. Duplicates (more than one service with its marker) are only seen when the
 * services are listed: after a marker lookup, or while this process knows the stack had some.
 * `observe`: answered from the shared view when it can be (status polls, marker lookups before a
 * create, adoption, resync work, anything while the view is fresh); a deletion always reads the
 * service it acts on. When the view is not fresh, a stack with a recorded uuid reads its one
 * service instead of waiting for a list of every service (25 MB at 10,000 stacks) if it was
 * `edited` (the record asks for a change not applied yet; the service's detail is read for its
 * public URLs anyway) while settled, or if no other stack asked within the poll interval (a lone
 * status poll after one edit's deploy).
 */
async function lookupService(ctx: EngineContext, stack: Stack, observe = false, edited = false): Promise<ServiceLookup> {
  const view = ctx.view;
  const duplicates = ctx.memory.duplicates.has(stack.id);
  if (observe && view && !duplicates) {
    const poll = ctx.settings.statusPollMs;
    const watchers = view.noteWatcher(stack.id, poll);
    const uuid = stack.coolifyServiceUuid;
    const direct = uuid !== '' && ((edited && !watching(ctx, stack)) || watchers <= LONE_WATCHERS) && !view.hasFreshFor(stack.id, uuid, poll);
    if (!direct) {
      // A pass the view is waiting on does not outlive the reconcile's own deadline.
      return raceAbort(ctx.signal, () => observeStackService(view, ctx.coolify, stack.id, stack.coolifyServiceUuid, ctx.settings.statusPollMs));
    }
  }
  const lookup = await findStackService(ctx.coolify, stack.id, stack.coolifyServiceUuid, duplicates);
  // Environments never move between projects: the view knows the project of one it has seen.
  if (lookup.kind === 'found' && view) lookup.service.projectUuid ??= view.projectOfEnvironment(lookup.service.environmentId);
  return lookup;
}

/**
 * The stack is one of possibly many whose service is being watched (it has none recorded yet, its
 * status is in transition, or this daemon started or stopped it within the lifecycle grace), so
 * one shared list call per poll interval is the cheap way to see it. A settled stack (typically
 * one an admin just edited) reads its one service when the shared view is not fresh: at 10,000
 * stacks a list is 25 MB of JSON, and one edit must not wait for it.
 */
function watching(ctx: EngineContext, stack: Stack): boolean {
  if (!stack.coolifyServiceUuid || !SETTLED.has(stack.status)) return true;
  const last = ctx.memory.lifecycle.get(stack.coolifyServiceUuid);
  return last !== undefined && ctx.clock.now() - last.at < ctx.settings.lifecycleGraceMs;
}

/**
 * Up to this many stacks asking to see their service within one poll interval each read their own
 * (a GET each, where one list would serve them all). One: a lone watcher's GET costs the rate
 * limit what a list costs, without a list of every service to send and parse; two GETs would cost
 * twice a list's calls, which a cold start at a binding rate limit cannot spare.
 */
const LONE_WATCHERS = 1;

/** Stack statuses that wait for nothing in Coolify. */
const SETTLED: ReadonlySet<Stack['status']> = new Set<Stack['status']>(['running', 'degraded', 'stopped', 'suspended', 'error']);

/**
 * Desire is not delete: a `delete-after` (a cancelled deletion) or `orphaned-at` (the record came
 * back) token left on the service is removed, so no later deletion inherits its deadline.
 */
async function cancelDeletion(ctx: EngineContext, key: ReconcileKey, service: CoolifyServiceDetail): Promise<void> {
  const extra = parseMarker(service.description)?.extra ?? {};
  const stale = [DELETE_AFTER, DELETE_SEEN, ORPHANED_AT].filter((t) => Object.hasOwn(extra, t));
  if (stale.length === 0) return;
  const description = withMarkerTokens(service.description, Object.fromEntries(stale.map((t) => [t, undefined])));
  const what = stale.map((t) => `${t}=${extra[t] ?? ''}`).join(', ');
  await ctx.audit.write(key, 'cancel_delete', service.uuid, `deletion cancelled; removed ${what} from the service`, () =>
    ctx.coolify.updateService(service.uuid, { description }),
  );
  service.description = description;
}

/**
 * Other services carrying this stack's marker are treated like orphans, never deleted at once
 * (one of them may hold the data): stopped now, marked `orphaned-at`, and deleted when the
 * retention has passed. Returns how long until the next one is due (ms), or undefined when none.
 */
async function retireDuplicates(ctx: EngineContext, stack: Stack, keeper: string, duplicates: CoolifyService[]): Promise<number | undefined> {
  const key = stackKey(stack.id);
  if (duplicates.length === 0) {
    ctx.memory.duplicates.delete(stack.id);
    return undefined;
  }
  ctx.memory.duplicates.add(stack.id);
  const now = ctx.clock.now();
  let wait = MAX_WAIT_MS;
  for (const dup of duplicates) {
    let markedAt = readTimeToken(dup.description, ORPHANED_AT);
    if (markedAt === undefined) {
      markedAt = now;
      const description = withMarkerTokens(dup.description, { [DELETE_AFTER]: undefined, [DELETE_SEEN]: undefined, [ORPHANED_AT]: isoTime(now) });
      await ctx.audit.write(key, 'duplicate', dup.uuid, `service is a duplicate of ${keeper}; stopped and marked, deleted after the retention`, () =>
        ctx.coolify.updateService(dup.uuid, { description }),
      );
    }
    if (mayBeRunning(parseRunState(dup.status)) && !ctx.memory.deleteRequestedAt.has(dup.uuid)) {
      await requestStop(ctx, key, dup.uuid, `duplicate of ${keeper}`);
    }
    const due = markedAt + ctx.settings.deleteRetentionMs;
    if (now >= due) {
      await requestDelete(ctx, key, dup.uuid, `duplicate of ${keeper}; retention passed`);
      wait = Math.min(wait, ctx.settings.statusPollMs);
    } else {
      wait = Math.min(wait, due - now);
    }
  }
  return wait;
}

async function createService(ctx: EngineContext, tenant: Tenant, stack: Stack, decision: StackApply): Promise<CoolifyServiceDetail | null> {
  const key = stackKey(stack.id);
  const serverUuid = tenant.coolifyServerUuid || ctx.settings.defaultServerUuid;
  const name = serviceName(tenant, stack);
  const description = formatServiceMarker({ stackId: stack.id, tenantId: tenant.id });
  // A create Coolify keeps refusing the same way (a server that does not exist) is held back
  // after the third try instead of being sent every backoff step (SPEC §3).
  const fingerprint = `create_service ${decision.hash} server=${serverUuid}`;
  const hold = ctx.corrections.check(key, fingerprint);
  if (hold) throw new RetryAfterError(`stack ${stack.id}: create held back after ${hold.sent} failed tries`, hold.retryInMs);
  if (!(await verifyProject(ctx, tenant, stack))) return null;
  let uuid: string;
  const sent = ctx.corrections.record(key, fingerprint);
  // Recorded before it is sent (Crossplane's create-pending): if the answer is lost, the next
  // runs wait for the service to show up instead of creating a second one.
  await ctx.intents.begin(key);
  try {
    ({ uuid } = await ctx.audit.write(key, 'create_service', (r) => r.uuid, `created service ${name}`, () =>
      ctx.coolify.createService({
        name,
        description,
        projectUuid: tenant.coolifyProjectUuid,
        environmentName: ctx.settings.environment,
        serverUuid,
        destinationUuid: serverUuid === ctx.settings.defaultServerUuid ? ctx.settings.destinationUuid : undefined,
        composeYaml: decision.composeYaml,
        urls: decision.urls,
        instantDeploy: false,
      }),
    ));
  } catch (e) {
    // Any answer says how the create went; no answer (a timeout, a reset, an abort) leaves it unknown.
    if (e instanceof CoolifyError && e.status !== undefined) await ctx.intents.end(key);
    if (e instanceof CoolifyError && e.kind === 'not_found') {
      // The project was just read, so the server (a typo in coolify_server_uuid or
      // COOLIFY_SERVER_UUID) or the environment is missing. Either way this key failed: it backs
      // off, and its tenant (which creates environments) is asked for through the rate-limited
      // path, so the two never spin on each other.
      if (/server/i.test(coolifyMessage(e))) {
        const source = tenant.coolifyServerUuid ? "the tenant's coolify_server_uuid" : 'COOLIFY_SERVER_UUID';
        const held = ctx.corrections.holdMs(sent);
        const retry = held > 0 ? `tried ${sent} times, next try in ${humanMs(held)}` : 'retried with backoff meanwhile';
        const message = `Coolify has no server ${serverUuid} (from ${source}); fix it (${retry})`;
        await writeStack(ctx, stack, { status: 'error', statusMessage: message });
        if (held > 0) throw new RetryAfterError(`stack ${stack.id}: ${message}`, held);
        throw new Error(`stack ${stack.id}: ${message}`, { cause: e });
      }
      // The shared view's listing of the tenant's project is not to be trusted until the next pass.
      ctx.view?.forgetProjects(tenant.id);
      ctx.enqueue(`tenant:${tenant.id}`, 'high');
      await writeStack(ctx, stack, { status: 'pending', statusMessage: `cannot create the service yet: ${e.message}` });
      throw new Error(`stack ${stack.id}: cannot create the service yet: ${e.message}`, { cause: e });
    }
    // The failed create is already in the audit trail; the record waits for a change.
    if (isRejection(e)) {
      ctx.memory.rejected.set(stack.id, decision.hash);
      return refuseStack(ctx, stack, rejectionMessage('service', e), '', false);
    }
    throw e;
  }
  ctx.corrections.reset(key);
  // Record the uuid at once: a crash before this line is healed by adoption (marker lookup).
  await writeStack(ctx, stack, { coolifyServiceUuid: uuid });
  await ctx.intents.end(key);
  // A service just made holds none of our env vars: nothing to read before setting them.
  await setEnv(ctx, stack, uuid, decision, []);
  // What Coolify holds now is what was just sent; its status shows in the shared view's next pass.
  return { uuid, name, description, environmentId: 0, status: 'exited', dockerComposeRaw: decision.composeYaml, applications: [] };
}

/**
 * The tenant's stored project must carry the tenant's marker before a service is created in it:
 * the field is admin-writable, and a stale save or a hand edit may point it at a foreign project.
 * Only checked before a create (the one write that goes into the project), so once per pass.
 * Returns false (stack left pending) when the project is gone and the tenant must recreate it.
 */
async function verifyProject(ctx: EngineContext, tenant: Tenant, stack: Stack): Promise<boolean> {
  const uuid = tenant.coolifyProjectUuid;
  // Listed with the tenant's marker in the shared view: verified without a GET.
  if (ctx.view?.projectsOf(tenant.id).some((p) => p.uuid === uuid)) return true;
  try {
    const project = await ctx.coolify.getProject(uuid);
    if (!projectBelongsTo(project.description, tenant.id)) return refuseStack(ctx, stack, foreignProjectMessage(uuid), uuid);
    ctx.view?.rememberProject(tenant.id, project);
    return true;
  } catch (e) {
    if (!(e instanceof CoolifyError && e.kind === 'not_found')) throw e;
    ctx.enqueue(`tenant:${tenant.id}`, 'high');
    await writeStack(ctx, stack, { status: 'pending', statusMessage: `waiting for the tenant's Coolify project (${uuid} not found)` });
    return false;
  }
}

/**
 * Sets the decision's env vars and deletes the ones the daemon set before that the decision no
 * longer has (a secret param removed, a template dropping a variable). The keys the daemon set
 * are listed in the service's own MANAGED_ENV_VAR (see managed-env.ts), widened in the same bulk
 * call that sets the vars and narrowed only after the deletes, so a crash in between never
 * forgets a key it set; a var never listed there (added by hand in Coolify) is never deleted.
 */
async function setEnv(ctx: EngineContext, stack: Stack, uuid: string, decision: StackApply, read?: CoolifyEnvVar[]): Promise<void> {
  const key = stackKey(stack.id);
  const current = read ?? (await ctx.coolify.listServiceEnvs(uuid));
  const managed = readManagedEnv(current);
  const wanted = decision.env.map((v) => v.key);
  const vars = decision.env.map(({ key: k, value }) => ({ key: k, value }));
  vars.push({ key: MANAGED_ENV_VAR, value: managedEnvValue([...managed, ...wanted]) });
  await ctx.audit.write(key, 'set_env', uuid, `set ${decision.env.length} env vars`, () => ctx.coolify.upsertServiceEnvs(uuid, vars));
  const gone = new Set(managed.filter((k) => !wanted.includes(k)));
  if (gone.size > 0) {
    for (const e of current.filter((v) => gone.has(v.key) && !v.isCoolify)) {
      await ctx.audit.write(key, 'delete_env', uuid, `deleted env var ${e.key} (no longer part of the stack)`, () =>
        ctx.coolify.deleteServiceEnv(uuid, e.uuid),
      );
    }
    await ctx.coolify.upsertServiceEnvs(uuid, [{ key: MANAGED_ENV_VAR, value: managedEnvValue(wanted) }]);
  }
  ctx.memory.envDrift.delete(stack.id);
}

/** The env vars the decision sets (and the managed-keys list) differ from what Coolify holds. */
function envNeedsWrite(decision: StackApply, current: CoolifyEnvVar[]): boolean {
  const wanted = managedEnvValue(decision.env.map((v) => v.key));
  return envDifferences(decision.env, current).length > 0 || managedEnvValue(readManagedEnv(current)) !== wanted || !current.some((v) => v.key === MANAGED_ENV_VAR);
}

/**
 * Makes the service match the decision, writing only what differs from what Coolify holds: the
 * recorded hash only says that something may have changed. A restored PocketBase (no hash), a
 * stale applied_hash or a change that renders the same costs one env read and no write
 * ('recorded': the hash is recorded, nothing deployed). Compose and public URLs are PATCHed when
 * they differ, env vars set when they differ ('applied': a deploy follows); 'none' otherwise.
 */
async function applyIfNeeded(
  ctx: EngineContext,
  tenant: Tenant,
  stack: Stack,
  decision: StackApply,
  observed: ObservedService,
): Promise<'applied' | 'recorded' | 'none'> {
  const key = stackKey(stack.id);
  const hashDiffers = decision.hash !== stack.appliedHash;
  let service = observed;
  // Public URLs are only in a service's detail: read when they may differ and the view cannot say.
  if (service.fromView && hashDiffers && decision.urls.length > 0) {
    const detail = await ctx.coolify.getService(service.uuid).catch(() => null);
    if (detail) service = { ...detail, projectUuid: observed.projectUuid };
  }
  const reasons: string[] = [];
  const composeDiffers =
    service.dockerComposeRaw !== undefined
      ? !ctx.policy.composeEquals(decision.composeYaml, service.dockerComposeRaw)
      : service.composeDigest !== undefined
        ? ctx.policy.composeDigest(decision.composeYaml) !== service.composeDigest
        : hashDiffers;
  if (composeDiffers) reasons.push(hashDiffers ? (stack.appliedHash ? 'stack or template changed' : 'first apply') : 'compose differs from Coolify');
  if (!service.fromView && urlsDiffer(decision.urls, service.applications)) reasons.push('public URLs differ');
  // Env vars: read once when they may differ (a change, an adoption, a check that found drift).
  const envDrift = ctx.memory.envDrift.has(stack.id);
  let current: CoolifyEnvVar[] | undefined;
  let envDiffers = false;
  if (hashDiffers || envDrift || reasons.length > 0) {
    current = await ctx.coolify.listServiceEnvs(service.uuid);
    envDiffers = envNeedsWrite(decision, current);
    if (envDiffers) reasons.push(envDrift ? 'env vars differ' : 'env vars changed');
  }
  if (!envDiffers) ctx.memory.envDrift.delete(stack.id);

  const update: UpdateServiceInput = {};
  const name = serviceName(tenant, stack);
  const description = expectedServiceDescription(tenant, stack, service.description);
  // A leftover delete-after or orphaned-at token means a deletion was cancelled or the stack came back.
  if (service.description !== description) update.description = description;
  if (service.name !== name) update.name = name;
  if (composeDiffers || reasons.includes('public URLs differ')) {
    update.composeYaml = decision.composeYaml;
    update.urls = decision.urls;
  }
  if (Object.keys(update).length > 0) {
    // A marker re-written to this tenant by an older version still leaves the service in the old
    // tenant's project; only a write is worth the extra read.
    const elsewhere = await projectOfOtherTenant(ctx, tenant, service);
    if (elsewhere) return refuseStack(ctx, stack, movedProjectMessage(service.uuid, tenant.coolifyProjectUuid), service.uuid);
    const what = reasons.length > 0 ? reasons.join(', ') : update.description !== undefined ? 'marker restored' : 'name changed';
    try {
      await ctx.audit.write(key, 'update_service', service.uuid, `updated service (${what})`, () =>
        ctx.coolify.updateService(service.uuid, update),
      );
    } catch (e) {
      // Coolify may keep part of a rejected PATCH (the compose is saved before the urls are
      // checked), so the record waits for a change rather than repeating the same request.
      if (isRejection(e)) {
        ctx.memory.rejected.set(stack.id, decision.hash);
        return refuseStack(ctx, stack, rejectionMessage('update of the service', e), service.uuid, false);
      }
      throw e;
    }
    observed.description = update.description ?? observed.description;
  }
  if (reasons.length > 0) {
    if (envDiffers) await setEnv(ctx, stack, service.uuid, decision, current);
    return 'applied';
  }
  return hashDiffers ? 'recorded' : 'none';
}

async function settleRunState(
  ctx: EngineContext,
  stack: Stack,
  service: CoolifyServiceDetail,
  desire: Exclude<Desire, 'delete'>,
  deployed: boolean,
  applied: StackStatusPatch,
): Promise<StackResult> {
  const key = stackKey(stack.id);
  const poll = { requeueAfterMs: ctx.settings.statusPollMs };
  const state = parseRunState(service.status);
  // A running or stopped stack has no pending deletion: a stale delete_after is cleared.
  const write = (patch: StackStatusPatch) => writeStack(ctx, stack, { ...applied, ...patch, deleteAfter: null });
  if (desire === 'run') {
    if (deployed) {
      await write({ status: 'deploying', statusMessage: 'deploying the new configuration' });
      return poll;
    }
    if (state === 'running' || state === 'degraded') {
      ctx.memory.lifecycle.delete(service.uuid);
      ctx.corrections.reset(key);
      const statusMessage = state === 'degraded' ? `Coolify reports ${service.status}: a container is unhealthy or restarting` : '';
      await write({ status: runningStatus(state), statusMessage });
      return;
    }
    if (state !== 'starting') {
      // The same start against the same observed state: after the third, held back (SPEC §3).
      const fingerprint = `start ${service.uuid} from ${state}`;
      const notTaking = (sent: number, waitMs: number) =>
        `Coolify does not start the service: started ${sent} times, it still reports ${service.status || 'no status'}; ` +
        `check its logs in Coolify (next try in ${humanMs(waitMs)})`;
      const hold = ctx.corrections.check(key, fingerprint);
      if (hold) {
        await write({ status: 'error', statusMessage: notTaking(hold.sent, hold.retryInMs) });
        throw new RetryAfterError(`stack ${stack.id}: ${notTaking(hold.sent, hold.retryInMs)}`, hold.retryInMs);
      }
      const asked = await requestStart(ctx, key, service.uuid, state === 'exited' ? 'should run but is exited' : `status ${service.status}`);
      const sent = asked ? ctx.corrections.record(key, fingerprint) : ctx.corrections.sent(key, fingerprint);
      if (sent >= ctx.corrections.threshold) {
        await write({ status: 'error', statusMessage: notTaking(sent, ctx.corrections.holdMs(sent)) });
        return { requeueAfterMs: ctx.settings.lifecycleGraceMs };
      }
      await write({
        status: 'deploying',
        statusMessage: asked ? 'starting' : 'waiting for Coolify to report the service running',
      });
      return poll;
    }
    await write({ status: 'deploying', statusMessage: 'starting' });
    return poll;
  }
  const target = stoppedStatus(desire);
  if (!mayBeRunning(state)) {
    ctx.memory.lifecycle.delete(service.uuid);
    await write({ status: target, statusMessage: '' });
    return;
  }
  await requestStop(ctx, key, service.uuid, desire === 'suspend' ? 'tenant suspended' : 'desired status stopped');
  await write({ status: target, statusMessage: 'stopping' });
  return poll;
}

/**
 * True when the stack record was updated after the daemon's own last write during the deletion
 * whose deadline the service carries (or when that is unknown). The record may then have been set
 * back and deleted again while no reconcile looked (a daemon outage, a key waiting in backoff);
 * only its `updated` can tell, and an unrelated admin edit looks the same, so the retention
 * starts over in both cases: never shorter, at worst longer.
 */
function changedSinceSeen(stack: Stack, service: CoolifyServiceDetail): boolean {
  const seen = readTimeToken(service.description, DELETE_SEEN);
  return seen === undefined || stack.updated > seen;
}

/**
 * Deletion with retention. The deadline is kept on the service (a `delete-after` token in its
 * marker) before it is copied to PocketBase, so a stale admin save clearing delete_after can never
 * make the service go early; without a service, PocketBase's delete_after (recomputed if missing)
 * is all there is to lose, and the record is deleted when it passes.
 */
async function deleteStack(ctx: EngineContext, tenant: Tenant, stack: Stack): Promise<StackResult> {
  const key = stackKey(stack.id);
  const now = ctx.clock.now();
  const lookup = await lookupService(ctx, stack);
  if (lookup.kind === 'foreign') return refuseForeign(ctx, stack, lookup.uuid);

  if (lookup.kind === 'found') {
    const service = lookup.service;
    const other = otherTenantOf(service, tenant);
    if (other !== undefined) return refuseStack(ctx, stack, movedTenantMessage(service.uuid, other), service.uuid);
    const duplicateWait = await retireDuplicates(ctx, stack, service.uuid, lookup.duplicates);
    let deadline = readTimeToken(service.description, DELETE_AFTER);
    const restart = deadline !== undefined && !ctx.memory.deleteRequestedAt.has(service.uuid) && changedSinceSeen(stack, service);
    if (deadline === undefined || restart) {
      const retention = await deletionRetention(ctx, tenant);
      deadline = now + retention.ms;
      const description = withMarkerTokens(service.description, { [DELETE_AFTER]: isoTime(deadline), [DELETE_SEEN]: undefined });
      const why = restart ? 'deletion rescheduled (the record changed since the deadline was set; the retention starts over)' : 'deletion scheduled';
      await ctx.audit.write(key, 'schedule_delete', service.uuid, `${why} for ${isoTime(deadline)} (retention from ${retention.source})`, () =>
        ctx.coolify.updateService(service.uuid, { description }),
      );
      service.description = description;
    }
    // A tenant's deletion also waits for its own deadline, which a cancel and re-delete of the
    // tenant restarts even when the stack record never changed.
    if (tenant.status === 'deleted') deadline = Math.max(deadline, (await tenantDeletionNotBefore(ctx, tenant)) ?? deadline);
    const due = now >= deadline;
    if (mayBeRunning(parseRunState(service.status)) && !ctx.memory.deleteRequestedAt.has(service.uuid)) {
      await requestStop(ctx, key, service.uuid, 'deletion requested');
    }
    // A deletion Coolify does not carry out is asked for three times, then held back (SPEC §3).
    const fingerprint = `delete ${service.uuid}`;
    const hold = due ? ctx.corrections.check(key, fingerprint) : undefined;
    const notTaking = hold
      ? `Coolify does not delete the service: asked ${hold.sent} times, it is still there; next try in ${humanMs(hold.retryInMs)}`
      : undefined;
    await writeStack(ctx, stack, {
      status: notTaking ? 'error' : 'deleting',
      statusMessage: notTaking ?? (due ? 'deleting the Coolify service' : `stopped; the service will be deleted after ${isoTime(deadline)}`),
      deleteAfter: deadline,
      coolifyServiceUuid: service.uuid,
    });
    // The record as this daemon last left it, so a later change by anyone else is recognised.
    if (readTimeToken(service.description, DELETE_SEEN) !== stack.updated && stack.updated > 0) {
      const description = withMarkerTokens(service.description, { [DELETE_SEEN]: isoTime(stack.updated) });
      await ctx.coolify.updateService(service.uuid, { description });
      service.description = description;
    }
    if (hold) throw new RetryAfterError(`stack ${stack.id}: ${notTaking ?? ''}`, hold.retryInMs);
    if (due && (await requestDelete(ctx, key, service.uuid, 'retention passed'))) ctx.corrections.record(key, fingerprint);
    return { requeueAfterMs: Math.min(due ? ctx.settings.statusPollMs : deadline - now, duplicateWait ?? MAX_WAIT_MS, MAX_WAIT_MS) };
  }

  if (stack.coolifyServiceUuid) forgetService(ctx, stack.coolifyServiceUuid);
  const deadline = stack.deleteAfter ?? now + (await deletionRetention(ctx, tenant)).ms;
  if (now < deadline) {
    await writeStack(ctx, stack, {
      status: 'deleting',
      statusMessage: `no Coolify service; the record will be deleted after ${isoTime(deadline)}`,
      deleteAfter: deadline,
    });
    return { requeueAfterMs: Math.min(deadline - now, MAX_WAIT_MS) };
  }
  await ctx.store.deleteStack(stack.id);
  ctx.memory.envDrift.delete(stack.id);
  ctx.logger.info('stack record deleted', { subject: key });
  // The tenant may be waiting for its last stack to go before it deletes its project.
  ctx.enqueue(`tenant:${tenant.id}`, 'low');
  return;
}
