/**
 * How long a requested deletion waits (SPEC §3 "Retention"): the tenant's plan's
 * `delete_retention_days` when set (fractions allowed), else DELETE_RETENTION_SECONDS. Only read
 * when a deadline is set: the deadline is fixed when the deletion is first seen, so a later change
 * of the plan does not move deletions already scheduled.
 */
import type { Tenant } from '../src/pocketbase/types.js';
import type { EngineContext } from '../src/engine/context.js';

const DAY_MS = 86_400_000;

export interface Retention {
  /** Milliseconds. */
  ms: number;
  /** Where it comes from, for the audit trail. */
  source: string;
}

export async function deletionRetention(ctx: EngineContext, tenant: Tenant): Promise<Retention> {
  const plan = tenant.planId ? await ctx.store.getPlan(tenant.planId) : null;
  const days = plan?.deleteRetentionDays ?? 0;
  if (plan && Number.isFinite(days) && days > 0) {
    return { ms: Math.round(days * DAY_MS), source: `plan ${plan.name} delete_retention_days ${days}` };
  }
  return { ms: ctx.settings.deleteRetentionMs, source: 'DELETE_RETENTION_SECONDS' };
}
