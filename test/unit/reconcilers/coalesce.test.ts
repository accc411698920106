import { describe, expect, it } from '@jest/globals';
import { MAX_HOLD_MS, MIN_DEPLOY_GAP_MS, QUIET_MS, SETTLE_MS, coalesceWait } from '../../../reconcilers/coalesce.js';

/**
 * Plays a burst of edits against the coalescing rules on a timeline in ms: the engine applies at
 * once when the wait is 0 (a deploy), otherwise runs the key again after the wait or at the next
 * edit, whichever comes first. Returns the deploy times.
 */
function play(edits: number[], until = 10_000): number[] {
  const deploys: number[] = [];
  let heldSince: number | undefined;
  let updated = -Infinity;
  let applied = -Infinity;
  let wakeAt: number | undefined;
  const events = [...edits];
  let now = 0;
  while (now <= until) {
    const nextEdit = events[0];
    const next = Math.min(nextEdit ?? Infinity, wakeAt ?? Infinity);
    if (next === Infinity) break;
    now = next;
    if (nextEdit === now) {
      events.shift();
      updated = now;
    }
    wakeAt = undefined;
    if (updated <= applied) continue;
    const r = coalesceWait({ now, lastDeployAt: deploys.at(-1), recordUpdatedAt: updated, heldSince });
    heldSince = r.heldSince;
    if (r.waitMs === 0) {
      deploys.push(now);
      applied = updated;
    } else wakeAt = now + r.waitMs;
  }
  return deploys;
}

const every = (fromMs: number, toMs: number, stepMs: number) => Array.from({ length: Math.floor((toMs - fromMs) / stepMs) + 1 }, (_, i) => fromMs + i * stepMs);

describe('coalescing a burst of edits into deploys', () => {
  it('applies a lone edit at once, and one long after the last deploy at once too', () => {
    expect(play([1000])).toEqual([1000]);
    expect(play([1000, 1000 + SETTLE_MS + 1])).toEqual([1000, 1000 + SETTLE_MS + 1]);
  });

  it('ends 200 edits over one second in two deploys, the last within 2 s of the last edit', () => {
    const edits = every(0, 1000, 5);
    const deploys = play(edits);
    expect(deploys).toHaveLength(2);
    expect(deploys[0]).toBe(0);
    expect(deploys[1]! - edits.at(-1)!).toBeLessThanOrEqual(2000);
    expect(deploys[1]! - edits.at(-1)!).toBeGreaterThanOrEqual(QUIET_MS);
  });

  it('does not let a pause inside the burst cost a third deploy', () => {
    // Edits for 0.4 s, a 0.4 s stall (longer than the quiet period), edits again until 1 s.
    const edits = [...every(0, 400, 5), ...every(800, 1000, 5)];
    const deploys = play(edits);
    expect(deploys).toHaveLength(2);
    expect(deploys[1]).toBeGreaterThanOrEqual(MIN_DEPLOY_GAP_MS);
  });

  it('still applies a burst that never pauses, at most every MAX_HOLD_MS after the gap', () => {
    const edits = every(0, 6000, 5);
    const deploys = play(edits);
    for (let i = 1; i < deploys.length; i++) expect(deploys[i]! - deploys[i - 1]!).toBeGreaterThanOrEqual(MIN_DEPLOY_GAP_MS);
    // Never more than a hold plus the gap between two deploys while the edits go on.
    for (let i = 1; i < deploys.length; i++) expect(deploys[i]! - deploys[i - 1]!).toBeLessThanOrEqual(MIN_DEPLOY_GAP_MS + MAX_HOLD_MS);
    expect(deploys.at(-1)).toBeGreaterThanOrEqual(6000);
  });
});
