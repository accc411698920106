/**
 * The lease collection in a real PocketBase: creating an epoch is the atomic step (the unique
 * index lets exactly one of many concurrent creates win), renewal changes the version an observer
 * compares, and release is visible to the next reader.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PocketBaseLeaseStore } from '../../../src/leader/lease-store.js';
import { daemonClient, startTestPocketBase, type TestPocketBase } from '../../helpers/pocketbase.js';

let pb: TestPocketBase;
beforeAll(async () => {
  pb = await startTestPocketBase();
});
afterAll(async () => {
  await pb?.cleanup();
});

describe('PocketBaseLeaseStore', () => {
  it('lets exactly one of ten concurrent daemons create the next epoch', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => daemonClient(pb.server)));
    const stores = clients.map((c) => new PocketBaseLeaseStore(c, 'race'));
    const results = await Promise.all(stores.map((s, i) => s.create(1, `daemon-${i}`, Date.now())));
    const winners = results.filter((r) => r !== 'taken');
    expect(winners).toHaveLength(1);
    const latest = await stores[0]!.latest();
    expect(latest?.holder).toBe((winners[0] as { holder: string }).holder);
    // And again for the next epoch.
    const next = await Promise.all(stores.map((s, i) => s.create(2, `daemon-${i}`, Date.now())));
    expect(next.filter((r) => r !== 'taken')).toHaveLength(1);
    expect((await stores[0]!.latest())?.epoch).toBe(2);
  });

  it('renewal changes the version observers compare; release is seen by the next reader', async () => {
    const store = new PocketBaseLeaseStore(await daemonClient(pb.server), 'renew');
    const created = await store.create(1, 'me', Date.now());
    if (created === 'taken') throw new Error('fresh lease name already taken');
    await new Promise((r) => setTimeout(r, 5));
    const renewed = await store.renew(created, Date.now());
    expect(renewed.version).not.toBe(created.version);
    expect((await store.latest())?.released).toBe(false);
    await store.release(renewed);
    expect((await store.latest())?.released).toBe(true);
    // Leases of other names are separate.
    expect(await new PocketBaseLeaseStore(await daemonClient(pb.server), 'other').latest()).toBeNull();
  });
});
