import { describe, expect, it } from '@jest/globals';
import { forgetGoneServices, newEngineMemory } from '../../../src/engine/context.js';

describe('forgetGoneServices', () => {
  it('forgets lifecycle and deletion memory of services a listing no longer shows, not of ones asked about since', () => {
    const m = newEngineMemory();
    m.lifecycle.set('gone', { action: 'stop', at: 1_000 });
    m.deleteRequestedAt.set('gone', 1_000);
    m.lifecycle.set('kept', { action: 'start', at: 1_000 });
    // Created and deployed after the listing was taken: not in it, but not gone either.
    m.lifecycle.set('new', { action: 'start', at: 5_000 });
    forgetGoneServices(m, new Set(['kept']), 2_000);
    expect([...m.lifecycle.keys()].sort()).toEqual(['kept', 'new']);
    expect(m.deleteRequestedAt.size).toBe(0);
  });
});
