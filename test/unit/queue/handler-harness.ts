/**
 * A reconcile handler driven by the test: every call stays pending until the test finishes or fails
 * it, so the test decides exactly when each run ends. It also records what the queue guarantees are
 * about: which keys ran, in what order, and whether one key ever ran twice at once.
 */
import type { ReconcileContext, ReconcileResult } from '../../../src/queue/work-queue.js';

export interface Call {
  key: string;
  attempt: number;
  signal: AbortSignal;
  settle: (outcome: { result?: ReconcileResult; error?: unknown }) => void;
}

export class HandlerHarness {
  /** Keys in the order their runs started. */
  readonly started: string[] = [];
  /** Runs started but not yet finished, oldest first. */
  readonly running: Call[] = [];
  /** Highest number of runs in progress at the same time, over all keys. */
  maxParallel = 0;
  /** Keys that were started while another run of the same key was still in progress. */
  readonly overlaps: string[] = [];

  readonly handler = (key: string, ctx: ReconcileContext): Promise<ReconcileResult> => {
    if (this.running.some((c) => c.key === key)) this.overlaps.push(key);
    this.started.push(key);
    return new Promise<ReconcileResult>((resolve, reject) => {
      const call: Call = {
        key,
        attempt: ctx.attempt,
        signal: ctx.signal,
        settle: ({ result, error }) => {
          const i = this.running.indexOf(call);
          if (i >= 0) this.running.splice(i, 1);
          if (error !== undefined) reject(error);
          else resolve(result);
        },
      };
      this.running.push(call);
      this.maxParallel = Math.max(this.maxParallel, this.running.length);
    });
  };

  /** The single running call for `key`; throws if there is none, so a test cannot pass vacuously. */
  call(key: string): Call {
    const found = this.running.find((c) => c.key === key);
    if (!found) throw new Error(`no run of ${key} in progress (running: ${this.runningKeys().join(', ') || 'none'})`);
    return found;
  }

  finish(key: string, result?: ReconcileResult): void {
    this.call(key).settle({ result });
  }

  fail(key: string, error: unknown = new Error(`reconcile of ${key} failed`)): void {
    this.call(key).settle({ error });
  }

  runningKeys(): string[] {
    return this.running.map((c) => c.key);
  }

  count(key: string): number {
    return this.started.filter((k) => k === key).length;
  }
}

/**
 * Lets every pending promise callback run (p-queue schedules through promises and queueMicrotask).
 * A macrotask boundary drains the whole microtask queue, including callbacks queued while draining.
 */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
