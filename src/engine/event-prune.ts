/**
 * Prunes reconcile_events older than EVENTS_RETENTION_DAYS in a task of its own, so neither the
 * drift resync nor shutdown ever waits on it: once when the daemon starts leading, then every
 * `intervalMs`. Each pass deletes at most `maxPerPass` events (one PocketBase call each); a pass
 * that hit the bound is followed by another soon, so a large backlog drains in bounded steps.
 */
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { StorePort } from './ports.js';

export interface EventPrunerOptions {
  store: Pick<StorePort, 'pruneEvents'>;
  clock: Clock;
  logger: Logger;
  retentionMs: number;
  /** Pause between passes (ms). */
  intervalMs: number;
  /** Deletions per pass. @default 500 */
  maxPerPass?: number;
}

export class EventPruner {
  readonly #o: EventPrunerOptions;
  readonly #max: number;
  #abort = new AbortController();
  #cancel: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(options: EventPrunerOptions) {
    this.#o = options;
    this.#max = options.maxPerPass ?? 500;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#abort = new AbortController();
    this.#schedule(0);
  }

  /** Stops at once: a pass in progress ends after the deletion under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    this.#abort.abort();
    await this.#running;
  }

  /** One pass; resolves with how many events were deleted. */
  async pass(): Promise<number> {
    try {
      return await this.#o.store.pruneEvents(this.#o.retentionMs, { max: this.#max, signal: this.#abort.signal });
    } catch (e) {
      this.#o.logger.warn('could not prune reconcile events', { error: errorMessage(e) });
      return 0;
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#cancel = this.#o.clock.schedule(() => {
      this.#running = this.pass().then((n) => {
        this.#running = undefined;
        // A full pass means more are waiting: continue shortly rather than after a whole interval.
        this.#schedule(n >= this.#max ? 1000 : this.#o.intervalMs);
      });
    }, ms);
  }
}
