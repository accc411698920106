/**
 * `Service::getStatusAttribute()` (notes §6): the service status is computed on read from the
 * stored statuses of its sub-applications and databases. A sub status is `<state>[:<health>]`,
 * e.g. `running:healthy`, `exited`, `starting`, `degraded:unhealthy`.
 */

export interface SubStatus {
  status: string;
  /** `exclude_from_hc` / `restart: no` in compose. */
  excluded: boolean;
}

export function aggregateStatus(subs: SubStatus[], activityQueued: boolean): string {
  if (activityQueued) return 'starting:unhealthy';
  const included = subs.filter((s) => !s.excluded);
  if (included.length === 0) {
    if (subs.length === 0) return 'exited';
    const inner = aggregate(subs);
    return inner === 'exited' ? 'exited' : `${inner.includes(':') ? inner : `${inner}:unknown`}:excluded`;
  }
  return aggregate(included);
}

function aggregate(subs: SubStatus[]): string {
  const states = subs.map((s) => s.status.split(':')[0] ?? '');
  const healths = subs.map((s) => s.status.split(':')[1]);
  const has = (state: string) => states.includes(state);
  if (has('degraded') || has('restarting')) return 'degraded:unhealthy';
  if (has('running') && has('exited')) return 'degraded:unhealthy';
  if (has('running') && (has('starting') || has('created'))) return 'starting:unknown';
  if (states.length > 0 && states.every((s) => s === 'running')) {
    if (healths.includes('unhealthy')) return 'running:unhealthy';
    if (healths.some((h) => h === undefined || h === 'unknown')) return 'running:unknown';
    return 'running:healthy';
  }
  if (has('dead') || has('removing')) return 'degraded:unhealthy';
  if (has('paused')) return 'paused:unknown';
  if (has('created') || has('starting')) return 'starting:unknown';
  return 'exited';
}
