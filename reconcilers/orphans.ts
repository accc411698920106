/**
 * Orphans: services carrying the daemon's marker for a stack whose record no longer exists. They
 * are stopped at once, marked `orphaned-at=<iso>` (so the retention is counted across restarts)
 * and deleted when the retention has passed. Nothing happens while the drift resync's guard says
 * PocketBase cannot be trusted to be complete (an empty or restored database), nor before it has
 * evaluated the latest PocketBase listing.
 */
import { parseMarker, withMarkerTokens } from '../src/coolify/markers.js';
import type { ReconcileKey } from '../src/pocketbase/types.js';
import type { EngineContext } from '../src/engine/context.js';
import { ORPHANED_AT, isoTime, readTimeToken } from './description-tokens.js';
import { MAX_WAIT_MS, requestDelete, requestStop } from './lifecycle.js';
import { mayBeRunning, parseRunState } from './status-map.js';

export async function reconcileOrphan(ctx: EngineContext, stackId: string): Promise<{ requeueAfterMs?: number } | void> {
  const key: ReconcileKey = `stack:${stackId}`;
  const services = (await ctx.coolify.listServices()).filter((s) => parseMarker(s.description)?.stackId === stackId);
  if (services.length === 0) return;
  // Asked again before every write, not once: the guard may shut while this reconcile awaits
  // Coolify (a PocketBase restore noticed meanwhile), and its verdict is the latest evaluation's.
  const refused = (): boolean => {
    if (ctx.orphans.allowed()) return false;
    ctx.logger.warn('not acting on orphaned service: ' + ctx.orphans.reason(), { subject: key });
    return true;
  };
  if (refused()) return;
  const now = ctx.clock.now();
  let wait = MAX_WAIT_MS;
  let deleting = false;
  for (const service of services) {
    if (refused()) return;
    let orphanedAt = readTimeToken(service.description, ORPHANED_AT);
    if (orphanedAt === undefined) {
      orphanedAt = now;
      const description = withMarkerTokens(service.description, { [ORPHANED_AT]: isoTime(now) });
      await ctx.audit.write(key, 'mark_orphan', service.uuid, `stack record is gone; service marked orphaned at ${isoTime(now)}`, () =>
        ctx.coolify.updateService(service.uuid, { description }),
      );
    }
    if (mayBeRunning(parseRunState(service.status)) && !ctx.memory.deleteRequestedAt.has(service.uuid)) {
      if (refused()) return;
      await requestStop(ctx, key, service.uuid, 'stack record is gone', 'orphan_stop');
    }
    const due = orphanedAt + ctx.settings.deleteRetentionMs;
    if (now >= due) {
      if (refused()) return;
      await requestDelete(ctx, key, service.uuid, 'orphan retention passed');
      wait = Math.min(wait, ctx.settings.statusPollMs);
      deleting = true;
    } else {
      wait = Math.min(wait, due - now);
    }
  }
  const tenantId = parseMarker(services[0]?.description)?.tenantId;
  // Its tenant may be deleted and waiting for this service to disappear.
  if (deleting && tenantId) ctx.enqueue(`tenant:${tenantId}`, 'low');
  return { requeueAfterMs: wait };
}
