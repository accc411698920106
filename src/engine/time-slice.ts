/**
 * Cooperative time slicing for long synchronous passes (deciding every stack in a resync): at
 * 30,000 stacks such a pass runs for seconds, and an event loop held that long misses the leader
 * lease's renewal (10 s deadline: the daemon then stops acting and exits), realtime events and
 * health checks. A pass asks `pause()` between items; once SLICE_MS of work has run since the last
 * turn it gets a promise to await, which resolves after the event loop has served what is waiting
 * (setImmediate: after I/O callbacks and timers that are due).
 */

/** Longest stretch of synchronous work between two turns of the event loop (ms). */
export const SLICE_MS = 20;

/** A pause point: undefined while the slice lasts, else a promise to await before going on. */
export type Pause = () => Promise<void> | undefined;

export function timeSlicer(sliceMs = SLICE_MS, now: () => number = () => performance.now()): Pause {
  let since = now();
  return () => {
    if (now() - since < sliceMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        since = now();
        resolve();
      }),
    );
  };
}
