/**
 * Restart on request (SPEC §3 "Restart"): `restart_requested_at` later than `restarted_at` restarts
 * the running service once, then `restarted_at` is set to that request.
 *
 * `restarted_at` lives in PocketBase, where an admin's stale save can write back an older value
 * (or an empty one) next to the old request; read alone, that would ask for the same restart again.
 * So the request last carried out is also kept on the service itself, as a `restarted=<iso>` token
 * in its marker, and a request counts only when it is later than both. The token is written after
 * the restart: a crash in between repeats the restart rather than losing it.
 */
import { formatServiceMarker, parseMarker, withMarkerTokens } from '../src/coolify/markers.js';
import type { CoolifyServiceDetail } from '../src/coolify/types.js';
import type { Stack, StackStatusPatch, Tenant } from '../src/pocketbase/types.js';
import type { EngineContext } from '../src/engine/context.js';
import { isoTime, readTimeToken } from './description-tokens.js';
import { parseRunState, type Desire } from './status-map.js';
import { writeStack } from './status-write.js';

export const RESTARTED = 'restarted';

/** The request last carried out: the later of the record's `restarted_at` and the service's token (ms). */
export function lastRestart(stack: Stack, description: string | undefined): number | null {
  const token = description === undefined ? undefined : readTimeToken(description, RESTARTED);
  const stored = stack.restartedAt;
  if (token === undefined) return stored;
  return stored === null ? token : Math.max(stored, token);
}

/** The pending restart request (ms), or undefined when none is due. */
export function restartDue(stack: Stack, description: string | undefined): number | undefined {
  const requested = stack.restartRequestedAt;
  if (requested === null) return undefined;
  const last = lastRestart(stack, description);
  return last === null || requested > last ? requested : undefined;
}

/**
 * The marker the stack's service should carry: the plain ownership marker plus the restart token
 * it already has (the only token a converged, undeleted service keeps).
 */
export function expectedServiceDescription(tenant: Tenant, stack: Stack, current: string): string {
  const marker = formatServiceMarker({ stackId: stack.id, tenantId: tenant.id });
  const token = parseMarker(current)?.extra[RESTARTED];
  return token === undefined ? marker : withMarkerTokens(marker, { [RESTARTED]: token });
}

/**
 * Carries out a due restart request of a converged stack, or records it as done when there is
 * nothing to restart: a service that should not run, is not up, or was (re)deployed in this very
 * pass already runs fresh containers. `applied` (the pass's pending daemon-field write) gets the
 * new `restarted_at`, or a `restarted_at` older than the token (a stale save) corrected. After a
 * restart the status is written here and the result says when to look again; otherwise undefined.
 */
export async function restartIfRequested(
  ctx: EngineContext,
  stack: Stack,
  service: CoolifyServiceDetail,
  desire: Exclude<Desire, 'delete'>,
  deployed: boolean,
  applied: StackStatusPatch,
): Promise<{ requeueAfterMs: number } | undefined> {
  const key = `stack:${stack.id}` as const;
  const due = restartDue(stack, service.description);
  if (due === undefined) {
    const last = lastRestart(stack, service.description);
    if (last !== stack.restartedAt) applied.restartedAt = last;
    return undefined;
  }
  const state = parseRunState(service.status);
  const running = state === 'running' || state === 'degraded';
  const restart = desire === 'run' && running && !deployed;
  if (restart) {
    await ctx.audit.write(key, 'restart', service.uuid, `restarted service (restart requested at ${isoTime(due)})`, () =>
      ctx.coolify.restartService(service.uuid),
    );
    // Coolify's status lags: no start is asked for while the restart shows up.
    ctx.memory.lifecycle.set(service.uuid, { action: 'start', at: ctx.clock.now() });
  } else {
    const why = deployed ? 'the service was just deployed' : desire !== 'run' ? 'the stack is not meant to run' : `the service is ${service.status || 'not up'}`;
    await ctx.audit.record(key, 'restart', 'ok', `restart requested at ${isoTime(due)} not needed: ${why}`, service.uuid);
  }
  const description = withMarkerTokens(service.description, { [RESTARTED]: isoTime(due) });
  await ctx.coolify.updateService(service.uuid, { description });
  service.description = description;
  applied.restartedAt = due;
  if (!restart) return undefined;
  await writeStack(ctx, stack, { ...applied, status: 'deploying', statusMessage: 'restarting on request', deleteAfter: null });
  return { requeueAfterMs: ctx.settings.statusPollMs };
}

/** Why a converged stack needs its reconcile for a restart, or undefined (for the drift comparison). */
export function restartDrift(stack: Stack, description: string): string | undefined {
  if (restartDue(stack, description) !== undefined) return 'restart requested';
  if (lastRestart(stack, description) !== stack.restartedAt) return 'restarted_at differs from the service';
  return undefined;
}
