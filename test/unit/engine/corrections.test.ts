import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../src/clock.js';
import { Corrections } from '../../../src/engine/corrections.js';

describe('Corrections', () => {
  it('lets the same correction go three times, then holds it back 2 min doubling up to 1 h', () => {
    const clock = new ManualClock();
    const c = new Corrections({ clock });
    const fp = 'start u1 from exited';
    const holds: number[] = [];
    for (let i = 0; i < 9; i++) {
      const hold = c.check('stack:a', fp);
      if (hold) {
        holds.push(hold.retryInMs);
        clock.advance(hold.retryInMs);
      }
      expect(c.check('stack:a', fp)).toBeUndefined();
      c.record('stack:a', fp);
    }
    // Sends 1-3 go at once; the 4th waits 2 min after the 3rd, then 4, 8, 16, 32 min, then the 1 h cap.
    expect(holds).toEqual([120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000]);
  });

  it('starts over for another correction, after reset, and per key', () => {
    const clock = new ManualClock();
    const c = new Corrections({ clock });
    for (let i = 0; i < 3; i++) c.record('stack:a', 'create h1');
    expect(c.check('stack:a', 'create h1')?.sent).toBe(3);
    // Another desired state (the record changed what it asks for) or another observed state.
    expect(c.check('stack:a', 'create h2')).toBeUndefined();
    expect(c.check('stack:b', 'create h1')).toBeUndefined();
    c.reset('stack:a');
    expect(c.check('stack:a', 'create h1')).toBeUndefined();
    expect(c.record('stack:a', 'create h1')).toBe(1);
  });
});
