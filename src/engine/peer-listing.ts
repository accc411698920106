/**
 * The listing of every tenant and stack a stack's validation needs (quota and host ownership),
 * shared between reconciles. The stack being reconciled is always read fresh and merged in. Quota
 * and hosts go to the oldest stacks first, so a view of its peers is good enough when it holds the
 * stack (then every older stack is in it); a caller says which stack must be listed.
 *
 * Two sources, like an informer's store (reconciler-lessons §2.1):
 * - followed: the change feed's full listing (`replace`, at every resync and reconnect) kept
 *   current by its realtime events (`apply`). A reconcile then waits for no listing and no
 *   periodic re-listing of 10,000 stacks competes with the change being applied. A record newer
 *   than the listing (an event that overtook it) is kept, and a deletion seen by an event is not
 *   brought back by an older listing.
 * - timed: before the first listing, after the stream was lost (`streamLost`, events may be
 *   missing) and for a stack the followed copy does not hold, one PocketBase listing serves every
 *   reconcile that starts within `maxAgeMs` of it; a cached listing without the stack asked for is
 *   replaced. Once too old ever to be served again it is dropped: it holds every record (about
 *   7 MB at 10,000 stacks), beside the followed copy.
 */
import type { Clock } from '../clock.js';
import type { Stack, Tenant } from '../pocketbase/types.js';
import type { StorePort } from './ports.js';

export interface PeerSnapshot {
  tenants: Tenant[];
  stacks: Stack[];
  /** Host → owning stack id over this listing, computed by the first reconcile that needs it. */
  hostOwners?: ReadonlyMap<string, string>;
  /** Lookups over this listing, built by the first reconcile that needs them (`peerIndex`). */
  index?: PeerIndex;
}

/** Lookups over a listing: records by id, and a tenant's stacks. */
export interface PeerIndex {
  tenant(id: string): Tenant | undefined;
  stack(id: string): Stack | undefined;
  /** The tenant's stacks, as a new array. */
  stacksOf(tenantId: string): Stack[];
}

/**
 * The snapshot's index. A followed snapshot carries one over the live records; for a timed listing
 * it is built once per listing (O(records)). Either way a reconcile finds its stack, its tenant and
 * the tenant's other stacks in O(the tenant's stacks) instead of copying and scanning 10,000
 * records each time.
 */
export function peerIndex(snapshot: PeerSnapshot): PeerIndex {
  if (!snapshot.index) {
    const byTenant = new Map<string, Stack[]>();
    for (const s of snapshot.stacks) {
      const list = byTenant.get(s.tenantId);
      if (list) list.push(s);
      else byTenant.set(s.tenantId, [s]);
    }
    const tenants = new Map(snapshot.tenants.map((t) => [t.id, t]));
    const stacks = new Map(snapshot.stacks.map((s) => [s.id, s]));
    snapshot.index = {
      tenant: (id) => tenants.get(id),
      stack: (id) => stacks.get(id),
      stacksOf: (tenantId) => [...(byTenant.get(tenantId) ?? [])],
    };
  }
  return snapshot.index;
}

/** What host ownership is computed from, of a stack: equal strings, equal claims. */
export function stackHostInputs(s: Stack): string {
  return [s.tenantId, s.name, s.template, s.desiredStatus, s.created, JSON.stringify(s.domains)].join('\u0000');
}

/** What host ownership is computed from, of a tenant. */
export function tenantHostInputs(t: Tenant): string {
  return [t.id, t.slug, t.domain, t.status].join('\u0000');
}

/** A deletion seen by an event is remembered this long (ms) against older listings. */
const TOMBSTONE_MS = 600_000;

type Timed = { at: number; value: Promise<PeerSnapshot> };

export class PeerListing {
  readonly #store: StorePort;
  readonly #clock: Clock;
  readonly #maxAgeMs: number;
  #current: Timed | undefined;
  /** The newest timed listing that completed. */
  #settled: Timed | undefined;
  /** How long the last timed listing took (ms). */
  #lastTookMs = 0;
  #cancelRelease: (() => void) | undefined;
  #closed = false;

  /** Followed records; `live` is false until a listing arrives and after the stream was lost. */
  readonly #tenants = new Map<string, Tenant>();
  readonly #stacks = new Map<string, Stack>();
  /** The followed stacks by tenant id, then stack id: kept with `#stacks`, entry by entry. */
  readonly #byTenant = new Map<string, Map<string, Stack>>();
  #live = false;
  /** `collection:id` of records an event created or updated since the last `replace`. */
  readonly #eventOnly = new Set<string>();
  /** `collection:id` → when an event deleted it (epoch ms). */
  readonly #deleted = new Map<string, number>();
  /**
   * The followed records as served to reconciles, replaced after each change. Its index reads the
   * live maps and its arrays are built only when asked for (host ownership of a changed stack):
   * every reconcile writes its stack's status, and rebuilding 10,000-record arrays and maps for
   * each of those changes made adoption O(stacks²).
   */
  #snapshot: PeerSnapshot | undefined;
  /** Host owners of the last snapshot, still valid while no host input changed. */
  #hostOwners: ReadonlyMap<string, string> | undefined;

  constructor(store: StorePort, clock: Clock, maxAgeMs: number) {
    this.#store = store;
    this.#clock = clock;
    this.#maxAgeMs = maxAgeMs;
  }

  /** Every tenant and stack. With `mustList`, a listing that lacks that stack id is not used. */
  async get(mustList?: string): Promise<PeerSnapshot> {
    if (this.#live && (mustList === undefined || this.#stacks.has(mustList))) return this.#followed();
    const entry = this.#entry();
    const snapshot = await entry.value;
    if (mustList === undefined || snapshot.stacks.some((s) => s.id === mustList)) return snapshot;
    // Another caller may have started a newer listing meanwhile: it is as good as a new one.
    const newer = this.#current !== undefined && this.#current !== entry ? this.#current : this.#list();
    return newer.value;
  }

  /** A full listing taken by the change feed: followed from now on. */
  replace(listing: { tenants: readonly Tenant[]; stacks: readonly Stack[] }): void {
    const now = this.#clock.now();
    for (const [key, at] of this.#deleted) if (now - at > TOMBSTONE_MS) this.#deleted.delete(key);
    const merge = <T extends { id: string; updated: number }>(collection: string, into: Map<string, T>, listed: readonly T[]) => {
      const next = new Map<string, T>();
      for (const r of listed) {
        if (this.#deleted.has(`${collection}:${r.id}`)) continue;
        const known = into.get(r.id);
        next.set(r.id, known && known.updated > r.updated ? known : r);
      }
      // Created by an event the listing was read too early to hold; anything else it lacks is gone.
      for (const [id, r] of into) if (!next.has(id) && this.#eventOnly.has(`${collection}:${id}`)) next.set(id, r);
      into.clear();
      for (const [id, r] of next) into.set(id, r);
    };
    merge('tenants', this.#tenants, listing.tenants);
    merge('stacks', this.#stacks, listing.stacks);
    this.#byTenant.clear();
    for (const s of this.#stacks.values()) this.#file(s);
    this.#eventOnly.clear();
    this.#live = true;
    this.#changed(true);
  }

  /** A realtime event's record, in the order the events came. */
  apply(event: { collection: 'tenants'; action: 'create' | 'update' | 'delete'; record: Tenant } | { collection: 'stacks'; action: 'create' | 'update' | 'delete'; record: Stack }): void {
    const key = `${event.collection}:${event.record.id}`;
    if (event.collection === 'stacks') {
      const before = this.#stacks.get(event.record.id);
      if (before) this.#byTenant.get(before.tenantId)?.delete(before.id);
      if (event.action === 'delete') this.#stacks.delete(event.record.id);
      else {
        this.#stacks.set(event.record.id, event.record);
        this.#file(event.record);
      }
      this.#changed(event.action === 'delete' || !before || stackHostInputs(before) !== stackHostInputs(event.record));
    } else {
      const before = this.#tenants.get(event.record.id);
      if (event.action === 'delete') this.#tenants.delete(event.record.id);
      else this.#tenants.set(event.record.id, event.record);
      this.#changed(event.action === 'delete' || !before || tenantHostInputs(before) !== tenantHostInputs(event.record));
    }
    if (event.action === 'delete') {
      this.#deleted.set(key, this.#clock.now());
      this.#eventOnly.delete(key);
    } else {
      this.#deleted.delete(key);
      this.#eventOnly.add(key);
    }
  }

  /** Events may have been missed: timed listings answer until the next `replace`. */
  streamLost(): void {
    this.#live = false;
    // Events before the loss are older than the listing that follows it: that listing decides.
    this.#eventOnly.clear();
  }

  #changed(hostsChanged: boolean): void {
    // A reconcile may have computed host owners on the snapshot being dropped.
    const owners = this.#snapshot?.hostOwners ?? this.#hostOwners;
    this.#snapshot = undefined;
    this.#hostOwners = hostsChanged ? undefined : owners;
  }

  /** Files a followed stack under its tenant (a tenant's map keeps the order stacks were filed in). */
  #file(stack: Stack): void {
    const mine = this.#byTenant.get(stack.tenantId);
    if (mine) mine.set(stack.id, stack);
    else this.#byTenant.set(stack.tenantId, new Map([[stack.id, stack]]));
  }

  #followed(): PeerSnapshot {
    if (!this.#snapshot) {
      let tenants: Tenant[] | undefined;
      let stacks: Stack[] | undefined;
      const index: PeerIndex = {
        tenant: (id) => this.#tenants.get(id),
        stack: (id) => this.#stacks.get(id),
        stacksOf: (tenantId) => [...(this.#byTenant.get(tenantId)?.values() ?? [])],
      };
      const followed = { tenants: this.#tenants, stacks: this.#stacks };
      // Read synchronously by the reconcile that got it; a change replaces the snapshot.
      const snapshot: PeerSnapshot = {
        get tenants() {
          return (tenants ??= [...followed.tenants.values()]);
        },
        get stacks() {
          return (stacks ??= [...followed.stacks.values()]);
        },
        index,
      };
      if (this.#hostOwners) snapshot.hostOwners = this.#hostOwners;
      this.#snapshot = snapshot;
    }
    return this.#snapshot;
  }

  /** Cancels the pending release of the last timed listing (the daemon stops: no timer may outlive it). */
  close(): void {
    this.#closed = true;
    this.#cancelRelease?.();
    this.#cancelRelease = undefined;
  }

  /** How long a timed listing is served as fresh: at least four times as long as listing took. */
  #maxAge(): number {
    return Math.max(this.#maxAgeMs, 4 * this.#lastTookMs);
  }

  #entry(): Timed {
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

  #list(): Timed {
    const now = this.#clock.now();
    const entry: Timed = { at: now, value: Promise.resolve({ tenants: [], stacks: [] }) };
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
  #releaseLater(entry: Timed): void {
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
