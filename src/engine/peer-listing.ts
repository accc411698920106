/**
 * The listing of every tenant and stack a stack's validation needs (quota and host ownership),
 * shared between reconciles: one PocketBase listing serves every reconcile that starts within
 * `maxAgeMs` of it, instead of two full listings per reconcile. The stack being reconciled is
 * always read fresh and merged in. Quota and hosts go to the oldest stacks first, so a view of its
 * peers is good enough when it was taken after the stack existed (then every older stack is in
 * it); a caller says which stack must be listed, and a cached listing without it is replaced.
 *
 * Memory: a listing holds every tenant and stack record (about 7 MB at 10,000 stacks). Once it is
 * too old ever to be served again it is dropped, so a converged daemon whose reconciles have
 * stopped does not keep one for nothing.
 */
import type { Clock } from '../clock.js';
import type { Stack, Tenant } from '../pocketbase/types.js';
import type { StorePort } from './ports.js';

export interface PeerSnapshot {
  tenants: Tenant[];
  stacks: Stack[];
  /** Host → owning stack id over this listing, computed by the first reconcile that needs it. */
  hostOwners?: ReadonlyMap<string, string>;
}

export class PeerListing {
  readonly #store: StorePort;
  readonly #clock: Clock;
  readonly #maxAgeMs: number;
  #current: { at: number; value: Promise<PeerSnapshot> } | undefined;
  /** The newest listing that completed. */
  #settled: { at: number; value: Promise<PeerSnapshot> } | undefined;
  /** How long the last listing took (ms). */
  #lastTookMs = 0;
  #cancelRelease: (() => void) | undefined;
  #closed = false;

  constructor(store: StorePort, clock: Clock, maxAgeMs: number) {
    this.#store = store;
    this.#clock = clock;
    this.#maxAgeMs = maxAgeMs;
  }

  /**
   * Every tenant and stack. With `mustList`, a listing that lacks that stack id (taken before the
   * stack was created, so it may lack older stacks too) is not used: one taken later is.
   */
  async get(mustList?: string): Promise<PeerSnapshot> {
    const entry = this.#entry();
    const snapshot = await entry.value;
    if (mustList === undefined || snapshot.stacks.some((s) => s.id === mustList)) return snapshot;
    // Another caller may have started a newer listing meanwhile: it is as good as a new one.
    const newer = this.#current !== undefined && this.#current !== entry ? this.#current : this.#list();
    return newer.value;
  }

  /** Cancels the pending release of the last listing (the daemon stops: no timer may outlive it). */
  close(): void {
    this.#closed = true;
    this.#cancelRelease?.();
    this.#cancelRelease = undefined;
  }

  /** How long a listing is served as fresh: at least four times as long as listing took. */
  #maxAge(): number {
    return Math.max(this.#maxAgeMs, 4 * this.#lastTookMs);
  }

  #entry(): { at: number; value: Promise<PeerSnapshot> } {
    const now = this.#clock.now();
    // A listing is reused for at least four times as long as it took, so listing 10,000 stacks
    // never takes more than a fifth of the time however many reconciles run.
    const maxAge = this.#maxAge();
    const settled = this.#settled;
    if (settled && now - settled.at <= maxAge) return settled;
    const inFlight = this.#current && this.#current !== settled ? this.#current : undefined;
    // Past that, the last complete listing still answers while the next one is taken (a listing of
    // 10,000 stacks takes seconds; a change must not wait for it), unless it is more than one
    // more such period old.
    if (settled && now - settled.at <= 2 * maxAge) {
      if (!inFlight) this.#list();
      return settled;
    }
    if (inFlight) return inFlight;
    return this.#list();
  }

  #list(): { at: number; value: Promise<PeerSnapshot> } {
    const now = this.#clock.now();
    const entry: { at: number; value: Promise<PeerSnapshot> } = { at: now, value: Promise.resolve({ tenants: [], stacks: [] }) };
    const value = Promise.all([this.#store.listTenants(), this.#store.listStacks()]).then(([tenants, stacks]) => {
      this.#lastTookMs = this.#clock.now() - now;
      if (!this.#settled || this.#settled.at < entry.at) {
        this.#settled = entry;
        this.#releaseLater(entry);
      }
      return { tenants, stacks };
    });
    entry.value = value;
    this.#current = entry;
    // A failed listing is not reused.
    value.catch(() => {
      if (this.#current === entry) this.#current = undefined;
    });
    return entry;
  }

  /** Drops `entry` once `#entry` would no longer serve it (past twice the age), unless replaced. */
  #releaseLater(entry: { at: number }): void {
    this.#cancelRelease?.();
    this.#cancelRelease = undefined;
    const lastsMs = entry.at + 2 * this.#maxAge() - this.#clock.now();
    if (this.#closed || !Number.isFinite(lastsMs)) return;
    this.#cancelRelease = this.#clock.schedule(() => {
      this.#cancelRelease = undefined;
      if (this.#settled === entry) this.#settled = undefined;
      if (this.#current === entry) this.#current = undefined;
    }, lastsMs + 1);
  }
}
