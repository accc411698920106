import { describe, expect, it } from '@jest/globals';
import { parseRunState, runStateMatches, runningStatus, stoppedStatus } from '../../../reconcilers/status-map.js';

describe('Coolify status mapping', () => {
  it.each([
    ['running:healthy', 'running'],
    ['running:unknown', 'running'],
    ['running:unhealthy', 'degraded'],
    ['degraded:unhealthy', 'degraded'],
    ['starting:unknown', 'starting'],
    ['starting:unhealthy', 'starting'],
    ['exited', 'exited'],
    ['paused:unknown', 'paused'],
    ['running:healthy:excluded', 'running'],
    ['unknown:unknown:excluded', 'unknown'],
    ['', 'unknown'],
  ])('%s is %s', (raw, state) => {
    expect(parseRunState(raw)).toBe(state);
  });

  it('maps run states to stack statuses by desire', () => {
    expect(runningStatus('running')).toBe('running');
    expect(runningStatus('degraded')).toBe('degraded');
    expect(runningStatus('starting')).toBe('deploying');
    expect(stoppedStatus('suspend')).toBe('suspended');
    expect(stoppedStatus('stop')).toBe('stopped');
    expect(runStateMatches('run', 'degraded')).toBe(true);
    expect(runStateMatches('stop', 'starting')).toBe(false);
  });
});
