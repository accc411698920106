/**
 * Coolify's aggregated service status (coolify-api-notes §6) mapped to what the stack reconciler
 * acts on. Coolify computes the string on read as `<state>[:<health>][:excluded]`.
 */
import type { StackStatus } from '../src/pocketbase/types.js';

/** The daemon's view of a service's run state. */
export type RunState = 'running' | 'degraded' | 'starting' | 'exited' | 'paused' | 'unknown';

/** What the stack should be doing, after tenant status and stack desire are combined. */
export type Desire = 'run' | 'stop' | 'suspend' | 'delete';

export function parseRunState(raw: string | undefined | null): RunState {
  const [state = '', health = ''] = (raw ?? '').trim().toLowerCase().split(':');
  switch (state) {
    case 'running':
      return health === 'unhealthy' ? 'degraded' : 'running';
    case 'degraded':
    case 'restarting':
      return 'degraded';
    case 'starting':
    case 'created':
      return 'starting';
    case 'exited':
    case 'stopped':
      return 'exited';
    case 'paused':
      return 'paused';
    default:
      return 'unknown';
  }
}

/** True when containers may still be up: anything but a clean `exited`. */
export function mayBeRunning(state: RunState): boolean {
  return state !== 'exited';
}

/** The steady stack status for a run state, given that the service should run. */
export function runningStatus(state: RunState): StackStatus {
  switch (state) {
    case 'running':
      return 'running';
    case 'degraded':
      return 'degraded';
    default:
      return 'deploying';
  }
}

/** The stack status a stopped service reports for the given desire. */
export function stoppedStatus(desire: Desire): StackStatus {
  return desire === 'suspend' ? 'suspended' : 'stopped';
}

/** Whether the observed run state is what the desire asks for (used by the drift comparison). */
export function runStateMatches(desire: Desire, state: RunState): boolean {
  if (desire === 'run') return state === 'running' || state === 'degraded';
  return state === 'exited';
}
