/**
 * Coalescing restarts per stack. Applying a changed configuration costs a PATCH and a deploy, and
 * the deploy restarts the tenant's containers; an admin typing into a param, or a script writing a
 * record 200 times a second, must not restart them 200 times. The first change is applied at once
 * (leading edge: a single edit waits for nothing). A change that arrives while the last deploy of
 * the same service is younger than `SETTLE_MS` is held until
 * - the record has been quiet for `QUIET_MS` (the burst is over), or the hold has lasted
 *   `MAX_HOLD_MS` (a burst that never pauses is still applied), and
 * - the last deploy is at least `MIN_DEPLOY_GAP_MS` old, so a pause inside a burst (a slow client,
 *   a stalled network) cannot end it early and cost a third restart;
 * then one PATCH and one deploy apply the final state. Only applying is held: stopping, suspending
 * and deleting never wait here (their paths do not ask).
 *
 * Bounds (a burst of edits ending at time L, its first edit deployed at once at time 0): the final
 * state is deployed by max(L + QUIET_MS, MIN_DEPLOY_GAP_MS) when the burst ends within
 * MAX_HOLD_MS, so a one-second burst costs two deploys and its last value runs well within 2 s.
 */
import type { EngineContext } from '../src/engine/context.js';
import type { Stack } from '../src/pocketbase/types.js';

/** A deploy younger than this (ms) makes the next change wait for its burst to end. */
export const SETTLE_MS = 3000;
/** The record unchanged for this long (ms) means the burst is over. */
export const QUIET_MS = 300;
/** Longest hold of one change (ms) for a burst that never pauses. */
export const MAX_HOLD_MS = 1500;
/** Shortest time (ms) between two deploys of one service that a held change may cause. */
export const MIN_DEPLOY_GAP_MS = 1500;

export interface CoalesceInput {
  /** Epoch ms. */
  now: number;
  /** When the service was last deployed by this daemon (epoch ms), if it was. */
  lastDeployAt: number | undefined;
  /** The record's `updated` (epoch ms): when the latest edit was made. */
  recordUpdatedAt: number;
  /** When this change was first held (epoch ms), if it was. */
  heldSince: number | undefined;
}

/**
 * How long (ms) to hold applying a change, 0 to apply now; pure, so the rules are tested with
 * chosen times. `heldSince` is what to remember while the change waits.
 */
export function coalesceWait(i: CoalesceInput): { waitMs: number; heldSince: number | undefined } {
  const sinceDeploy = i.lastDeployAt === undefined ? Infinity : i.now - i.lastDeployAt;
  if (sinceDeploy >= SETTLE_MS) return { waitMs: 0, heldSince: undefined };
  const heldSince = i.heldSince ?? i.now;
  const quietFor = i.now - i.recordUpdatedAt;
  // Until the burst is over, capped by the longest hold; never before the gap after a deploy.
  const untilQuiet = Math.min(QUIET_MS - quietFor, heldSince + MAX_HOLD_MS - i.now);
  const waitMs = Math.max(untilQuiet, MIN_DEPLOY_GAP_MS - sinceDeploy, 0);
  return waitMs > 0 ? { waitMs, heldSince } : { waitMs: 0, heldSince: undefined };
}

/**
 * How long to hold applying `stack`'s change to service `uuid` (ms), or 0 to apply now. Remembers
 * when the hold began (per stack) so a burst that never pauses is still applied after MAX_HOLD_MS.
 */
export function holdApply(ctx: EngineContext, stack: Stack, uuid: string): number {
  const holds = ctx.memory.applyHeldSince;
  const last = ctx.memory.lifecycle.get(uuid);
  const { waitMs, heldSince } = coalesceWait({
    now: ctx.clock.now(),
    lastDeployAt: last?.action === 'start' ? last.at : undefined,
    recordUpdatedAt: stack.updated,
    heldSince: holds.get(stack.id),
  });
  if (heldSince === undefined) holds.delete(stack.id);
  else holds.set(stack.id, heldSince);
  return waitMs;
}

/** Forgets a hold once the change was applied (or the stack is gone). */
export function releaseHold(ctx: EngineContext, stackId: string): void {
  ctx.memory.applyHeldSince.delete(stackId);
}
