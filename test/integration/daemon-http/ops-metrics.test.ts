import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../../src/clock.js';
import { RateLimiter } from '../../../src/coolify/rate-limiter.js';
import { Metrics } from '../../../src/daemon/metrics.js';
import { projectRoot } from '../../../src/pocketbase/server-process.js';
import { WorkQueue } from '../../../src/queue/work-queue.js';
import { waitFor } from '../../helpers/wait.js';

const version = (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;

/** The value of one exposition line, e.g. `cf_stacks{status="error"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('version and operator metrics', () => {
  it('cf-reconciler --version prints the package.json version (compiled CLI)', () => {
    const out = execFileSync(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli.js'), '--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe(version);
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exports cf_build_info{version} = 1', async () => {
    const text = await new Metrics().text();
    expect(sample(text, `cf_build_info{version="${version}"}`)).toBe(1);
  });

  it('counts stacks and tenants by status, unreconciled ones as none, and drops emptied statuses to 0', async () => {
    const metrics = new Metrics();
    metrics.setRecordStatuses(
      [{ syncStatus: 'ready' }, { syncStatus: 'error' }, { syncStatus: '' }],
      [{ status: 'running' }, { status: 'running' }, { status: 'error' }, { status: '' }],
    );
    let text = await metrics.text();
    expect(sample(text, 'cf_stacks{status="running"}')).toBe(2);
    expect(sample(text, 'cf_stacks{status="error"}')).toBe(1);
    expect(sample(text, 'cf_stacks{status="none"}')).toBe(1);
    expect(sample(text, 'cf_stacks{status="deploying"}')).toBe(0);
    expect(sample(text, 'cf_tenants{sync_status="error"}')).toBe(1);
    expect(sample(text, 'cf_tenants{sync_status="none"}')).toBe(1);
    metrics.setRecordStatuses([{ syncStatus: 'ready' }], [{ status: 'running' }]);
    text = await metrics.text();
    expect(sample(text, 'cf_stacks{status="error"}')).toBe(0);
    expect(sample(text, 'cf_tenants{sync_status="error"}')).toBe(0);
  });

  it('reports keys in backoff from a live WorkQueue, and 0 again once the retry succeeds', async () => {
    const clock = new ManualClock();
    let fail = true;
    const queue = new WorkQueue(
      () => {
        if (fail) return Promise.reject(new Error('Coolify down'));
        return Promise.resolve();
      },
      { concurrency: 2, clock, backoff: { baseMs: 1000, maxMs: 1000, jitter: 0 } },
    );
    const metrics = new Metrics();
    metrics.trackQueue(queue);
    queue.add('stack:a');
    queue.add('stack:b');
    queue.start();
    await waitFor(async () => (sample(await metrics.text(), 'cf_queue_backoff') === 2 ? true : null), 2000, { what: 'two keys in backoff' });
    fail = false;
    clock.advance(1000);
    await waitFor(async () => (sample(await metrics.text(), 'cf_queue_backoff') === 0 ? true : null), 2000, { what: 'backoff cleared' });
    await queue.shutdown({ deadlineMs: 100 });
  });

  it('reports the realtime stream and a 429 pause of the real limiter at scrape time', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ limit: 10, clock });
    let connected = false;
    const metrics = new Metrics();
    metrics.trackLive({ realtimeConnected: () => connected, coolifyPausedUntil: () => limiter.pausedUntil, now: () => clock.now() });
    let text = await metrics.text();
    expect(sample(text, 'cf_realtime_connected')).toBe(0);
    expect(sample(text, 'cf_coolify_rate_limit_paused_seconds')).toBe(0);
    connected = true;
    limiter.pauseUntil(clock.now() + 30_000);
    text = await metrics.text();
    expect(sample(text, 'cf_realtime_connected')).toBe(1);
    expect(sample(text, 'cf_coolify_rate_limit_paused_seconds')).toBe(30);
    clock.advance(30_000);
    expect(sample(await metrics.text(), 'cf_coolify_rate_limit_paused_seconds')).toBe(0);
  });
});
