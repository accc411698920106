/**
 * Time slicing of long synchronous passes: a pause point asks for a turn of the event loop only
 * once a slice of work has run, and a drift pass takes those turns between stacks, so timers and
 * I/O (the lease renewal among them) are served while 30,000 stacks are decided.
 */
import { describe, expect, it } from '@jest/globals';
import { timeSlicer } from '../../../src/engine/time-slice.js';

describe('timeSlicer', () => {
  it('asks for a turn only once the slice has run, and starts a new slice after it', async () => {
    let t = 1_000;
    const pause = timeSlicer(20, () => t);
    expect(pause()).toBeUndefined();
    t += 19;
    expect(pause()).toBeUndefined();
    t += 1;
    // Work waiting on the loop when the turn is asked for is served before the turn ends.
    let served = false;
    setImmediate(() => (served = true));
    const turn = pause();
    expect(turn).toBeInstanceOf(Promise);
    await turn;
    expect(served).toBe(true);
    expect(pause()).toBeUndefined();
    t += 20;
    expect(pause()).toBeInstanceOf(Promise);
  });
});
