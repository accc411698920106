import { afterEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../src/clock.js';
import { Metrics } from '../../../src/daemon/metrics.js';
import { startHttpServer, type RunningHttpServer } from '../../../src/daemon/http-server.js';
import { Redactor } from '../../../src/logging/redactor.js';
import { WorkQueue } from '../../../src/queue/work-queue.js';

const servers: RunningHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: Partial<Parameters<typeof startHttpServer>[0]> = {}) {
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: new Metrics(), readiness: {}, ...options });
  servers.push(server);
  return server;
}

describe('daemon HTTP server over loopback', () => {
  it('listens on a free loopback port and answers /healthz', async () => {
    const server = await start();
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('reports 503 on /healthz once the main loop is no longer live', async () => {
    let live = true;
    const server = await start({ live: () => live });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    live = false;
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(503);
  });

  it('answers /readyz 200 when every check passes and 503 with the failing checks and reasons otherwise', async () => {
    const state = { streamConnected: true, lastResyncAgeS: 10, coolifyUp: true };
    const server = await start({
      readiness: {
        'pocketbase-stream': () => state.streamConnected,
        'resync-recent': () =>
          state.lastResyncAgeS < 600 ? true : { ok: false, message: `last resync ${state.lastResyncAgeS} s ago` },
        'coolify-reachable': async () => {
          if (!state.coolifyUp) throw new Error('GET /api/v1/version: connection refused');
          return { ok: true };
        },
      },
    });

    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get('content-type')).toBe('application/json');
    expect(await ready.json()).toEqual({ ready: true, failing: [] });

    state.streamConnected = false;
    state.lastResyncAgeS = 3600;
    state.coolifyUp = false;
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({
      ready: false,
      failing: [
        { check: 'pocketbase-stream', message: 'check failed' },
        { check: 'resync-recent', message: 'last resync 3600 s ago' },
        { check: 'coolify-reachable', message: 'GET /api/v1/version: connection refused' },
      ],
    });

    state.streamConnected = true;
    state.lastResyncAgeS = 5;
    state.coolifyUp = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('turns a readiness check that never answers into a failing check instead of a hung request', async () => {
    const clock = new ManualClock();
    const server = await start({
      clock,
      checkTimeoutMs: 2000,
      readiness: { 'coolify-reachable': () => new Promise<boolean>(() => {}), fine: () => true },
    });
    const pending = fetch(`${server.url}/readyz`);
    // The request is in flight once the check's timeout timer exists.
    while (clock.pending === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    clock.advance(2000);
    const res = await pending;
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      ready: false,
      failing: [{ check: 'coolify-reachable', message: 'no answer within 2000 ms' }],
    });
  });

  it('never lets a secret from a failing check reach the response', async () => {
    const redactor = new Redactor();
    const token = 'coolify-token-9f8e7d6c5b4a';
    redactor.add(token);
    const server = await start({
      redact: (text) => redactor.redact(text),
      readiness: {
        'coolify-reachable': () => {
          throw new Error(`401 from Coolify with Authorization: Bearer ${token}`);
        },
      },
    });
    const res = await fetch(`${server.url}/readyz`);
    const body = await res.text();
    expect(res.status).toBe(503);
    expect(body).not.toContain(token);
    expect(body).toContain('coolify-reachable');
  });

  it('serves Prometheus text on /metrics with every daemon metric, pre-initialised and updated', async () => {
    const metrics = new Metrics();
    const server = await start({ metrics });

    const before = await fetch(`${server.url}/metrics`);
    expect(before.status).toBe(200);
    expect(before.headers.get('content-type')).toContain('text/plain');
    const initial = await before.text();
    for (const name of [
      'cf_reconciles_total',
      'cf_reconcile_duration_seconds',
      'cf_queue_depth',
      'cf_queue_in_flight',
      'cf_coolify_requests_total',
      'cf_last_resync_timestamp_seconds',
      'cf_resync_duration_seconds',
      'cf_guard_refusals_total',
      'cf_orphans',
      'cf_env_check_period_seconds',
    ]) {
      expect(initial).toContain(`# TYPE ${name} `);
    }
    expect(initial).toContain('cf_reconciles_total{kind="stack",result="error"} 0');
    expect(initial).toContain('cf_reconciles_total{kind="tenant",result="terminal"} 0');
    expect(initial).toContain('cf_guard_refusals_total{guard="orphan-ratio"} 0');

    metrics.observeReconcile('stack', 'success', 0.2);
    metrics.observeReconcile('stack', 'success', 1.5);
    metrics.observeReconcile('tenant', 'error', 0.03);
    metrics.setQueue(12, 3);
    metrics.countCoolifyRequest({ method: 'get', route: 'services/{uuid}', status: 200, durationMs: 40 });
    metrics.countCoolifyRequest({ method: 'POST', route: 'services', status: 429 });
    metrics.countCoolifyRequest({ method: 'GET', route: 'services', status: 'timeout' });
    metrics.resyncDone(Date.UTC(2026, 0, 1, 12), 4.5);
    metrics.guardRefusal('empty-stacks');
    metrics.setOrphans(2);
    metrics.setEnvCheckPeriod(840);

    const text = await (await fetch(`${server.url}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      if (line === undefined) throw new Error(`series ${series} missing from /metrics`);
      return Number(line.slice(series.length + 1));
    };
    expect(value('cf_reconciles_total{kind="stack",result="success"}')).toBe(2);
    expect(value('cf_reconciles_total{kind="tenant",result="error"}')).toBe(1);
    expect(value('cf_reconcile_duration_seconds_count{kind="stack"}')).toBe(2);
    expect(value('cf_reconcile_duration_seconds_sum{kind="stack"}')).toBeCloseTo(1.7);
    expect(value('cf_reconcile_duration_seconds_bucket{le="1",kind="stack"}')).toBe(1);
    expect(value('cf_queue_depth')).toBe(12);
    expect(value('cf_queue_in_flight')).toBe(3);
    expect(value('cf_coolify_requests_total{method="GET",route="services/{uuid}",status="200"}')).toBe(1);
    expect(value('cf_coolify_requests_total{method="POST",route="services",status="429"}')).toBe(1);
    expect(value('cf_coolify_requests_total{method="GET",route="services",status="timeout"}')).toBe(1);
    expect(value('cf_last_resync_timestamp_seconds')).toBe(Date.UTC(2026, 0, 1, 12) / 1000);
    expect(value('cf_resync_duration_seconds_count')).toBe(1);
    expect(value('cf_guard_refusals_total{guard="empty-stacks"}')).toBe(1);
    expect(value('cf_orphans')).toBe(2);
    expect(value('cf_env_check_period_seconds')).toBe(840);
  });

  it('reads the queue gauges from a live WorkQueue at scrape time', async () => {
    const metrics = new Metrics();
    const running: Array<() => void> = [];
    const queue = new WorkQueue(() => new Promise<void>((resolve) => running.push(resolve)), {
      concurrency: 2,
      clock: new ManualClock(),
    });
    metrics.trackQueue(queue);
    const server = await start({ metrics });
    for (const key of ['stack:1', 'stack:2', 'stack:3', 'stack:4', 'stack:5']) queue.add(key);
    queue.start();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('cf_queue_depth 3\n');
    expect(text).toContain('cf_queue_in_flight 2\n');
    const stopped = queue.shutdown({ deadlineMs: 1000 });
    for (const finish of running) finish();
    await stopped;
    const after = await (await fetch(`${server.url}/metrics`)).text();
    expect(after).toContain('cf_queue_depth 0\n');
    expect(after).toContain('cf_queue_in_flight 0\n');
  });

  it('keeps two daemons in one process apart (own registries)', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.setOrphans(5);
    expect(await a.text()).toContain('cf_orphans 5');
    expect(await b.text()).toContain('cf_orphans 0');
  });

  it('adds Node process metrics only when asked', async () => {
    expect(await new Metrics().text()).not.toContain('process_cpu_seconds_total');
    expect(await new Metrics({ processMetrics: true }).text()).toContain('process_cpu_seconds_total');
  });

  it('answers 404 for unknown paths, 405 for other methods, and HEAD without a body', async () => {
    const server = await start();
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    const post = await fetch(`${server.url}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${server.url}/healthz?probe=1`)).status).toBe(200);
  });

  it('fails to start with a clear error when the port is taken, and closes cleanly', async () => {
    const first = await start();
    await expect(startHttpServer({ host: '127.0.0.1', port: first.port, metrics: new Metrics(), readiness: {} })).rejects.toThrow(
      /EADDRINUSE/,
    );
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    await expect(fetch(`${first.url}/healthz`)).rejects.toThrow();
  });
});
