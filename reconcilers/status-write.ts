/**
 * Daemon-field writes back to PocketBase, only when something changed: every write is a realtime
 * event and a row update, so rewriting identical status would churn (and, with a careless feed,
 * loop). The timestamp fields (observed_at, synced_at) ride along with a real change, or are
 * refreshed alone once they are older than the resync interval. An aborted reconcile writes nothing
 * more: what it left unwritten is re-derived by the next run.
 */
import type { Stack, StackStatusPatch, Tenant, TenantStatusPatch } from '../src/pocketbase/types.js';
import type { EngineContext } from '../src/engine/context.js';

function changedKeys<P extends object>(current: object, patch: P): P {
  const out: Record<string, unknown> = {};
  const cur = current as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v !== undefined && v !== cur[k]) out[k] = v;
  }
  return out as P;
}

/**
 * Writes the changed daemon fields of `stack` and updates the in-memory copy to match, its
 * `updated` included (so a caller can tell its own write from a later one).
 */
export async function writeStack(ctx: EngineContext, stack: Stack, patch: StackStatusPatch): Promise<void> {
  const p = { ...patch };
  if (p.statusMessage !== undefined) p.statusMessage = ctx.redactor.redact(p.statusMessage);
  const diff: StackStatusPatch = changedKeys(stack, p);
  const now = ctx.clock.now();
  const stale = stack.observedAt === null || now - stack.observedAt >= ctx.settings.resyncIntervalMs;
  if (Object.keys(diff).length === 0 && !stale) return;
  ctx.signal.throwIfAborted();
  diff.observedAt = now;
  const saved = await ctx.store.updateStack(stack.id, diff);
  Object.assign(stack, diff);
  if (saved) stack.updated = saved.updated;
}

export async function writeTenant(ctx: EngineContext, tenant: Tenant, patch: TenantStatusPatch): Promise<void> {
  const p = { ...patch };
  if (p.syncMessage !== undefined) p.syncMessage = ctx.redactor.redact(p.syncMessage);
  const diff: TenantStatusPatch = changedKeys(tenant, p);
  // synced_at means "last successful reconcile": an error write leaves it alone.
  const ok = (p.syncStatus ?? tenant.syncStatus) !== 'error';
  const now = ctx.clock.now();
  const stale = ok && (tenant.syncedAt === null || now - tenant.syncedAt >= ctx.settings.resyncIntervalMs);
  if (Object.keys(diff).length === 0 && !stale) return;
  ctx.signal.throwIfAborted();
  if (ok) diff.syncedAt = now;
  const saved = await ctx.store.updateTenant(tenant.id, diff);
  Object.assign(tenant, diff);
  // As for stacks: the caller can tell its own write from a later one by `updated`.
  if (saved) tenant.updated = saved.updated;
}
