/**
 * The shared peer listing: reused within its age, except by a reconcile of a stack the listing
 * does not hold yet (taken before that stack existed, it may lack older stacks that outrank it).
 */
import { describe, expect, it } from '@jest/globals';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ManualClock } from '../../../src/clock.js';
import { PeerListing, peerIndex } from '../../../src/engine/peer-listing.js';
import type { StorePort } from '../../../src/engine/ports.js';
import type { Stack, Tenant } from '../../../src/pocketbase/types.js';
import { stack as stackFixture } from '../templates/fixtures.js';

/** A PocketBase stand-in holding stack records; counts full listings. */
function fakeStore(): { store: StorePort; stacks: Stack[]; listings: () => number } {
  const stacks: Stack[] = [];
  let listings = 0;
  const store = {
    listTenants: () => Promise.resolve([] as Tenant[]),
    listStacks: () => {
      listings++;
      return Promise.resolve([...stacks]);
    },
  } as unknown as StorePort;
  return { store, stacks, listings: () => listings };
}

describe('PeerListing', () => {
  const clock = new ManualClock(1_000);

  it('serves reconciles within its age from one listing', async () => {
    const f = fakeStore();
    f.stacks.push(stackFixture({ id: 'a' }));
    const peers = new PeerListing(f.store, clock, 1000);
    await peers.get('a');
    await peers.get();
    expect((await peers.get('a')).stacks.map((s) => s.id)).toEqual(['a']);
    expect(f.listings()).toBe(1);
  });

  it('lists again for a stack created after the cached listing, and shares that listing', async () => {
    const f = fakeStore();
    f.stacks.push(stackFixture({ id: 'a' }));
    const peers = new PeerListing(f.store, clock, 1000);
    await peers.get();
    // An older stack and then the one being reconciled appear after the listing.
    f.stacks.push(stackFixture({ id: 'older' }), stackFixture({ id: 'younger' }));
    const [x, y] = await Promise.all([peers.get('younger'), peers.get('older')]);
    expect(x.stacks.map((s) => s.id)).toEqual(['a', 'older', 'younger']);
    expect(y.stacks.map((s) => s.id)).toEqual(['a', 'older', 'younger']);
    expect(f.listings()).toBe(2);
  });

  it('answers from the last complete listing while the next one is taken, within twice its age', async () => {
    const f = fakeStore();
    f.stacks.push(stackFixture({ id: 'a' }));
    const peers = new PeerListing(f.store, clock, 1000);
    await peers.get();
    f.stacks.push(stackFixture({ id: 'b' }));
    clock.advance(1500);
    // Stale but within twice the age: answered at once from the old listing, one refresh started.
    expect((await peers.get()).stacks.map((s) => s.id)).toEqual(['a']);
    expect(f.listings()).toBe(2);
    // The refresh has completed: it answers now.
    expect((await peers.get()).stacks.map((s) => s.id)).toEqual(['a', 'b']);
    // Far past its age, a listing is waited for.
    f.stacks.push(stackFixture({ id: 'c' }));
    clock.advance(5000);
    expect((await peers.get()).stacks.map((s) => s.id)).toEqual(['a', 'b', 'c']);
    expect(f.listings()).toBe(3);
  });

  it('follows the feed: no listing while its events keep it current, a newer event outranks an older listing', async () => {
    const f = fakeStore();
    const peers = new PeerListing(f.store, clock, 1000);
    peers.replace({ tenants: [], stacks: [stackFixture({ id: 'a', updated: 10 }), stackFixture({ id: 'b', updated: 10 })] });
    peers.apply({ collection: 'stacks', action: 'create', record: stackFixture({ id: 'c', updated: 20 }) });
    peers.apply({ collection: 'stacks', action: 'update', record: stackFixture({ id: 'a', updated: 30, name: 'renamed' }) });
    peers.apply({ collection: 'stacks', action: 'delete', record: stackFixture({ id: 'b', updated: 10 }) });
    clock.advance(60_000);
    const now = await peers.get('c');
    expect(now.stacks.map((s) => `${s.id}:${s.name}`).sort()).toEqual(['a:renamed', 'c:' + stackFixture({ id: 'c' }).name]);
    // A listing read before those events (it still has b, an older a, and lacks c) changes nothing.
    peers.replace({ tenants: [], stacks: [stackFixture({ id: 'a', updated: 10 }), stackFixture({ id: 'b', updated: 10 })] });
    expect((await peers.get()).stacks.map((s) => `${s.id}:${s.name}`).sort()).toEqual(['a:renamed', 'c:' + stackFixture({ id: 'c' }).name]);
    // The next listing without c (deleted while no event came) drops it.
    peers.replace({ tenants: [], stacks: [stackFixture({ id: 'a', updated: 30, name: 'renamed' })] });
    expect((await peers.get()).stacks.map((s) => s.id)).toEqual(['a']);
    expect(f.listings()).toBe(0);
  });

  it('lists again after the stream was lost, until the next feed listing', async () => {
    const f = fakeStore();
    f.stacks.push(stackFixture({ id: 'a' }), stackFixture({ id: 'x' }));
    const peers = new PeerListing(f.store, clock, 1000);
    peers.replace({ tenants: [], stacks: [stackFixture({ id: 'a' })] });
    peers.streamLost();
    expect((await peers.get('a')).stacks.map((s) => s.id)).toEqual(['a', 'x']);
    expect(f.listings()).toBe(1);
    peers.replace({ tenants: [], stacks: [stackFixture({ id: 'a' })] });
    expect((await peers.get('a')).stacks.map((s) => s.id)).toEqual(['a']);
    // A stack the followed copy does not hold yet is looked up in a listing.
    expect((await peers.get('x')).stacks.map((s) => s.id)).toEqual(['a', 'x']);
    expect(f.listings()).toBe(1);
  });

  it('keeps host owners across edits that change no host input, and drops them when one does', async () => {
    const f = fakeStore();
    const peers = new PeerListing(f.store, clock, 1000);
    peers.replace({ tenants: [], stacks: [stackFixture({ id: 'a' })] });
    const owners = new Map([['a.example.com', 'a']]);
    (await peers.get('a')).hostOwners = owners;
    peers.apply({ collection: 'stacks', action: 'update', record: stackFixture({ id: 'a', params: { BOT_NAME: 'edited' }, updated: 99 }) });
    expect((await peers.get('a')).hostOwners).toBe(owners);
    peers.apply({ collection: 'stacks', action: 'update', record: stackFixture({ id: 'a', name: 'moved', updated: 100 }) });
    expect((await peers.get('a')).hostOwners).toBeUndefined();
  });

  it('drops a listing once it is too old ever to be served, and close() leaves no timer behind', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collected = async (ref: WeakRef<object>) => {
      // A WeakRef's target is kept until the current job ends.
      await new Promise((r) => setImmediate(r));
      gc();
      return ref.deref() === undefined;
    };
    const f = fakeStore();
    f.stacks.push(stackFixture({ id: 'a' }));
    const own = new ManualClock(1_000);
    const peers = new PeerListing(f.store, own, 1000);
    const ref = new WeakRef(await peers.get());
    own.advance(1999);
    expect(await collected(ref)).toBe(false);
    own.advance(2);
    expect(await collected(ref)).toBe(true);
    expect(own.pending).toBe(0);

    await peers.get();
    expect(own.pending).toBe(1);
    peers.close();
    expect(own.pending).toBe(0);
  });

  it('keeps the followed index current through events: creates, updates, moves between tenants, deletions', async () => {
    const f = fakeStore();
    const peers = new PeerListing(f.store, clock, 1000);
    peers.replace({
      tenants: [{ id: 't1' } as Tenant, { id: 't2' } as Tenant],
      stacks: [stackFixture({ id: 'a', tenantId: 't1', updated: 10 }), stackFixture({ id: 'b', tenantId: 't1', updated: 10 })],
    });
    const ids = async (tenantId: string) => (await peers.get()).index!.stacksOf(tenantId).map((s) => s.id);
    expect(await ids('t1')).toEqual(['a', 'b']);
    peers.apply({ collection: 'stacks', action: 'create', record: stackFixture({ id: 'c', tenantId: 't2', updated: 20 }) });
    peers.apply({ collection: 'stacks', action: 'update', record: stackFixture({ id: 'a', tenantId: 't1', updated: 30, name: 'renamed' }) });
    peers.apply({ collection: 'stacks', action: 'update', record: stackFixture({ id: 'b', tenantId: 't2', updated: 30 }) });
    expect(await ids('t1')).toEqual(['a']);
    expect((await ids('t2')).sort()).toEqual(['b', 'c']);
    const snapshot = await peers.get();
    expect(snapshot.index!.stack('a')?.name).toBe('renamed');
    expect(snapshot.stacks.map((s) => s.id).sort()).toEqual(['a', 'b', 'c']);
    peers.apply({ collection: 'stacks', action: 'delete', record: stackFixture({ id: 'c', tenantId: 't2', updated: 20 }) });
    expect(await ids('t2')).toEqual(['b']);
    expect((await peers.get()).index!.stack('c')).toBeUndefined();
    // No listing was taken: the feed's listing and events served every get.
    expect(f.listings()).toBe(0);
  });

  it('indexes a listing once: records by id, and each tenant\'s stacks in listing order', () => {
    const snapshot = {
      tenants: [{ id: 't1' } as Tenant, { id: 't2' } as Tenant],
      stacks: [stackFixture({ id: 'a', tenantId: 't1' }), stackFixture({ id: 'b', tenantId: 't2' }), stackFixture({ id: 'c', tenantId: 't1' })],
    };
    const index = peerIndex(snapshot);
    expect(index.stack('b')?.tenantId).toBe('t2');
    expect(index.tenant('t1')?.id).toBe('t1');
    expect(index.stacksOf('t1').map((s) => s.id)).toEqual(['a', 'c']);
    expect(index.stacksOf('t3')).toEqual([]);
    // Kept on the snapshot: the next reconcile over the same listing builds nothing.
    expect(peerIndex(snapshot)).toBe(index);
  });
});
