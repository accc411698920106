/**
 * The tenant-level deletion deadline (SPEC §3 "Delete", "Retention"). A tenant's deletion keeps its
 * deadline on the tenant's Coolify project, as a stack's does on its service: `delete-after` and
 * `delete-seen` tokens in the project's marker, both epoch ms (a project description cannot hold
 * the `:` of an ISO time). `delete-seen` is the tenant record's `updated` as the daemon last left
 * it; a record updated later was changed by someone else, perhaps set active and deleted again
 * while no reconcile looked, so the retention starts over. The tenant's `updated` alone cannot
 * tell, since the daemon's own sync writes move it too.
 *
 * A stack deleted because its tenant is deleted waits for the later of its service's deadline and
 * this one; while this one is missing or stale it waits at least a full retention from now (the
 * tenant reconcile is about to set one at least that late). Never earlier, at worst later.
 */
import { withMarkerTokens } from '../src/coolify/markers.js';
import type { CoolifyProject } from '../src/coolify/types.js';
import type { Tenant } from '../src/pocketbase/types.js';
import type { EngineContext } from '../src/engine/context.js';
import { findTenantProject } from './coolify-lookup.js';
import { DELETE_AFTER, DELETE_SEEN, isoTime, readTimeToken } from './description-tokens.js';
import { deletionRetention } from './retention.js';
import { tenantKey } from './tenant.js';

/** The project's deadline when it is current: set, and the tenant unchanged since the daemon saw it. */
function currentDeadline(tenant: Tenant, description: string): number | undefined {
  const deadline = readTimeToken(description, DELETE_AFTER);
  const seen = readTimeToken(description, DELETE_SEEN);
  if (deadline === undefined || seen === undefined || tenant.updated > seen) return undefined;
  return deadline;
}

async function setDescription(ctx: EngineContext, project: CoolifyProject, description: string): Promise<void> {
  await ctx.coolify.updateProject(project.uuid, { description });
  project.description = description;
}

/**
 * Tenant reconcile, status deleted: the deadline the project carries, set (or started over, when
 * the tenant record changed since the daemon last left it) now. Epoch ms.
 */
export async function keepTenantDeadline(ctx: EngineContext, tenant: Tenant, project: CoolifyProject): Promise<number> {
  const current = currentDeadline(tenant, project.description);
  if (current !== undefined) return current;
  const restart = readTimeToken(project.description, DELETE_AFTER) !== undefined;
  const retention = await deletionRetention(ctx, tenant);
  const deadline = ctx.clock.now() + retention.ms;
  const description = withMarkerTokens(project.description, { [DELETE_AFTER]: String(deadline), [DELETE_SEEN]: undefined });
  const why = restart ? 'tenant deletion rescheduled (the tenant changed since the deadline was set; the retention starts over)' : 'tenant deletion scheduled';
  await ctx.audit.write(tenantKey(tenant.id), 'schedule_delete', project.uuid, `${why} for ${isoTime(deadline)} (retention from ${retention.source})`, () =>
    setDescription(ctx, project, description),
  );
  return deadline;
}

/** After the tenant reconcile's own writes: the tenant record as the daemon last left it. */
export async function noteTenantSeen(ctx: EngineContext, tenant: Tenant, project: CoolifyProject): Promise<void> {
  if (tenant.updated <= 0 || readTimeToken(project.description, DELETE_SEEN) === tenant.updated) return;
  await setDescription(ctx, project, withMarkerTokens(project.description, { [DELETE_SEEN]: String(tenant.updated) }));
}

/** The tenant is not deleted (any more): a deadline left on its project is removed. */
export async function clearTenantDeadline(ctx: EngineContext, tenant: Tenant, project: CoolifyProject): Promise<void> {
  const after = readTimeToken(project.description, DELETE_AFTER);
  if (after === undefined && readTimeToken(project.description, DELETE_SEEN) === undefined) return;
  const description = withMarkerTokens(project.description, { [DELETE_AFTER]: undefined, [DELETE_SEEN]: undefined });
  await ctx.audit.write(tenantKey(tenant.id), 'cancel_delete', project.uuid, `tenant deletion cancelled; removed the deadline ${after === undefined ? '' : isoTime(after)} from the project`, () =>
    setDescription(ctx, project, description),
  );
}

/**
 * Stack reconcile, tenant deleted: the earliest instant the tenant's deletion allows (epoch ms),
 * read fresh from the project; undefined when the tenant has no project to carry one.
 */
export async function tenantDeletionNotBefore(ctx: EngineContext, tenant: Tenant): Promise<number | undefined> {
  const lookup = await findTenantProject(ctx.coolify, tenant.id, tenant.coolifyProjectUuid);
  if (lookup.kind !== 'found') return undefined;
  const current = currentDeadline(tenant, lookup.project.description);
  if (current !== undefined) return current;
  return ctx.clock.now() + (await deletionRetention(ctx, tenant)).ms;
}
