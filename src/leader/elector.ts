/**
 * Leader election over a LeaseStore, with client-go's algorithm and timings (lease 15 s, renew
 * deadline 10 s, retry 2 s; lease > renew deadline > 1.2 × retry):
 *
 * - A standby reads the latest epoch every `retryMs`. It takes the lease by creating the next
 *   epoch (atomic: one winner per epoch) when the latest is released, or when the record has not
 *   changed for `leaseMs` of its own observation (client-go judges expiry by when the observer saw
 *   the record change, never by comparing clocks across machines). No record at all: epoch 1.
 * - The holder renews every `retryMs` and then checks that no later epoch exists. It holds the
 *   lease only while its last successful renewal started less than `renewDeadlineMs` ago:
 *   `holding()` says so at any instant (the send gate asks it before every Coolify request), and
 *   once it turns false the holder has lost the lease for good (`onStoppedLeading`), like
 *   client-go, whose callers exit. Since the deadline is shorter than the lease, a holder cut off
 *   from PocketBase stops writing before any standby can take over.
 * - `stop()` gives the lease back (sets `released`), so a standby takes over at its next retry.
 *   A record held under this daemon's own identity (a restart with a stable LEASE_IDENTITY) is
 *   taken back at once.
 *
 * A lease is not fencing (client-go says the same): between a holder's last renewal and its
 * deadline a slow request may still land. Reconciles are idempotent for that reason.
 */
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { LeaseRecord, LeaseStore } from './lease-store.js';

export interface LeaseTimings {
  /** How long a standby waits, from the last change it saw, before it takes the lease (ms). */
  leaseMs: number;
  /** The holder stops acting when it has not renewed for this long (ms). */
  renewDeadlineMs: number;
  /** Pause between attempts (ms), jittered up to +20 %. */
  retryMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { leaseMs: 15_000, renewDeadlineMs: 10_000, retryMs: 2_000 };

/** client-go's constraint: lease > renew deadline > 1.2 × retry. Throws a TypeError naming it. */
export function checkLeaseTimings(t: LeaseTimings): void {
  if (!(t.retryMs > 0 && t.renewDeadlineMs > 1.2 * t.retryMs && t.leaseMs > t.renewDeadlineMs)) {
    throw new TypeError(
      `lease timings must satisfy lease > renew deadline > 1.2 × retry, got lease ${t.leaseMs} ms, renew deadline ${t.renewDeadlineMs} ms, retry ${t.retryMs} ms`,
    );
  }
}

export interface ElectorOptions {
  store: LeaseStore;
  clock: Clock;
  logger: Logger;
  /** This daemon's identity in the lease record. */
  identity: string;
  timings?: LeaseTimings;
  onStartedLeading: () => void;
  onStoppedLeading: (reason: string) => void;
  /** Uniform [0, 1) for the retry jitter. */
  random?: () => number;
}

export class LeaderElector {
  readonly #o: ElectorOptions;
  readonly #t: LeaseTimings;
  readonly #random: () => number;
  /** The epoch record this daemon holds, while it does. */
  #held: LeaseRecord | undefined;
  /** Start time of the last successful renewal (or of the winning create), epoch ms. */
  #renewedAt = 0;
  /** What a standby last saw and when it first saw it (its own clock). */
  #observed: { key: string; at: number } | undefined;
  #lost = false;
  #stopped = false;
  #cancel: (() => void) | undefined;
  /** Fires at the renew deadline, so the loss is noticed even while a renewal hangs. */
  #cancelDeadline: (() => void) | undefined;
  #running: Promise<void> | undefined;

  constructor(options: ElectorOptions) {
    this.#o = options;
    this.#t = options.timings ?? DEFAULT_LEASE_TIMINGS;
    checkLeaseTimings(this.#t);
    this.#random = options.random ?? Math.random;
  }

  get identity(): string {
    return this.#o.identity;
  }

  /** The epoch held, while leading. */
  get epoch(): number | undefined {
    return this.#held?.epoch;
  }

  /** True while this daemon holds the lease and its renew deadline has not passed. */
  holding(): boolean {
    return this.#held !== undefined && !this.#lost && this.#o.clock.now() - this.#renewedAt < this.#t.renewDeadlineMs;
  }

  /** Makes the first attempt (so a daemon alone knows at once that it leads), then keeps trying. */
  async start(): Promise<void> {
    await this.#tick();
  }

  /** Stops trying; gives the lease back when holding it. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cancel?.();
    this.#cancelDeadline?.();
    await this.#running;
    const held = this.#held;
    if (held && this.holding()) {
      try {
        await this.#o.store.release(held);
        this.#o.logger.info('lease released', { epoch: held.epoch });
      } catch (e) {
        this.#o.logger.warn('could not release the lease; a standby takes over when it expires', { error: errorMessage(e) });
      }
    }
    this.#held = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#stopped || this.#lost) return;
    const run = this.#attempt().catch((e: unknown) => {
      this.#o.logger.warn('lease attempt failed', { error: errorMessage(e), leading: this.#held !== undefined });
    });
    this.#running = run;
    await run;
    this.#running = undefined;
    this.#checkDeadline();
    if (this.#stopped || this.#lost) return;
    const delay = this.#t.retryMs * (1 + 0.2 * this.#random());
    this.#cancel = this.#o.clock.schedule(() => void this.#tick(), delay);
  }

  async #attempt(): Promise<void> {
    const { store, clock } = this.#o;
    const held = this.#held;
    if (held) {
      if (!this.holding()) return;
      const startedAt = clock.now();
      const renewed = await store.renew(held, startedAt);
      // Someone judged this epoch expired and took the next one: no longer ours.
      const latest = await store.latest();
      if (latest && latest.epoch > held.epoch) {
        this.#lose(`epoch ${latest.epoch} was taken by ${latest.holder}`);
        return;
      }
      if (this.#held === held) {
        this.#held = renewed;
        this.#renewed(startedAt);
      }
      return;
    }
    const now = clock.now();
    const latest = await store.latest();
    // Held under this daemon's own identity: a restart of this daemon (LEASE_IDENTITY set), whose
    // previous run died without giving it back. Taken back at once, through the next epoch.
    if (latest && !latest.released && latest.holder !== this.#o.identity) {
      const key = `${latest.id}@${latest.version}`;
      if (this.#observed?.key !== key) {
        this.#observed = { key, at: now };
        return;
      }
      if (now - this.#observed.at < this.#t.leaseMs) return;
    }
    const epoch = (latest?.epoch ?? 0) + 1;
    const startedAt = clock.now();
    const won = await store.create(epoch, this.#o.identity, startedAt);
    if (won === 'taken') {
      this.#observed = undefined;
      return;
    }
    if (this.#stopped) {
      await store.release(won).catch(() => undefined);
      return;
    }
    this.#held = won;
    this.#renewed(startedAt);
    this.#o.logger.info('lease acquired; this daemon leads', {
      epoch,
      previous: latest ? { holder: latest.holder, released: latest.released } : undefined,
    });
    store.prune(epoch - 1).catch(() => undefined);
    this.#o.onStartedLeading();
  }

  #renewed(at: number): void {
    this.#renewedAt = at;
    this.#cancelDeadline?.();
    this.#cancelDeadline = this.#o.clock.schedule(() => this.#checkDeadline(), at + this.#t.renewDeadlineMs - this.#o.clock.now());
  }

  #checkDeadline(): void {
    if (this.#held && !this.#lost && !this.holding()) {
      this.#lose(`not renewed within the renew deadline of ${this.#t.renewDeadlineMs} ms`);
    }
  }

  #lose(reason: string): void {
    if (this.#lost || this.#stopped) return;
    this.#lost = true;
    this.#cancelDeadline?.();
    this.#o.logger.error('lease lost; this daemon stops acting on Coolify', { reason, epoch: this.#held?.epoch });
    this.#o.onStoppedLeading(reason);
  }
}
