import { describe, expect, it } from '@jest/globals';
import { KeyFifo } from '../../../src/queue/key-fifo.js';

const drain = (fifo: KeyFifo) => {
  const out: string[] = [];
  for (let k = fifo.shift(); k !== undefined; k = fifo.shift()) out.push(k);
  return out;
};

describe('KeyFifo', () => {
  it('keeps first-in order and ignores a push of a key already queued', () => {
    const fifo = new KeyFifo();
    expect(fifo.push('a', 1)).toBe(true);
    expect(fifo.push('b', 2)).toBe(true);
    expect(fifo.push('a', 3)).toBe(false);
    expect(fifo.size).toBe(2);
    expect(fifo.since('a')).toBe(1);
    expect(drain(fifo)).toEqual(['a', 'b']);
    expect(fifo.size).toBe(0);
    expect(fifo.peek()).toBeUndefined();
  });

  it('puts a deleted and re-pushed key at the back, not at its old place', () => {
    const fifo = new KeyFifo();
    for (const k of ['a', 'b', 'c']) fifo.push(k, 0);
    fifo.delete('a');
    fifo.push('a', 5);
    fifo.delete('c');
    expect(fifo.has('c')).toBe(false);
    expect(drain(fifo)).toEqual(['b', 'a']);
  });

  it('stays correct across compaction with many keys pushed and taken in waves', () => {
    const fifo = new KeyFifo();
    const taken: string[] = [];
    let next = 0;
    for (let wave = 0; wave < 5; wave++) {
      for (let i = 0; i < 3000; i++) fifo.push(`k${next++}`, wave);
      for (let i = 0; i < 2500; i++) taken.push(fifo.shift() ?? 'MISSING');
    }
    taken.push(...drain(fifo));
    expect(taken).toEqual(Array.from({ length: next }, (_, i) => `k${i}`));
  });

  it('empties on clear()', () => {
    const fifo = new KeyFifo();
    fifo.push('a', 0);
    fifo.clear();
    expect(fifo.size).toBe(0);
    expect(fifo.shift()).toBeUndefined();
    fifo.push('a', 1);
    expect(drain(fifo)).toEqual(['a']);
  });
});
