/**
 * A superuser token that expires is renewed by the daemon's client, and realtime keeps working
 * across a reconnect made after expiry (an expired token would silently subscribe as a guest and
 * receive nothing). The token lifetime is set to PocketBase's minimum, 10 s; the test waits for
 * the server's clock to expire it, which is the only real waiting here.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getTokenPayload, isTokenExpired } from 'pocketbase';
import { systemClock } from '../../../src/clock.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { ChangeFeed, type FeedEventInfo } from '../../../src/pocketbase/change-feed.js';
import { PocketBaseStore } from '../../../src/pocketbase/store.js';
import { createTenantWithStack } from '../../helpers/pb-fixtures.js';
import { daemonClient, startTestPocketBase, type TestPocketBase } from '../../helpers/pocketbase.js';
import { waitFor } from '../../helpers/wait.js';

const TOKEN_SECONDS = 10;

let pb: TestPocketBase;

beforeAll(async () => {
  pb = await startTestPocketBase();
  // The admin client authenticated before this change and keeps its one-day token.
  await pb.admin.collections.update('_superusers', { authToken: { duration: TOKEN_SECONDS } });
});

afterAll(async () => {
  await pb?.cleanup();
});

describe('superuser token expiry', () => {
  it('refreshes an expired token; store calls and realtime keep working after a reconnect', async () => {
    const { stack } = await createTenantWithStack(pb.admin);
    const client = await daemonClient(pb.server);
    const firstToken = client.authStore.token;
    const payload = getTokenPayload(firstToken) as { exp: number };
    expect(payload.exp - Date.now() / 1000).toBeLessThanOrEqual(TOKEN_SECONDS + 1);

    const logger = silentLogger();
    const store = new PocketBaseStore({ pb: client, logger, clock: systemClock });
    const events: FeedEventInfo[] = [];
    let resyncs = 0;
    const feed = new ChangeFeed({
      pb: client,
      store,
      clock: systemClock,
      logger,
      onKeys: () => undefined,
      onEvent: (e) => events.push(e),
      onResync: () => {
        resyncs++;
      },
    });
    await feed.start();
    try {
      await waitFor(() => isTokenExpired(firstToken), (TOKEN_SECONDS + 5) * 1000, { intervalMs: 250, what: 'the token to expire' });

      // Force a new realtime connection while the token is expired: the SDK's re-subscription must
      // carry a renewed token, or PocketBase would treat it as a guest and events would stop.
      await pb.server.restart();
      await waitFor(() => resyncs >= 2 && feed.connected, 15_000, { what: 'reconnect and resync' });
      expect(client.authStore.token).not.toBe(firstToken);
      expect(client.authStore.isValid).toBe(true);

      await pb.admin.collection('stacks').update(stack.id, { desired_status: 'stopped' });
      const ev = await waitFor(() => events.find((e) => e.id === stack.id && e.action === 'update'), 10_000, {
        what: 'the update event on the reconnected stream',
      });
      expect(ev.keys).toEqual([`stack:${stack.id}`]);
      await expect(store.getStack(stack.id)).resolves.toMatchObject({ id: stack.id, desiredStatus: 'stopped' });
    } finally {
      await feed.stop();
    }
  }, 60_000);
});
