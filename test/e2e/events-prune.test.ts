/**
 * The daemon prunes reconcile_events older than EVENTS_RETENTION_DAYS during a resync, and keeps
 * the younger ones. PocketBase never lets an API client set `created`, so the aged events are
 * backdated offline, the way an old database would hold them.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTenantWithStack } from '../helpers/pb-fixtures.js';
import { BOT_TOKEN, changeOffline, startHarness, type Harness } from './harness.js';

const DAY_MS = 86_400_000;

/** PocketBase's datetime text, e.g. `2026-01-01 12:00:00.000Z`. */
function pbDate(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ');
}

describe('pruning of reconcile events', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { EVENTS_RETENTION_DAYS: '7' }, startDaemon: false });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('deletes events older than EVENTS_RETENTION_DAYS on a resync and keeps younger ones', async () => {
    // A converged stack, so the resync is an ordinary one (not the guard's empty-database case).
    const { stack } = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    const events = h.admin.collection('reconcile_events');
    const make = (subject: string) => events.create({ subject, action: 'test', outcome: 'ok', message: `aged ${subject}`, coolify_uuid: '' });
    const old = await make('test:eight-days');
    const young = await make('test:six-days');
    await make('test:now');

    const now = Date.now();
    const ages = { [old.id]: pbDate(now - 8 * DAY_MS), [young.id]: pbDate(now - 6 * DAY_MS) };
    await changeOffline(
      h,
      Object.entries(ages)
        .map(([id, created]) => `app.db().newQuery("UPDATE reconcile_events SET created = {:c} WHERE id = {:id}").bind({ c: ${JSON.stringify(created)}, id: ${JSON.stringify(id)} }).execute();`)
        .join('\n'),
    );
    // The setup holds: PocketBase now reports the backdated times.
    expect((await h.admin.collection('reconcile_events').getOne(old.id)).created).toBe(ages[old.id]);
    expect((await h.admin.collection('reconcile_events').getOne(young.id)).created).toBe(ages[young.id]);

    await h.start();
    await h.waitStack(stack.id, (r) => r.status === 'running');
    // A pass known to have run: the daemon's resync, forced.
    await h.daemon!.resync();

    const subjects = (await h.events()).map((e) => e.subject);
    expect(subjects).not.toContain('test:eight-days');
    expect(subjects).toEqual(expect.arrayContaining(['test:six-days', 'test:now']));
    // The daemon's own (fresh) events survive too.
    expect(subjects).toContain(`stack:${stack.id}`);
  });
});
