/**
 * A keyed work queue with client-go workqueue semantics, over p-queue for the concurrency limit.
 *
 * Guarantees (client-go `util/workqueue/doc.go`):
 * - stingy: a key added several times before it runs runs once;
 * - exclusive: a key never runs in two workers at once;
 * - a key added while it runs runs once more after the current run ends.
 *
 * Keys are opaque strings (`tenant:<id>`, `stack:<id>`); the handler re-reads everything it needs, so
 * merging duplicate adds loses nothing (level-triggered, reconciler-lessons 1-2).
 *
 * One outcome channel decides what happens after a run (style rule 2):
 * - throw → rate-limited retry with per-key exponential backoff;
 * - throw RetryAfterError → a failure retried after the delay the handler chose;
 * - throw TerminalError → no retry;
 * - `{ requeueAfterMs }` → failures forgotten, run again after that delay (a poll, not a backoff);
 * - anything else → success, failures forgotten.
 *
 * All time goes through the injected Clock; there are no raw timers in this module.
 */
import PQueue from 'p-queue';
import { systemClock, type Clock } from '../clock.js';
import { coerceError, TerminalError } from '../errors.js';
import { Backoff } from './backoff.js';
import { KeyFifo } from './key-fifo.js';
import { QueueShutdownError, ReconcileTimeoutError, RetryAfterError } from './queue-errors.js';

/** high = a real change (realtime event, admin edit); low = resync and poll work. */

/** Smallest size of the rate-limited add counts at which they are swept. */
const REQUEUES_SWEEP_MIN = 1024;
export type Priority = 'high' | 'low';

export type ReconcileResult = { requeueAfterMs?: number } | void;

export interface ReconcileContext {
  /** Aborted when the run times out or the queue's shutdown deadline passes. */
  signal: AbortSignal;
  /** 1 for a first try, n + 1 after n consecutive failures. */
  attempt: number;
}

export type ReconcileHandler = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult>;

export type DoneResult = 'success' | 'requeue' | 'error' | 'terminal';

export interface DoneEvent {
  key: string;
  result: DoneResult;
  /** Wall time of the run by the injected clock, in ms. */
  durationMs: number;
  error?: Error;
  /** The attempt number the handler saw. */
  attempt: number;
  priority: Priority;
  /** For 'error' and 'requeue': ms until the key is due again (unless the queue is shutting down). */
  nextInMs?: number;
}

export interface WorkQueueOptions {
  /** Maximum reconciles running at once, across all keys. */
  concurrency: number;
  /** @default systemClock */
  clock?: Clock;
  /** Uniform [0, 1) source for backoff jitter. @default Math.random */
  random?: () => number;
  /** Per-key retry schedule after failures, in ms. @default { baseMs: 1000, maxMs: 300000 } */
  backoff?: { baseMs: number; maxMs: number; factor?: number; jitter?: number };
  /** Abort a run's signal after this many ms and count it as a failure. @default undefined (no limit) */
  reconcileTimeoutMs?: number;
  /**
   * While both high and low keys wait, at least one pick in every `lowPriorityEvery` takes the oldest
   * low key, so resync work keeps moving under a steady stream of changes. @default 5
   */
  lowPriorityEvery?: number;
  /** Called after every run. Exceptions from it are swallowed: a listener must not stop the queue. */
  onDone?: (event: DoneEvent) => void;
}

interface Timer {
  /** Due time, ms since epoch by the injected clock. */
  at: number;
  priority: Priority;
  /** True when this timer is a failure retry (it absorbs low-priority adds until it fires). */
  retry: boolean;
  cancel: () => void;
}

interface Running {
  controller: AbortController;
  settled: Promise<void>;
}

export class WorkQueue {
  readonly #handler: ReconcileHandler;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #timeoutMs: number | undefined;
  readonly #lowEvery: number;
  readonly #onDone: ((event: DoneEvent) => void) | undefined;
  readonly #concurrency: number;
  readonly #pq: PQueue;
  /** p-queue tasks added but not yet started; each one takes the best ready key when it starts. */
  #tasksWaiting = 0;

  // A key is in at most one of #high, #low, #processing at a time.
  readonly #high = new KeyFifo();
  readonly #low = new KeyFifo();
  readonly #processing = new Map<string, Running>();
  /** Keys added while running, with the strongest priority asked for: they run again afterwards. */
  readonly #dirty = new Map<string, Priority>();
  readonly #timers = new Map<string, Timer>();
  readonly #failures = new Map<string, number>();
  /**
   * Rate-limited adds per key and when the last one was made. A run's success does not reset it
   * (a tenant that succeeds each time a failing stack asks for it must still slow down); forget()
   * does, and so does a quiet spell longer than the backoff cap.
   */
  readonly #requeues = new Map<string, { n: number; at: number }>();
  /** `#requeues` is swept of entries past the backoff cap when it grows beyond this size. */
  #requeuesSweepAt = REQUEUES_SWEEP_MIN;
  #highStreak = 0;
  #started = false;
  /** Set the moment shutdown() is called; from then on nothing new is queued or started. */
  #closed = false;
  #closing: Promise<void> | undefined;
  #idleWaiters: Array<() => void> = [];

  constructor(handler: ReconcileHandler, options: WorkQueueOptions) {
    const { concurrency } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new TypeError(`WorkQueue: expected \`concurrency\` to be an integer >= 1, got ${String(concurrency)}`);
    }
    const timeout = options.reconcileTimeoutMs;
    if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
      throw new TypeError(`WorkQueue: expected \`reconcileTimeoutMs\` to be a finite number > 0, got ${String(timeout)}`);
    }
    const lowEvery = options.lowPriorityEvery ?? 5;
    if (!Number.isInteger(lowEvery) || lowEvery < 1) {
      throw new TypeError(`WorkQueue: expected \`lowPriorityEvery\` to be an integer >= 1, got ${String(lowEvery)}`);
    }
    this.#handler = handler;
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new Backoff({ ...options.backoff, random: options.random });
    this.#timeoutMs = timeout;
    this.#lowEvery = lowEvery;
    this.#onDone = options.onDone;
    this.#concurrency = concurrency;
    this.#pq = new PQueue({ concurrency, autoStart: false });
  }

  /** Keys waiting to run (not counting running keys or keys waiting on a timer). */
  get depth(): number {
    return this.#high.size + this.#low.size;
  }

  /** Keys running now. */
  get inFlight(): number {
    return this.#processing.size;
  }

  /** Keys with a pending delayed add (poll or retry). */
  get delayed(): number {
    return this.#timers.size;
  }

  /** Keys whose last run failed (retrying with backoff): the keys `failures()` counts for. */
  get backingOff(): number {
    return this.#failures.size;
  }

  /** Consecutive failed runs of `key` since its last success, terminal error, poll or forget. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Begins running queued keys. Adds made before start are kept and run now. */
  start(): void {
    if (this.#closed || this.#started) return;
    this.#started = true;
    this.#pq.start();
  }

  /**
   * Asks for `key` to be reconciled. Returns false when the add was merged into existing work or the
   * queue is shutting down.
   *
   * A low-priority add for a key that is waiting out a failure backoff is absorbed by the pending
   * retry: otherwise every resync would bypass the backoff of a failing key (reconciler-lessons 9).
   * A high-priority add (a real change) runs at once regardless.
   */
  add(key: string, options: { priority?: Priority } = {}): boolean {
    if (this.#closed) return false;
    const priority = options.priority ?? 'high';
    if (this.#processing.has(key)) {
      const had = this.#dirty.get(key);
      this.#dirty.set(key, had === 'high' ? 'high' : priority);
      return had === undefined;
    }
    if (this.#high.has(key)) return false;
    if (this.#low.has(key)) {
      if (priority === 'high') {
        // Keeps the original enqueue time; the key now competes in the high FIFO.
        const since = this.#low.since(key) ?? this.#clock.now();
        this.#low.delete(key);
        this.#high.push(key, since);
      }
      return false;
    }
    if (priority === 'low' && this.#timers.get(key)?.retry) return false;
    this.#enqueue(key, priority);
    return true;
  }

  /**
   * Adds `key` after `ms` milliseconds. One timer per key: the earliest due time wins, and a later
   * request for a key already due sooner is dropped.
   */
  addAfter(key: string, ms: number, options: { priority?: Priority } = {}): void {
    this.#addAfter(key, ms, options.priority ?? 'low', false);
  }

  /**
   * Asks for `key` to run after its own rate-limited delay (client-go `AddRateLimited`): the n-th
   * such add since the key last succeeded waits the backoff's n-th delay. This is the path for
   * adds one reconcile makes for another key (a stack asking for its tenant, a tenant fanning out
   * to its stacks), so two keys that keep asking for each other slow down instead of spinning.
   * A key waiting out a failure backoff keeps waiting (its retry timer absorbs the add).
   */
  addRateLimited(key: string, options: { priority?: Priority } = {}): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    const last = this.#requeues.get(key);
    const n = last && now - last.at <= this.#backoff.maxMs ? last.n + 1 : 1;
    this.#requeues.set(key, { n, at: now });
    if (this.#requeues.size > this.#requeuesSweepAt) this.#sweepRequeues(now);
    const timer = this.#timers.get(key);
    if (timer?.retry) return;
    this.#addAfter(key, this.#backoff.delayMs(n), options.priority ?? 'low', false);
  }

  /**
   * Drops counts older than the backoff cap: they count as no add at all (the next add starts at
   * one), and a key that never runs again (its record was deleted) would otherwise keep its entry
   * for good. Sweeping only when the map has doubled since the last sweep keeps an add O(1)
   * amortised and the map within twice what the last sweep kept (at least REQUEUES_SWEEP_MIN).
   */
  #sweepRequeues(now: number): void {
    for (const [key, { at }] of this.#requeues) if (now - at > this.#backoff.maxMs) this.#requeues.delete(key);
    this.#requeuesSweepAt = Math.max(REQUEUES_SWEEP_MIN, 2 * this.#requeues.size);
  }

  /** Keys with a rate-limited add count (see `addRateLimited`); swept as the map grows. */
  get rateLimitedKeys(): number {
    return this.#requeues.size;
  }

  /** Resets the key's failure and rate-limited add counts (an admin changed the record). */
  forget(key: string): void {
    this.#failures.delete(key);
    this.#requeues.delete(key);
  }

  /** Resolves once nothing is queued or running (pending timers do not count). */
  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops taking work: queued keys and timers are dropped, adds are refused, and runs in flight are
   * allowed to finish. At `deadlineMs` their signals are aborted with QueueShutdownError; after a
   * further `graceMs` the promise resolves even if a handler ignored its signal, so a hung call cannot
   * block process exit forever. Calling it again returns the same promise.
   */
  shutdown(options: { deadlineMs: number; graceMs?: number }): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    for (const timer of this.#timers.values()) timer.cancel();
    this.#timers.clear();
    this.#high.clear();
    this.#low.clear();
    this.#dirty.clear();
    // Dropped tasks would find no key anyway; clearing them lets p-queue go idle.
    this.#pq.clear();
    this.#tasksWaiting = 0;
    this.#checkIdle();
    this.#closing = this.#drain(options.deadlineMs, options.graceMs ?? 5000);
    return this.#closing;
  }

  async #drain(deadlineMs: number, graceMs: number): Promise<void> {
    if (await this.#waitForRunning(deadlineMs)) return;
    for (const [key, running] of this.#processing) running.controller.abort(new QueueShutdownError(key));
    await this.#waitForRunning(graceMs);
  }

  /** True if every running reconcile settled within `ms`. */
  async #waitForRunning(ms: number): Promise<boolean> {
    if (this.#processing.size === 0) return true;
    const stopTimer = new AbortController();
    const all = Promise.all([...this.#processing.values()].map((r) => r.settled)).then(() => true);
    const timer = this.#clock.sleep(ms, stopTimer.signal).then(
      () => false,
      () => false,
    );
    const finished = await Promise.race([all, timer]);
    stopTimer.abort();
    return finished;
  }

  #addAfter(key: string, ms: number, priority: Priority, retry: boolean): void {
    if (this.#closed) return;
    if (!(ms > 0)) {
      this.add(key, { priority });
      return;
    }
    const at = this.#clock.now() + ms;
    const existing = this.#timers.get(key);
    if (existing) {
      if (existing.at <= at) {
        if (priority === 'high') existing.priority = 'high';
        existing.retry ||= retry;
        return;
      }
      existing.cancel();
    }
    const timer: Timer = {
      at,
      priority: existing?.priority === 'high' ? 'high' : priority,
      retry: retry || (existing?.retry ?? false),
      cancel: () => {},
    };
    timer.cancel = this.#clock.schedule(() => {
      if (this.#timers.get(key) !== timer) return;
      this.#timers.delete(key);
      this.add(key, { priority: timer.priority });
    }, ms);
    this.#timers.set(key, timer);
  }

  #dropRetryTimer(key: string): void {
    const timer = this.#timers.get(key);
    if (timer?.retry) {
      timer.cancel();
      this.#timers.delete(key);
    }
  }

  #enqueue(key: string, priority: Priority): void {
    (priority === 'high' ? this.#high : this.#low).push(key, this.#clock.now());
    this.#pump();
  }

  /**
   * Hands work to p-queue lazily: never more unstarted tasks than ready keys, and no more tasks than
   * workers. p-queue's internal queue shifts an array (O(n) per task), so a 10k-key resync must stay
   * in our FIFOs rather than become 10k p-queue entries. Called on every enqueue and after every run,
   * so a ready key is never left without a task to pick it.
   */
  #pump(): void {
    while (this.#tasksWaiting < this.depth && this.#tasksWaiting + this.#processing.size < this.#concurrency) {
      this.#tasksWaiting++;
      this.#pq
        .add(() => {
          this.#tasksWaiting--;
          return this.#runNext();
        })
        .catch(() => {});
    }
  }

  #pick(): { key: string; priority: Priority } | undefined {
    const high = this.#high.peek();
    const low = this.#low.peek();
    if (high !== undefined && (low === undefined || this.#highStreak < this.#lowEvery - 1)) {
      this.#high.shift();
      this.#highStreak = low === undefined ? 0 : this.#highStreak + 1;
      return { key: high, priority: 'high' };
    }
    if (low !== undefined) {
      this.#low.shift();
      this.#highStreak = 0;
      return { key: low, priority: 'low' };
    }
    return undefined;
  }

  async #runNext(): Promise<void> {
    const next = this.#pick();
    if (!next) return;
    const { key, priority } = next;
    const controller = new AbortController();
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.#processing.set(key, { controller, settled });
    try {
      await this.#run(key, priority, controller);
    } finally {
      this.#processing.delete(key);
      settle();
      const again = this.#dirty.get(key);
      if (again !== undefined) {
        this.#dirty.delete(key);
        // Through add() so a low-priority re-add of a key that just failed waits for its retry.
        this.add(key, { priority: again });
      }
      if (!this.#closed) this.#pump();
      this.#checkIdle();
    }
  }

  async #run(key: string, priority: Priority, controller: AbortController): Promise<void> {
    const attempt = this.failures(key) + 1;
    const startedAt = this.#clock.now();
    let timeoutError: ReconcileTimeoutError | undefined;
    const timeoutMs = this.#timeoutMs;
    const cancelTimeout =
      timeoutMs === undefined
        ? () => {}
        : this.#clock.schedule(() => {
            timeoutError = new ReconcileTimeoutError(key, timeoutMs);
            controller.abort(timeoutError);
          }, timeoutMs);

    let result: ReconcileResult = undefined;
    let error: Error | undefined;
    try {
      // The handler runs to completion even after an abort: releasing the key before it settles would
      // let a second run of the same key start while the first still talks to Coolify.
      result = await this.#handler(key, { signal: controller.signal, attempt });
    } catch (e) {
      error = coerceError(e);
    } finally {
      cancelTimeout();
    }
    if (timeoutError) {
      // A timed-out run is a failure even if the handler later returned normally.
      if (error && error !== timeoutError) timeoutError = new ReconcileTimeoutError(key, timeoutError.timeoutMs, { cause: error });
      error = timeoutError;
    }

    const event: DoneEvent = { key, result: 'success', durationMs: this.#clock.now() - startedAt, attempt, priority };
    if (error instanceof TerminalError) {
      this.#failures.delete(key);
      this.#dropRetryTimer(key);
      event.result = 'terminal';
      event.error = error;
    } else if (error) {
      const failures = this.failures(key) + 1;
      this.#failures.set(key, failures);
      const delay = error instanceof RetryAfterError ? Math.max(1, error.retryInMs) : this.#backoff.delayMs(failures);
      this.#addAfter(key, delay, priority, true);
      event.result = 'error';
      event.error = error;
      event.nextInMs = delay;
    } else {
      this.#failures.delete(key);
      this.#dropRetryTimer(key);
      const asked = this.#requeues.get(key);
      if (asked && this.#clock.now() - asked.at > this.#backoff.maxMs) this.#requeues.delete(key);
      const after = result?.requeueAfterMs;
      if (after !== undefined && Number.isFinite(after) && after > 0) {
        // A poll (a service starting, stopping, a change held to coalesce a burst) runs ahead of
        // resync work: a cold start of many stacks must not starve it. Polls now cost no Coolify
        // call of their own (the shared view answers them), so they cannot crowd anything out.
        this.#addAfter(key, after, 'high', false);
        event.result = 'requeue';
        event.nextInMs = after;
      }
    }
    if (this.#onDone) {
      try {
        this.#onDone(event);
      } catch {
        // A broken listener must not stop the queue; the run's outcome is already recorded.
      }
    }
  }

  #isIdle(): boolean {
    return this.depth === 0 && this.#processing.size === 0;
  }

  #checkIdle(): void {
    if (!this.#isIdle() || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
