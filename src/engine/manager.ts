/**
 * The daemon's parts as runnables under one manager (controller-runtime's Manager is the model).
 * Each part (HTTP server, lease, change feed, drift resync, env checks, event pruning, queue
 * workers) has a start and a stop and says whether it needs leadership. The manager starts the
 * others at once in the order they were added (the HTTP server first, so /healthz and /metrics
 * answer whatever PocketBase does), and the leadership ones only while this daemon holds the lease.
 * Stopping hands every part the same abort signal, fired at one shutdown deadline: parts that do
 * Coolify work stop first (together), then the rest in reverse order (the lease is given back only
 * once no Coolify call can still be made, the HTTP server goes last).
 */
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging/logger.js';

export interface Runnable {
  readonly name: string;
  /** Started only while this daemon holds the lease (everything that talks to Coolify). */
  readonly needsLeadership: boolean;
  /** Starts the work and returns once it is under way; never waits for the work to end. */
  start(): void | Promise<void>;
  /** Stops and resolves when done. `deadline` aborts when the shutdown deadline passes: give up then. */
  stop(deadline: AbortSignal): Promise<void>;
}

export interface ManagerOptions {
  clock: Clock;
  logger: Logger;
  /** One deadline for the whole shutdown (ms); default 30 s (controller-runtime's graceful shutdown). */
  shutdownDeadlineMs?: number;
}

export class Manager {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #deadlineMs: number;
  readonly #runnables: Runnable[] = [];
  readonly #started = new Set<Runnable>();
  #leading = false;
  #stopping: Promise<void> | undefined;

  constructor(options: ManagerOptions) {
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#deadlineMs = options.shutdownDeadlineMs ?? 30_000;
  }

  add(...runnables: Runnable[]): void {
    this.#runnables.push(...runnables);
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** Names of the runnables running now, in start order. */
  get running(): string[] {
    return this.#runnables.filter((r) => this.#started.has(r)).map((r) => r.name);
  }

  /** Starts every runnable that does not need leadership, in the order added. */
  async start(): Promise<void> {
    for (const r of this.#runnables) if (!r.needsLeadership) await this.#start(r);
  }

  /** This daemon now holds the lease: starts the leadership runnables, in the order added. */
  async startLeading(): Promise<void> {
    if (this.#stopping || this.#leading) return;
    this.#leading = true;
    for (const r of this.#runnables) {
      if (!r.needsLeadership) continue;
      if (this.#stopping) return;
      await this.#start(r);
    }
  }

  /**
   * Stops everything within the one shutdown deadline; resolves by then even if a part ignores
   * its signal. Calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  async #start(r: Runnable): Promise<void> {
    if (this.#started.has(r)) return;
    this.#started.add(r);
    this.#logger.debug('starting', { runnable: r.name });
    await r.start();
  }

  async #stopAll(): Promise<void> {
    const deadline = new AbortController();
    const cancelTimer = this.#clock.schedule(() => deadline.abort(new Error('shutdown deadline passed')), this.#deadlineMs);
    const expired = new Promise<void>((resolve) => deadline.signal.addEventListener('abort', () => resolve(), { once: true }));
    const stopOne = async (r: Runnable) => {
      if (!this.#started.has(r)) return;
      try {
        await Promise.race([r.stop(deadline.signal), expired]);
        if (deadline.signal.aborted) this.#logger.warn('gave up waiting for a part at the shutdown deadline', { runnable: r.name });
      } catch (e) {
        this.#logger.error('error while stopping', { runnable: r.name, error: errorMessage(e) });
      } finally {
        this.#started.delete(r);
      }
    };
    try {
      // The Coolify side first, all at once: the feed stops adding while the queue drains.
      await Promise.all(this.#runnables.filter((r) => r.needsLeadership).map(stopOne));
      this.#leading = false;
      for (const r of [...this.#runnables].reverse()) if (!r.needsLeadership) await stopOne(r);
    } finally {
      cancelTimer();
    }
  }
}
