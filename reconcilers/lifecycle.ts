/**
 * Start, stop and delete requests with memory of what was asked. Coolify queues all three and
 * its status lags, so asking again while the first request is still on its way would only
 * restart containers twice; within `lifecycleGraceMs` a repeat is skipped (and after it, the
 * request is made again in case the first was lost).
 */
import type { ReconcileKey } from '../src/pocketbase/types.js';
import type { EngineContext } from '../src/engine/context.js';

/**
 * Longest single wait before a service with a pending deadline (deletion, orphan or duplicate
 * retention) is looked at again (ms); resyncs cover the rest.
 */
export const MAX_WAIT_MS = 6 * 3600 * 1000;

function recentlyAsked(ctx: EngineContext, uuid: string, action: 'start' | 'stop'): boolean {
  const last = ctx.memory.lifecycle.get(uuid);
  return last?.action === action && ctx.clock.now() - last.at < ctx.settings.lifecycleGraceMs;
}

/** Returns true when a start was requested now, false when one is still pending. */
export async function requestStart(ctx: EngineContext, key: ReconcileKey, uuid: string, why: string): Promise<boolean> {
  if (recentlyAsked(ctx, uuid, 'start')) return false;
  await ctx.audit.write(key, 'start', uuid, `started service (${why})`, () => ctx.coolify.startService(uuid));
  ctx.memory.lifecycle.set(uuid, { action: 'start', at: ctx.clock.now() });
  return true;
}

/** Deploy re-applies the compose and (re)starts the service whether or not it ran. */
export async function requestDeploy(ctx: EngineContext, key: ReconcileKey, uuid: string, why: string): Promise<void> {
  await ctx.audit.write(key, 'deploy', uuid, `deployed service (${why})`, () => ctx.coolify.deployService(uuid));
  ctx.memory.lifecycle.set(uuid, { action: 'start', at: ctx.clock.now() });
}

export async function requestStop(
  ctx: EngineContext,
  key: ReconcileKey,
  uuid: string,
  why: string,
  action = 'stop',
): Promise<boolean> {
  if (recentlyAsked(ctx, uuid, 'stop')) return false;
  await ctx.audit.write(key, action, uuid, `stopped service (${why})`, () => ctx.coolify.stopService(uuid));
  ctx.memory.lifecycle.set(uuid, { action: 'stop', at: ctx.clock.now() });
  return true;
}

/** Deletion (volumes included) is queued by Coolify; the service stays visible until it runs. */
export async function requestDelete(ctx: EngineContext, key: ReconcileKey, uuid: string, why: string): Promise<boolean> {
  const at = ctx.memory.deleteRequestedAt.get(uuid);
  if (at !== undefined && ctx.clock.now() - at < ctx.settings.lifecycleGraceMs) return false;
  await ctx.audit.write(key, 'delete_service', uuid, `deleted service with its volumes (${why})`, () =>
    ctx.coolify.deleteService(uuid),
  );
  ctx.memory.deleteRequestedAt.set(uuid, ctx.clock.now());
  return true;
}

/** Forgets what was asked of a service once it is gone. */
export function forgetService(ctx: EngineContext, uuid: string): void {
  ctx.memory.lifecycle.delete(uuid);
  ctx.memory.deleteRequestedAt.delete(uuid);
}
