/**
 * Paused tenants and stacks (SPEC §3 "Paused"): an admin debugging in Coolify asks the daemon to
 * keep its hands off. A paused record is still observed, and its daemon fields are kept true (the
 * service's uuid and run state, the tenant's project), but nothing is created, changed, started,
 * stopped or deleted in Coolify for it: only reads happen here. Unpausing lets the usual
 * reconcile converge it. The start and the end of a pause are each recorded once in the audit
 * trail, told apart by the record's own message (which survives daemon restarts).
 */
import type { CoolifyServiceDetail } from '../src/coolify/types.js';
import type { Stack, StackStatus, Tenant } from '../src/pocketbase/types.js';
import type { EngineContext } from '../src/engine/context.js';
import { findStackService, findTenantProject } from './coolify-lookup.js';
import { parseRunState } from './status-map.js';
import { writeStack, writeTenant } from './status-write.js';

const PAUSED = 'paused: cf-reconciler changes nothing in Coolify for';
const STACK_PAUSED = `${PAUSED} this stack; clear paused on the stack to resume`;
const STACK_TENANT_PAUSED = `${PAUSED} this stack while its tenant is paused; clear paused on the tenant to resume`;
const TENANT_PAUSED = `${PAUSED} this tenant and its stacks; clear paused to resume`;

/** True when the daemon must not act on the stack in Coolify. */
export function isPaused(tenant: Tenant, stack?: Stack): boolean {
  return tenant.paused || (stack?.paused ?? false);
}

/** The status message a paused stack shows; says which record holds the pause. */
export function pausedStackMessage(tenant: Tenant): string {
  return tenant.paused ? STACK_TENANT_PAUSED : STACK_PAUSED;
}

export function pausedTenantMessage(): string {
  return TENANT_PAUSED;
}

/** True when a message was written by a pause (so the record is leaving one when not paused now). */
export function isPausedMessage(message: string): boolean {
  return message.startsWith(PAUSED);
}

/**
 * The stack status that tells the truth about an observed service, whatever was asked of it:
 * no service is `pending` (nothing to show yet), anything else its run state.
 */
export function observedStatus(service: Pick<CoolifyServiceDetail, 'status'> | undefined): StackStatus {
  if (!service) return 'pending';
  switch (parseRunState(service.status)) {
    case 'running':
      return 'running';
    case 'degraded':
      return 'degraded';
    case 'exited':
    case 'paused':
      return 'stopped';
    default:
      return 'deploying';
  }
}

/** Observes a paused stack and writes what is true; never writes to Coolify. */
export async function observePausedStack(ctx: EngineContext, tenant: Tenant, stack: Stack): Promise<void> {
  const lookup = await findStackService(ctx.coolify, stack.id, stack.coolifyServiceUuid);
  const service = lookup.kind === 'found' ? lookup.service : undefined;
  const statusMessage = pausedStackMessage(tenant);
  if (!isPausedMessage(stack.statusMessage)) {
    await ctx.audit.record(`stack:${stack.id}`, 'pause', 'ok', `paused (${tenant.paused ? 'tenant' : 'stack'}); Coolify is left as it is`, service?.uuid ?? '');
  }
  await writeStack(ctx, stack, {
    status: observedStatus(service),
    statusMessage,
    ...(service ? { coolifyServiceUuid: service.uuid } : {}),
  });
}

/** Observes a paused tenant's project and writes what is true; never writes to Coolify. */
export async function observePausedTenant(ctx: EngineContext, tenant: Tenant): Promise<void> {
  const lookup = await findTenantProject(ctx.coolify, tenant.id, tenant.coolifyProjectUuid);
  if (!isPausedMessage(tenant.syncMessage)) {
    await ctx.audit.record(`tenant:${tenant.id}`, 'pause', 'ok', 'paused (tenant); Coolify is left as it is', lookup.kind === 'found' ? lookup.project.uuid : '');
  }
  await writeTenant(ctx, tenant, {
    ...(lookup.kind === 'found' ? { coolifyProjectUuid: lookup.project.uuid } : {}),
    // The project exists (ready) or not yet (pending); nothing else is carried out while paused.
    syncStatus: lookup.kind === 'found' ? 'ready' : 'pending',
    syncMessage: TENANT_PAUSED,
  });
}

/** Records the end of a pause once, before the usual reconcile takes over. */
export async function noteUnpaused(ctx: EngineContext, key: `tenant:${string}` | `stack:${string}`, message: string): Promise<void> {
  if (isPausedMessage(message)) await ctx.audit.record(key, 'unpause', 'ok', 'pause cleared; converging with Coolify again');
}
