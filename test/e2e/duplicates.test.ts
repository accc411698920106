/**
 * A second service carrying a stack's marker, made behind the daemon's back while the stored uuid
 * stays intact (no marker lookup would ever list it), is found by the drift resync after a restart
 * and retired like an orphan: stopped, marked `orphaned-at`, deleted only after the retention. The
 * stack's own service is never touched.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { formatServiceMarker, parseMarker } from '../../src/coolify/markers.js';
import { createTenantWithStack } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, simStatus, startHarness, type Harness } from './harness.js';

describe('duplicates next to an intact stored uuid', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('retires a hand-made copy with the same marker after a restart and leaves the original untouched', async () => {
    const { tenant, stack } = await createTenantWithStack(h.admin, { stack: { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } } });
    const running = await h.waitStack(stack.id, (r) => r.status === 'running');
    const uuid = String(running.coolify_service_uuid);
    const projectUuid = String((await h.tenant(tenant.id)).coolify_project_uuid);

    // The daemon restarts; meanwhile someone clones the service in Coolify, marker included, and runs it.
    await h.stopDaemon();
    const copy = h.sim.edits.createForeignService({ projectUuid, description: formatServiceMarker({ stackId: stack.id, tenantId: tenant.id }) });
    h.sim.edits.setStatus(copy.uuid, 'running:healthy');
    const original = h.sim.state.service(uuid)!;
    const before = { description: original.description, compose: original.composeRaw };
    const fromLog = h.sim.requestLog.length;
    const eventsBefore = (await h.events(`stack:${stack.id}`)).length;

    // The listing carries created_at, which the keeper choice reads.
    const listed = await h.coolify.listServices();
    expect(listed.find((s) => s.uuid === copy.uuid)?.createdAt).toBe(copy.createdAt);
    expect(listed.find((s) => s.uuid === uuid)?.createdAt).toBe(original.createdAt);

    await h.start();
    const marked = await waitFor(() => parseMarker(h.sim.state.service(copy.uuid)?.description)?.extra['orphaned-at'], 15_000, {
      what: 'copy marked orphaned-at',
    });
    await waitFor(() => simStatus(h.sim.state.service(copy.uuid)) === 'exited' || h.sim.state.service(copy.uuid) === undefined, 15_000, {
      what: 'copy stopped',
    });
    const retired = (await h.events(`stack:${stack.id}`)).slice(eventsBefore);
    expect(retired.find((e) => e.action === 'duplicate')?.coolify_uuid).toBe(copy.uuid);
    expect(retired.find((e) => e.action === 'stop')?.coolify_uuid).toBe(copy.uuid);

    // Deleted once the retention has passed, not before.
    await waitFor(() => h.sim.state.service(copy.uuid) === undefined, 20_000, { what: 'copy deleted' });
    // When Coolify received the DELETE, not when the test noticed it.
    const deletes = h.sim.requestLog.filter((r) => r.method === 'DELETE' && r.path === `/api/v1/services/${copy.uuid}`);
    expect(deletes.length).toBeGreaterThanOrEqual(1);
    expect(deletes[0]!.time).toBeGreaterThanOrEqual(Date.parse(marked) + h.config.deleteRetentionSeconds * 1000);
    expect(h.servicesOf(stack.id).map((s) => s.uuid)).toEqual([uuid]);

    // The original: same marker and compose, still running, stored uuid unchanged, and no daemon
    // write or lifecycle request aimed at it since the copy appeared.
    const after = h.sim.state.service(uuid)!;
    expect({ description: after.description, compose: after.composeRaw }).toEqual(before);
    expect(simStatus(after)).toBe('running');
    const s = await h.waitStack(stack.id, (r) => r.status === 'running');
    expect(s.coolify_service_uuid).toBe(uuid);
    const touched = h.sim.requestLog
      .slice(fromLog)
      .filter((r) => r.path.includes(uuid) && (r.method !== 'GET' || /\/(start|stop|restart)$/.test(r.path)));
    expect(touched).toEqual([]);
    const aimed = (await h.events(`stack:${stack.id}`)).slice(eventsBefore).filter((e) => e.coolify_uuid === uuid);
    expect(aimed).toEqual([]);
  });
});
