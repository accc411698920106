/**
 * Coalescing restarts per stack. Applying a changed configuration costs a PATCH and a deploy, and
 * the deploy restarts the tenant's containers; an admin typing into a param, or a script writing a
 * record 200 times a second, must not restart them 200 times. The first change is applied at once
 * (leading edge: a single edit waits for nothing). A change that arrives while the last deploy of
 * the same service is younger than `SETTLE_MS` is held until the record has been quiet for
 * `QUIET_MS` (the burst is over), and at most `MAX_HOLD_MS` after the hold began; then one PATCH
 * and one deploy apply the final state. Only applying is held: stopping, suspending and deleting
 * never wait here (their paths do not ask).
 */
import type { EngineContext } from '../src/engine/context.js';
import type { Stack } from '../src/pocketbase/types.js';

/** A deploy younger than this (ms) makes the next change wait for its burst to end. */
export const SETTLE_MS = 3000;
/** The record unchanged for this long (ms) means the burst is over. */
export const QUIET_MS = 300;
/** Longest hold of one change (ms), however long the burst. */
export const MAX_HOLD_MS = 1500;

/**
 * How long to hold applying `stack`'s change to service `uuid` (ms), or 0 to apply now. Remembers
 * when the hold began (per stack) so a burst that never pauses is still applied after MAX_HOLD_MS.
 */
export function holdApply(ctx: EngineContext, stack: Stack, uuid: string): number {
  const now = ctx.clock.now();
  const holds = ctx.memory.applyHeldSince;
  const last = ctx.memory.lifecycle.get(uuid);
  const recentDeploy = last?.action === 'start' && now - last.at < SETTLE_MS;
  const quietFor = now - stack.updated;
  if (!recentDeploy || quietFor >= QUIET_MS) {
    holds.delete(stack.id);
    return 0;
  }
  const since = holds.get(stack.id) ?? now;
  holds.set(stack.id, since);
  const left = Math.min(QUIET_MS - quietFor, since + MAX_HOLD_MS - now);
  if (left <= 0) {
    holds.delete(stack.id);
    return 0;
  }
  return left;
}

/** Forgets a hold once the change was applied (or the stack is gone). */
export function releaseHold(ctx: EngineContext, stackId: string): void {
  ctx.memory.applyHeldSince.delete(stackId);
}
