import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../src/clock.js';
import { TerminalError } from '../../../src/errors.js';
import { QueueShutdownError, ReconcileTimeoutError, RetryAfterError } from '../../../src/queue/queue-errors.js';
import { WorkQueue, type DoneEvent, type WorkQueueOptions } from '../../../src/queue/work-queue.js';
import { flush, HandlerHarness } from './handler-harness.js';

function setup(options: Partial<WorkQueueOptions> = {}) {
  const clock = new ManualClock();
  const h = new HandlerHarness();
  const done: DoneEvent[] = [];
  const queue = new WorkQueue(h.handler, {
    concurrency: 1,
    clock,
    // random() = 0 draws no jitter, so retry times are exact and the test can step to them.
    random: () => 0,
    backoff: { baseMs: 1000, maxMs: 30_000 },
    onDone: (e) => done.push(e),
    ...options,
  });
  /** Lets the queue record what just settled, moves the manual clock, and lets the queue react. */
  const advance = async (ms: number) => {
    await flush();
    clock.advance(ms);
    await flush();
  };
  return { clock, h, done, queue, advance };
}

describe('WorkQueue: dedupe and exclusivity', () => {
  it('runs a key queued several times only once', async () => {
    const { h, queue } = setup();
    queue.add('stack:a');
    queue.add('stack:a', { priority: 'low' });
    queue.add('stack:a');
    expect(queue.depth).toBe(1);
    queue.start();
    await flush();
    h.finish('stack:a');
    await queue.onIdle();
    await flush();
    expect(h.started).toEqual(['stack:a']);
  });

  it('merges adds of a key that is waiting behind busy workers', async () => {
    const { h, queue } = setup();
    queue.start();
    queue.add('busy');
    await flush();
    queue.add('stack:a', { priority: 'low' });
    queue.add('stack:a');
    queue.addAfter('stack:a', 0);
    expect(queue.depth).toBe(1);
    h.finish('busy');
    await flush();
    h.finish('stack:a');
    await queue.onIdle();
    await flush();
    expect(h.started).toEqual(['busy', 'stack:a']);
  });

  it('never runs one key twice at once, and re-runs it exactly once when added during its run', async () => {
    const { h, queue } = setup({ concurrency: 4 });
    queue.start();
    queue.add('stack:a');
    await flush();
    expect(h.runningKeys()).toEqual(['stack:a']);

    // A change arrives three times while the first run is in progress.
    queue.add('stack:a');
    queue.add('stack:a', { priority: 'low' });
    queue.add('stack:a');
    await flush();
    expect(h.runningKeys()).toEqual(['stack:a']);
    expect(queue.depth).toBe(0);
    expect(queue.inFlight).toBe(1);

    h.finish('stack:a');
    await flush();
    expect(h.runningKeys()).toEqual(['stack:a']);
    h.finish('stack:a');
    await queue.onIdle();
    await flush();
    expect(h.count('stack:a')).toBe(2);
    expect(h.overlaps).toEqual([]);
  });

  it('honours the concurrency limit across keys', async () => {
    const { h, queue } = setup({ concurrency: 3 });
    for (let i = 0; i < 10; i++) queue.add(`stack:${i}`);
    queue.start();
    await flush();
    expect(h.running).toHaveLength(3);
    expect(queue.inFlight).toBe(3);
    expect(queue.depth).toBe(7);
    while (h.running.length > 0) {
      const first = h.running[0];
      if (!first) break;
      h.finish(first.key);
      await flush();
      expect(h.running.length).toBeLessThanOrEqual(3);
    }
    await queue.onIdle();
    expect(h.maxParallel).toBe(3);
    expect(new Set(h.started).size).toBe(10);
    expect(h.started).toHaveLength(10);
  });

  it('keeps adds made before start() and runs them once started', async () => {
    const { h, queue } = setup();
    queue.add('tenant:t1');
    await flush();
    expect(h.started).toEqual([]);
    queue.start();
    await flush();
    expect(h.runningKeys()).toEqual(['tenant:t1']);
    h.finish('tenant:t1');
    await queue.onIdle();
  });
});

describe('WorkQueue: failures and backoff', () => {
  it('retries a failing key with exponential backoff up to the cap and reports each delay', async () => {
    const { h, queue, done, advance } = setup({ backoff: { baseMs: 1000, maxMs: 8000 } });
    queue.start();
    queue.add('stack:a');
    await flush();

    const expected = [1000, 2000, 4000, 8000, 8000];
    for (const [i, delay] of expected.entries()) {
      expect(h.call('stack:a').attempt).toBe(i + 1);
      h.fail('stack:a');
      await flush();
      expect(queue.failures('stack:a')).toBe(i + 1);
      expect(done.at(-1)).toMatchObject({ key: 'stack:a', result: 'error', nextInMs: delay });
      // Not a millisecond early...
      await advance(delay - 1);
      expect(h.runningKeys()).toEqual([]);
      expect(queue.delayed).toBe(1);
      // ...and on time.
      await advance(1);
      expect(h.runningKeys()).toEqual(['stack:a']);
    }
    expect(h.count('stack:a')).toBe(6);
  });

  it('keeps jittered retry delays inside the configured bounds', async () => {
    let r = 0;
    const draws = [0.9, 0.5, 0.25, 0.75, 0];
    const { h, queue, done } = setup({
      random: () => draws[r++ % draws.length] ?? 0,
      backoff: { baseMs: 1000, maxMs: 4000, jitter: 0.5 },
    });
    queue.start();
    for (let i = 0; i < 5; i++) {
      queue.add('stack:j', { priority: 'high' });
      await flush();
      h.fail('stack:j');
      await flush();
    }
    const delays = done.map((e) => e.nextInMs ?? -1);
    const ceilings = [1000, 2000, 4000, 4000, 4000];
    for (const [i, d] of delays.entries()) {
      const ceiling = ceilings[i] ?? 0;
      expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling * 0.5));
      expect(d).toBeLessThanOrEqual(ceiling);
    }
    expect(delays).toEqual([550, 1500, 3500, 2500, 4000]);
  });

  it('resets the failure count on success, so the next failure starts from the base delay', async () => {
    const { h, queue, done, advance } = setup();
    queue.start();
    queue.add('stack:a');
    await flush();
    h.fail('stack:a');
    await advance(1000);
    h.fail('stack:a');
    await advance(2000);
    expect(queue.failures('stack:a')).toBe(2);
    expect(h.call('stack:a').attempt).toBe(3);
    h.finish('stack:a');
    await flush();
    expect(queue.failures('stack:a')).toBe(0);
    expect(done.at(-1)?.result).toBe('success');

    queue.add('stack:a');
    await flush();
    expect(h.call('stack:a').attempt).toBe(1);
    h.fail('stack:a');
    await flush();
    expect(done.at(-1)?.nextInMs).toBe(1000);
  });

  it('resets the failure count on forget()', async () => {
    const { h, queue, done, advance } = setup();
    queue.start();
    queue.add('stack:a');
    await flush();
    h.fail('stack:a');
    await advance(1000);
    h.fail('stack:a');
    await flush();
    expect(queue.failures('stack:a')).toBe(2);

    // The admin edits the record: the engine forgets the backoff and enqueues the change.
    queue.forget('stack:a');
    queue.add('stack:a', { priority: 'high' });
    await flush();
    expect(queue.failures('stack:a')).toBe(0);
    expect(h.call('stack:a').attempt).toBe(1);
    h.fail('stack:a');
    await flush();
    expect(done.at(-1)?.nextInMs).toBe(1000);
  });

  it('lets a resync (low) add wait for a pending retry, but runs a real change (high) at once', async () => {
    const { h, queue, advance } = setup({ backoff: { baseMs: 10_000, maxMs: 60_000 } });
    queue.start();
    queue.add('stack:a');
    await flush();
    h.fail('stack:a');
    await flush();

    expect(queue.add('stack:a', { priority: 'low' })).toBe(false);
    await advance(5000);
    expect(h.runningKeys()).toEqual([]);

    expect(queue.add('stack:a', { priority: 'high' })).toBe(true);
    await flush();
    expect(h.runningKeys()).toEqual(['stack:a']);
    h.finish('stack:a');
    await flush();
    // Success drops the now pointless retry: nothing runs when it would have fired.
    await advance(60_000);
    expect(h.count('stack:a')).toBe(2);
    expect(queue.delayed).toBe(0);
  });

  it('does not let a resync add made during a failing run bypass the backoff', async () => {
    const { h, queue, advance } = setup({ backoff: { baseMs: 10_000, maxMs: 60_000 } });
    queue.start();
    queue.add('stack:a');
    await flush();
    queue.add('stack:a', { priority: 'low' }); // a resync lands while the run is in progress
    h.fail('stack:a');
    await flush();
    expect(h.runningKeys()).toEqual([]);
    await advance(9999);
    expect(h.count('stack:a')).toBe(1);
    await advance(1);
    expect(h.runningKeys()).toEqual(['stack:a']);
  });

  it('re-runs at once when a real change lands during a failing run', async () => {
    const { h, queue } = setup({ backoff: { baseMs: 10_000, maxMs: 60_000 } });
    queue.start();
    queue.add('stack:a');
    await flush();
    queue.add('stack:a', { priority: 'high' });
    h.fail('stack:a');
    await flush();
    expect(h.runningKeys()).toEqual(['stack:a']);
    expect(h.call('stack:a').attempt).toBe(2);
  });

  it('does not retry a TerminalError', async () => {
    const { h, queue, done, advance, clock } = setup();
    queue.start();
    queue.add('stack:bad');
    await flush();
    h.fail('stack:bad', new TerminalError('template "nope" is unknown'));
    await flush();
    expect(done.at(-1)).toMatchObject({ key: 'stack:bad', result: 'terminal' });
    expect(done.at(-1)?.error?.message).toBe('template "nope" is unknown');
    expect(queue.failures('stack:bad')).toBe(0);
    expect(clock.pending).toBe(0);
    await advance(3_600_000);
    expect(h.count('stack:bad')).toBe(1);
    // It runs again when something asks for it (the record changed).
    queue.add('stack:bad');
    await flush();
    expect(h.runningKeys()).toEqual(['stack:bad']);
    h.finish('stack:bad');
    await queue.onIdle();
  });

  it('treats a synchronous throw and a non-Error rejection as failures', async () => {
    const clock = new ManualClock();
    const done: DoneEvent[] = [];
    const q2 = new WorkQueue(
      (key) => {
        if (key === 'sync') throw new Error('boom');
        return Promise.reject('plain string');
      },
      { concurrency: 2, clock, random: () => 0, onDone: (e) => done.push(e) },
    );
    q2.start();
    q2.add('sync');
    q2.add('string');
    await q2.onIdle();
    await flush();
    expect(done.map((e) => [e.key, e.result, e.error?.message])).toEqual([
      ['sync', 'error', 'boom'],
      ['string', 'error', 'plain string'],
    ]);
    expect(q2.failures('sync')).toBe(1);
    expect(q2.failures('string')).toBe(1);
    await q2.shutdown({ deadlineMs: 0 });
  });

  it('keeps running when an onDone listener throws', async () => {
    const { h, clock } = setup();
    const queue = new WorkQueue(h.handler, {
      concurrency: 1,
      clock,
      onDone: () => {
        throw new Error('listener bug');
      },
    });
    queue.start();
    queue.add('a');
    queue.add('b');
    await flush();
    h.finish('a');
    await flush();
    h.finish('b');
    await queue.onIdle();
    expect(h.started).toEqual(['a', 'b']);
  });
});

describe('WorkQueue: rate-limited adds between keys', () => {
  it('delays the n-th add of a key made by other reconciles by the n-th backoff step, even when each run succeeds', async () => {
    // Two keys that keep asking for each other (a stack that cannot create asks for its tenant,
    // the tenant fans out to the stack again) must slow down, not spin.
    const { h, queue, advance } = setup({ backoff: { baseMs: 1000, maxMs: 8000 } });
    queue.start();
    for (const delay of [1000, 2000, 4000, 8000, 8000]) {
      queue.addRateLimited('tenant:t');
      await advance(delay - 1);
      expect(h.runningKeys()).toEqual([]);
      await advance(1);
      expect(h.runningKeys()).toEqual(['tenant:t']);
      h.finish('tenant:t');
      await flush();
    }
    // An admin change forgets the count...
    queue.forget('tenant:t');
    queue.addRateLimited('tenant:t');
    await advance(1000);
    expect(h.runningKeys()).toEqual(['tenant:t']);
    h.finish('tenant:t');
    queue.addRateLimited('tenant:t');
    await advance(1999);
    expect(h.runningKeys()).toEqual([]);
    await advance(1);
    h.finish('tenant:t');
    // ...and so does a quiet spell longer than the backoff cap.
    await advance(8001);
    queue.addRateLimited('tenant:t');
    await advance(1000);
    expect(h.runningKeys()).toEqual(['tenant:t']);
  });

  it('forgets the counts of keys that never run again once they are older than the backoff cap', async () => {
    // Stacks deleted after asking for their tenant leave no count behind for good: 5,000 keys asked
    // for and never seen again, then (past the cap) 5,000 others; only the recent ones are kept.
    const { queue, advance } = setup({ backoff: { baseMs: 1000, maxMs: 8000 } });
    for (let i = 0; i < 5000; i++) queue.addRateLimited(`stack:old-${i}`);
    await advance(8001);
    for (let i = 0; i < 5000; i++) queue.addRateLimited(`stack:new-${i}`);
    // Kept for good, the old counts would make 10,000; the recent ones are all still counted.
    expect(queue.rateLimitedKeys).toBeLessThan(10_000);
    expect(queue.rateLimitedKeys).toBeGreaterThanOrEqual(5000);
  });

  it('lets a key waiting out a failure keep waiting when another reconcile asks for it', async () => {
    const { h, queue, advance } = setup({ backoff: { baseMs: 10_000, maxMs: 60_000 } });
    queue.start();
    queue.add('stack:a');
    await flush();
    h.fail('stack:a');
    await flush();
    queue.addRateLimited('stack:a', { priority: 'high' });
    await advance(9_999);
    expect(h.runningKeys()).toEqual([]);
    await advance(1);
    expect(h.runningKeys()).toEqual(['stack:a']);
  });

  it('retries a RetryAfterError after the delay the handler chose, absorbing resync adds meanwhile', async () => {
    const { h, queue, done, advance } = setup({ backoff: { baseMs: 1000, maxMs: 8000 } });
    queue.start();
    queue.add('stack:a');
    await flush();
    h.fail('stack:a', new RetryAfterError('start does not take', 600_000));
    await flush();
    expect(done.at(-1)).toMatchObject({ result: 'error', nextInMs: 600_000 });
    expect(queue.add('stack:a', { priority: 'low' })).toBe(false);
    await advance(599_999);
    expect(h.runningKeys()).toEqual([]);
    await advance(1);
    expect(h.runningKeys()).toEqual(['stack:a']);
  });
});

describe('WorkQueue: polls and delayed adds', () => {
  it('requeueAfter forgets failures and runs the key again after that delay', async () => {
    const { h, queue, done, advance } = setup();
    queue.start();
    queue.add('stack:a');
    await flush();
    h.fail('stack:a');
    await advance(1000);
    expect(queue.failures('stack:a')).toBe(1);

    h.finish('stack:a', { requeueAfterMs: 15_000 });
    await flush();
    expect(done.at(-1)).toMatchObject({ result: 'requeue', nextInMs: 15_000 });
    expect(queue.failures('stack:a')).toBe(0);
    await advance(14_999);
    expect(h.runningKeys()).toEqual([]);
    await advance(1);
    expect(h.runningKeys()).toEqual(['stack:a']);
    expect(h.call('stack:a').attempt).toBe(1);
    h.finish('stack:a');
    await queue.onIdle();
  });

  it('keeps one timer per key with the earliest due time winning', async () => {
    const { h, queue, advance, clock } = setup();
    queue.start();
    queue.addAfter('stack:a', 10_000);
    queue.addAfter('stack:a', 3000);
    queue.addAfter('stack:a', 8000);
    expect(queue.delayed).toBe(1);
    expect(clock.pending).toBe(1);
    await advance(2999);
    expect(h.started).toEqual([]);
    await advance(1);
    expect(h.runningKeys()).toEqual(['stack:a']);
    h.finish('stack:a');
    await advance(60_000);
    expect(h.count('stack:a')).toBe(1);
  });

  it('treats addAfter with a zero or negative delay as an immediate add', async () => {
    const { h, queue } = setup();
    queue.addAfter('stack:a', 0);
    queue.addAfter('stack:a', -5);
    expect(queue.depth).toBe(1);
    expect(queue.delayed).toBe(0);
    queue.start();
    await flush();
    expect(h.runningKeys()).toEqual(['stack:a']);
    h.finish('stack:a');
    await queue.onIdle();
    expect(h.count('stack:a')).toBe(1);
  });
});

describe('WorkQueue: priorities', () => {
  it('runs high-priority keys before low ones, and an upgraded low key with the high ones', async () => {
    const { h, queue } = setup();
    queue.start();
    queue.add('busy');
    await flush();
    queue.add('low:1', { priority: 'low' });
    queue.add('low:2', { priority: 'low' });
    queue.add('high:1', { priority: 'high' });
    queue.add('low:3', { priority: 'low' });
    queue.add('high:2');
    queue.add('low:2', { priority: 'high' }); // a real change for a key queued by resync
    h.finish('busy');
    for (let i = 0; i < 6; i++) {
      await flush();
      const key = h.running[0]?.key;
      if (key === undefined) break;
      h.finish(key);
    }
    await queue.onIdle();
    expect(h.started).toEqual(['busy', 'high:1', 'high:2', 'low:2', 'low:1', 'low:3']);
  });

  it('never starves low-priority keys under a steady stream of high-priority changes', async () => {
    const { h, queue } = setup({ lowPriorityEvery: 4 });
    queue.start();
    queue.add('busy');
    await flush();
    for (let i = 0; i < 3; i++) queue.add(`low:${i}`, { priority: 'low' });
    let nextHigh = 0;
    for (let i = 0; i < 4; i++) queue.add(`high:${nextHigh++}`);

    // Every time a run ends a new high-priority change arrives, so high work never runs out.
    for (let step = 0; step < 16; step++) {
      const key = h.running[0]?.key;
      if (key === undefined) throw new Error('a worker should always be busy here');
      h.finish(key);
      queue.add(`high:${nextHigh++}`);
      await flush();
    }
    const picks = h.started.slice(1);
    expect(picks.filter((k) => k.startsWith('low:'))).toEqual(['low:0', 'low:1', 'low:2']);
    // At most lowPriorityEvery − 1 high picks in a row while low keys wait.
    expect(picks.slice(0, 12)).toEqual([
      'high:0', 'high:1', 'high:2', 'low:0',
      'high:3', 'high:4', 'high:5', 'low:1',
      'high:6', 'high:7', 'high:8', 'low:2',
    ]);
  });
});

describe('WorkQueue: priority of follow-up runs', () => {
  it('retries a failed low-priority run at low priority, behind real changes', async () => {
    const { h, queue, advance } = setup();
    queue.start();
    queue.add('resync:a', { priority: 'low' });
    await flush();
    h.fail('resync:a');
    await flush();
    queue.add('busy');
    await flush();
    await advance(1000); // the retry of resync:a becomes ready while busy runs
    queue.add('change:b', { priority: 'high' });
    h.finish('busy');
    await flush();
    expect(h.runningKeys()).toEqual(['change:b']);
    h.finish('change:b');
    await flush();
    expect(h.runningKeys()).toEqual(['resync:a']);
    expect(h.call('resync:a').attempt).toBe(2);
  });

  it('runs a polled key (requeueAfter) ahead of resync work queued before it', async () => {
    const { h, queue, advance } = setup();
    queue.start();
    queue.add('stack:deploying');
    await flush();
    h.finish('stack:deploying', { requeueAfterMs: 15_000 });
    queue.add('busy');
    await flush();
    // A cold start's backlog, all low priority, is already waiting when the poll comes due.
    for (const k of ['resync:a', 'resync:b', 'resync:c']) queue.add(k, { priority: 'low' });
    await advance(15_000);
    h.finish('busy');
    await flush();
    expect(h.runningKeys()).toEqual(['stack:deploying']);
  });

  it('lets a high add upgrade a pending poll timer', async () => {
    const { h, queue, advance } = setup();
    queue.start();
    queue.add('busy');
    await flush();
    queue.addAfter('stack:a', 1000);
    queue.addAfter('stack:a', 5000, { priority: 'high' });
    await advance(1000);
    queue.add('change:b');
    h.finish('busy');
    await flush();
    expect(h.runningKeys()).toEqual(['stack:a']);
  });
});

describe('WorkQueue: per-reconcile timeout', () => {
  it('aborts the signal at the timeout and counts the run as a failure with backoff', async () => {
    const { h, queue, done, advance } = setup({ reconcileTimeoutMs: 30_000 });
    queue.start();
    queue.add('stack:slow');
    await flush();
    const call = h.call('stack:slow');
    call.signal.addEventListener('abort', () => call.settle({ error: call.signal.reason }));

    await advance(29_999);
    expect(call.signal.aborted).toBe(false);
    await advance(1);
    expect(call.signal.aborted).toBe(true);
    expect(call.signal.reason).toBeInstanceOf(ReconcileTimeoutError);
    expect(done.at(-1)).toMatchObject({ key: 'stack:slow', result: 'error', nextInMs: 1000, durationMs: 30_000 });
    expect(done.at(-1)?.error).toBeInstanceOf(ReconcileTimeoutError);
    expect(queue.failures('stack:slow')).toBe(1);
    await advance(1000);
    expect(h.runningKeys()).toEqual(['stack:slow']);
    expect(h.call('stack:slow').attempt).toBe(2);
  });

  it('holds the key until a handler that ignores the abort settles, and still counts a failure', async () => {
    const { h, queue, done, advance } = setup({ concurrency: 2, reconcileTimeoutMs: 1000 });
    queue.start();
    queue.add('stack:stuck');
    await flush();
    await advance(5000);
    expect(h.call('stack:stuck').signal.aborted).toBe(true);
    queue.add('stack:stuck');
    await flush();
    expect(h.runningKeys()).toEqual(['stack:stuck']);

    h.finish('stack:stuck');
    await flush();
    expect(done[0]).toMatchObject({ result: 'error' });
    expect(done[0]?.error).toBeInstanceOf(ReconcileTimeoutError);
    // The add made during the run still gets its pass, and never overlapped the first.
    expect(h.runningKeys()).toEqual(['stack:stuck']);
    expect(h.overlaps).toEqual([]);
  });

  it('leaves no timer behind when the run finishes before the timeout', async () => {
    const { h, queue, clock } = setup({ reconcileTimeoutMs: 30_000 });
    queue.start();
    queue.add('stack:fast');
    await flush();
    expect(clock.pending).toBe(1);
    h.finish('stack:fast');
    await queue.onIdle();
    await flush();
    expect(clock.pending).toBe(0);
  });
});

describe('WorkQueue: shutdown', () => {
  it('waits for runs in flight, starts no new work and refuses adds', async () => {
    const { h, queue, clock } = setup({ concurrency: 2 });
    queue.start();
    queue.add('a');
    queue.add('b');
    queue.add('c');
    queue.addAfter('d', 10_000);
    await flush();
    expect(h.runningKeys()).toEqual(['a', 'b']);

    let finished = false;
    const stopped = queue.shutdown({ deadlineMs: 30_000 }).then(() => (finished = true));
    await flush();
    expect(queue.depth).toBe(0);
    expect(queue.delayed).toBe(0);
    expect(queue.add('e')).toBe(false);

    h.finish('a');
    await flush();
    expect(finished).toBe(false);
    expect(h.runningKeys()).toEqual(['b']);
    h.fail('b'); // a failure during shutdown must not schedule a retry
    await stopped;
    expect(finished).toBe(true);
    expect(h.started).toEqual(['a', 'b']);
    expect(h.runningKeys()).toEqual([]);
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    await flush();
    expect(h.started).toEqual(['a', 'b']);
  });

  it('aborts runs still going at the deadline and resolves once they settle', async () => {
    const { h, queue, advance } = setup();
    queue.start();
    queue.add('a');
    await flush();
    const call = h.call('a');
    call.signal.addEventListener('abort', () => call.settle({ error: call.signal.reason }));

    let finished = false;
    void queue.shutdown({ deadlineMs: 10_000 }).then(() => (finished = true));
    await advance(9999);
    expect(call.signal.aborted).toBe(false);
    expect(finished).toBe(false);
    await advance(1);
    expect(call.signal.reason).toBeInstanceOf(QueueShutdownError);
    expect(finished).toBe(true);
  });

  it('gives up on a handler that ignores the abort after the grace period', async () => {
    const { h, queue, advance, clock } = setup();
    queue.start();
    queue.add('a');
    await flush();
    let finished = false;
    void queue.shutdown({ deadlineMs: 1000, graceMs: 2000 }).then(() => (finished = true));
    await advance(1000);
    expect(h.call('a').signal.aborted).toBe(true);
    await advance(1999);
    expect(finished).toBe(false);
    await advance(1);
    expect(finished).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('resolves at once when idle, and returns the same promise when called twice', async () => {
    const { queue } = setup();
    queue.start();
    const first = queue.shutdown({ deadlineMs: 1000 });
    expect(queue.shutdown({ deadlineMs: 5 })).toBe(first);
    await first;
    queue.start();
    expect(queue.add('a')).toBe(false);
  });
});

describe('WorkQueue: randomised schedule', () => {
  it('never overlaps a key, never exceeds the worker limit, and never loses an add', async () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
    const clock = new ManualClock();
    const h = new HandlerHarness();
    const events: Array<['add' | 'start', string]> = [];
    const concurrency = 3;
    const queue = new WorkQueue(
      (key, ctx) => {
        events.push(['start', key]);
        return h.handler(key, ctx);
      },
      { concurrency, clock, random: rnd, backoff: { baseMs: 100, maxMs: 2000 }, lowPriorityEvery: 3 },
    );
    const keys = Array.from({ length: 12 }, (_, i) => `stack:${i}`);
    queue.start();
    for (let step = 0; step < 3000; step++) {
      const r = rnd();
      if (r < 0.45) {
        const key = pick(keys);
        // A high add always leads to a run; a low add may be absorbed by a pending retry, which runs later.
        queue.add(key, { priority: rnd() < 0.5 ? 'high' : 'low' });
        events.push(['add', key]);
      } else if (r < 0.85 && h.running.length > 0) {
        const call = pick(h.running);
        const outcome = rnd();
        if (outcome < 0.6) call.settle({});
        else if (outcome < 0.8) call.settle({ error: new Error('transient') });
        else call.settle({ result: { requeueAfterMs: 50 + Math.floor(rnd() * 500) } });
      } else {
        clock.advance(Math.floor(rnd() * 300));
      }
      await flush();
      expect(h.running.length).toBeLessThanOrEqual(concurrency);
    }
    // Drain: succeed everything, let timers fire, until nothing is left.
    for (let i = 0; i < 500 && (queue.depth > 0 || queue.inFlight > 0 || queue.delayed > 0); i++) {
      for (const call of [...h.running]) call.settle({});
      clock.advance(5000);
      await flush();
    }
    expect([queue.depth, queue.inFlight, queue.delayed]).toEqual([0, 0, 0]);
    expect(h.overlaps).toEqual([]);
    expect(h.maxParallel).toBe(concurrency);
    for (const key of keys) {
      const lastAdd = events.map(([kind, k]) => kind === 'add' && k === key).lastIndexOf(true);
      const lastStart = events.map(([kind, k]) => kind === 'start' && k === key).lastIndexOf(true);
      expect({ key, ranAfterLastAdd: lastStart > lastAdd }).toEqual({ key, ranAfterLastAdd: true });
    }
  });
});

describe('WorkQueue: options', () => {
  it('rejects bad options with a message naming the option', () => {
    const handler = async () => undefined;
    expect(() => new WorkQueue(handler, { concurrency: 0 })).toThrow('`concurrency`');
    expect(() => new WorkQueue(handler, { concurrency: 1, reconcileTimeoutMs: -1 })).toThrow('`reconcileTimeoutMs`');
    expect(() => new WorkQueue(handler, { concurrency: 1, lowPriorityEvery: 0 })).toThrow('`lowPriorityEvery`');
    expect(() => new WorkQueue(handler, { concurrency: 1, backoff: { baseMs: 10, maxMs: 1 } })).toThrow('`maxMs`');
  });
});
