/**
 * The tenant reconciler: one Coolify project per tenant (the only place projects are created or
 * deleted), the tenant's sync fields, and fan-out to its stacks (which do their own suspension
 * and deletion). A deleted tenant keeps its record; its project goes once every service is gone.
 */
import { TerminalError } from '../src/errors.js';
import { CoolifyError } from '../src/coolify/errors.js';
import { formatProjectMarker, parseMarker } from '../src/coolify/markers.js';
import type { CoolifyProjectDetail } from '../src/coolify/types.js';
import type { ReconcileKey, Stack, Tenant } from '../src/pocketbase/types.js';
import type { EngineContext } from '../src/engine/context.js';
import { findTenantProject, projectBelongsTo } from './coolify-lookup.js';
import { raceAbort } from '../src/engine/abortable-coolify.js';
import { isPaused, noteUnpaused, observePausedTenant } from './pause.js';
import { refuse } from './refusal.js';
import { writeTenant } from './status-write.js';
import { clearTenantDeadline, keepTenantDeadline, noteTenantSeen } from './tenant-deadline.js';

export type TenantResult = { requeueAfterMs?: number } | void;

export function tenantKey(id: string): ReconcileKey {
  return `tenant:${id}`;
}

export function projectName(tenant: Tenant): string {
  return `cf-tenant-${tenant.slug}`;
}

export async function reconcileTenant(ctx: EngineContext, tenantId: string): Promise<TenantResult> {
  const tenant = await ctx.store.getTenant(tenantId);
  // The daemon never deletes tenant records; one deleted by hand leaves nothing to drive.
  if (!tenant) return;
  ctx.redactor.track(tenant.routerApiKey);
  if (tenant.problems.length > 0) {
    await writeTenant(ctx, tenant, { syncStatus: 'error', syncMessage: tenant.problems.join('; ') });
    throw new TerminalError(`tenant ${tenant.id}: ${tenant.problems.join('; ')}`);
  }
  const stacks = await ctx.store.listStacksOfTenant(tenant.id);
  ctx.signal.throwIfAborted();
  // Suspension, resumption and deletion are carried out by each stack's own reconcile.
  for (const s of stacks) ctx.enqueue(`stack:${s.id}`, 'low');
  if (isPaused(tenant)) return observePausedTenant(ctx, tenant);
  await noteUnpaused(ctx, tenantKey(tenant.id), tenant.syncMessage);
  if (tenant.status === 'deleted') return deleteTenant(ctx, tenant, stacks);

  const project = await ensureProject(ctx, tenant);
  if ('sentAt' in project) {
    await writeTenant(ctx, tenant, {
      syncStatus: 'pending',
      syncMessage: `the project create sent at ${new Date(project.sentAt).toISOString()} got no answer; waiting for Coolify to show it before creating it again`,
    });
    return { requeueAfterMs: Math.min(ctx.settings.statusPollMs, project.waitMs) };
  }
  await ensureEnvironment(ctx, tenant, project);
  await clearTenantDeadline(ctx, tenant, project);
  await writeTenant(ctx, tenant, {
    coolifyProjectUuid: project.uuid,
    syncStatus: tenant.status === 'suspended' ? 'suspended' : 'ready',
    syncMessage: '',
  });
  return;
}

function refuseForeign(ctx: EngineContext, tenant: Tenant, uuid: string): Promise<never> {
  return refuse(ctx, {
    key: tenantKey(tenant.id),
    current: { status: tenant.syncStatus, message: tenant.syncMessage },
    message: `project ${uuid} is not managed by cf-reconciler`,
    uuid,
    writeError: (syncMessage) => writeTenant(ctx, tenant, { syncStatus: 'error', syncMessage }),
  });
}

/** The tenant's project, or how long to wait for one whose create got no answer. */
async function ensureProject(ctx: EngineContext, tenant: Tenant): Promise<CoolifyProjectDetail | { waitMs: number; sentAt: number }> {
  const key = tenantKey(tenant.id);
  // Listed with the tenant's marker in the shared view, environments known: no call of its own.
  // Before the view's first pass (a start with thousands of tenants queued), that pass is shared.
  const view = tenant.status !== 'deleted' ? ctx.view : undefined;
  if (view && !view.current) await raceAbort(ctx.signal, () => view.observe());
  const listed = view?.tenantProject(tenant.id, tenant.coolifyProjectUuid);
  const lookup = listed
    ? { kind: 'found' as const, project: listed, adopted: tenant.coolifyProjectUuid !== listed.uuid }
    : await findTenantProject(ctx.coolify, tenant.id, tenant.coolifyProjectUuid);
  if (lookup.kind === 'foreign') return refuseForeign(ctx, tenant, lookup.uuid);
  if (lookup.kind === 'found') {
    if (ctx.intents.pendingInMemory(key)) await ctx.intents.end(key);
    if (lookup.adopted && lookup.project.uuid !== tenant.coolifyProjectUuid) {
      await ctx.audit.record(key, 'adopt', 'ok', `adopted project ${lookup.project.uuid} found by its marker`, lookup.project.uuid);
    }
    if (ctx.memory.duplicateProjects.has(tenant.id)) await retireDuplicateProjects(ctx, tenant, lookup.project.uuid);
    return lookup.project;
  }
  // A create whose answer was lost may still show up: no second one within the grace period.
  const pending = await ctx.intents.waitMs(key);
  if (pending) return pending;
  const name = projectName(tenant);
  await ctx.intents.begin(key);
  let uuid: string;
  try {
    ({ uuid } = await ctx.audit.write(key, 'create_project', (r) => r.uuid, `created project ${name}`, () =>
      ctx.coolify.createProject({ name, description: formatProjectMarker({ tenantId: tenant.id }) }),
    ));
  } catch (e) {
    // Any answer says how the create went; no answer (a timeout, a reset, an abort) leaves it unknown.
    if (e instanceof CoolifyError && e.status !== undefined) await ctx.intents.end(key);
    throw e;
  }
  // Recorded at once; a crash before this line is healed by the marker lookup above.
  await writeTenant(ctx, tenant, { coolifyProjectUuid: uuid, syncStatus: 'pending', syncMessage: 'project created' });
  await ctx.intents.end(key);
  return ctx.coolify.getProject(uuid);
}

/**
 * More than one project carries the tenant's marker (a create whose answer was lost, before
 * create-pending existed): the extra ones are deleted. Coolify refuses to delete a project that
 * still holds resources, so a duplicate in use is left alone (and said so) rather than emptied.
 */
async function retireDuplicateProjects(ctx: EngineContext, tenant: Tenant, keeper: string): Promise<void> {
  const key = tenantKey(tenant.id);
  const extra = (await ctx.coolify.listProjects()).filter((p) => p.uuid !== keeper && projectBelongsTo(p.description, tenant.id));
  for (const p of extra) {
    // One that Coolify will not delete (it holds resources) is not asked again every resync.
    const fingerprint = `delete_duplicate_project ${p.uuid}`;
    if (ctx.corrections.check(key, fingerprint)) continue;
    ctx.corrections.record(key, fingerprint);
    try {
      await ctx.audit.write(key, 'delete_project', p.uuid, `deleted project ${p.name}, a duplicate of ${keeper}`, () => ctx.coolify.deleteProject(p.uuid));
    } catch (e) {
      if (!(e instanceof CoolifyError && e.kind === 'bad_request')) throw e;
      ctx.logger.warn('a duplicate project still holds resources; left alone', { subject: key, project: p.uuid, keeper });
    }
  }
  ctx.memory.duplicateProjects.delete(tenant.id);
}

/**
 * Coolify gives a new project only `production`; any other COOLIFY_ENVIRONMENT is added here, once.
 * A `conflict` means it appeared since the project was read (another run or an admin): fine.
 */
async function ensureEnvironment(ctx: EngineContext, tenant: Tenant, project: CoolifyProjectDetail): Promise<void> {
  const env = ctx.settings.environment;
  if (project.environments.some((e) => e.name === env)) return;
  try {
    await ctx.audit.write(tenantKey(tenant.id), 'create_environment', project.uuid, `created environment "${env}" in project ${project.name}`, () =>
      ctx.coolify.createEnvironment(project.uuid, env),
    );
  } catch (e) {
    if (!(e instanceof CoolifyError && e.kind === 'conflict')) throw e;
  }
}

async function deleteTenant(ctx: EngineContext, tenant: Tenant, stacks: Stack[]): Promise<TenantResult> {
  const key = tenantKey(tenant.id);
  const lookup = await findTenantProject(ctx.coolify, tenant.id, tenant.coolifyProjectUuid);
  const services = (await ctx.coolify.listServices()).filter((s) => {
    const m = parseMarker(s.description);
    return m?.tenantId === tenant.id && m.stackId !== undefined;
  });
  if (services.length > 0) {
    // The tenant-level deadline its stacks wait for, kept on the project (see tenant-deadline.ts).
    if (lookup.kind === 'found') await keepTenantDeadline(ctx, tenant, lookup.project);
    await writeTenant(ctx, tenant, {
      syncStatus: 'deleting',
      syncMessage: `waiting for ${services.length} service${services.length === 1 ? '' : 's'} to be deleted`,
    });
    if (lookup.kind === 'found') await noteTenantSeen(ctx, tenant, lookup.project);
    // Stacks enqueue the tenant when their service goes; this is only the safety net.
    return { requeueAfterMs: Math.min(ctx.settings.resyncIntervalMs, ctx.settings.deleteRetentionMs + ctx.settings.statusPollMs) };
  }
  if (lookup.kind === 'foreign') return refuseForeign(ctx, tenant, lookup.uuid);
  if (lookup.kind === 'found') {
    const uuid = lookup.project.uuid;
    try {
      await ctx.audit.write(key, 'delete_project', uuid, `deleted project ${lookup.project.name}`, () => ctx.coolify.deleteProject(uuid));
    } catch (e) {
      if (e instanceof CoolifyError && e.kind === 'bad_request') {
        // Coolify deletes services asynchronously; the project refuses until they are gone.
        await writeTenant(ctx, tenant, { syncStatus: 'deleting', syncMessage: 'waiting for Coolify to finish deleting services' });
        return { requeueAfterMs: ctx.settings.statusPollMs };
      }
      if (!(e instanceof CoolifyError && e.kind === 'not_found')) throw e;
    }
  }
  if (stacks.length > 0) {
    await writeTenant(ctx, tenant, {
      coolifyProjectUuid: '',
      syncStatus: 'deleting',
      syncMessage: `waiting for ${stacks.length} stack record${stacks.length === 1 ? '' : 's'} to finish deletion`,
    });
    return { requeueAfterMs: Math.min(ctx.settings.resyncIntervalMs, ctx.settings.deleteRetentionMs + ctx.settings.statusPollMs) };
  }
  await writeTenant(ctx, tenant, { coolifyProjectUuid: '', syncStatus: 'deleted', syncMessage: '' });
  return;
}
