/**
 * The per-reconcile Coolify view over a real client and the simulator: calls pass through until
 * the signal aborts, a call in flight is released with the abort reason, and nothing is sent after.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoolifyInventory } from '../../../src/coolify/inventory.js';
import { SharedCoolifyView } from '../../../src/coolify/shared-view.js';
import { mapServices, type CoolifyApi } from '../../../src/coolify/types.js';
import { abortableCoolify } from '../../../src/engine/abortable-coolify.js';
import { NotLeaderError, SendGate, gatedCoolify } from '../../../src/engine/send-gate.js';
import { ReconcileTimeoutError } from '../../../src/queue/queue-errors.js';
import { startSimWithClient, type SimWithClient } from '../../helpers/coolify-sim.js';
import { waitFor } from '../../helpers/wait.js';

describe('abortableCoolify', () => {
  let s: SimWithClient;
  beforeAll(async () => {
    s = await startSimWithClient();
  });
  afterAll(async () => {
    await s.close();
  });

  it('passes results and Coolify errors through while not aborted', async () => {
    const api = abortableCoolify(s.client, new AbortController().signal);
    const { uuid } = await api.createProject({ name: 'p-pass', description: 'x' });
    expect((await api.getProject(uuid)).name).toBe('p-pass');
    await expect(api.getService('does-not-exist')).rejects.toMatchObject({ kind: 'not_found' });
  });

  it('releases a call in flight with the abort reason; the request itself still completes', async () => {
    const controller = new AbortController();
    const api = abortableCoolify(s.client, controller.signal);
    s.sim.faults.delayNext('POST projects', 400);
    const call = api.createProject({ name: 'p-held', description: 'x' });
    await waitFor(() => s.sim.faults.pending === 0, 5_000, { what: 'request held' });
    const reason = new ReconcileTimeoutError('stack:x', 100);
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    // The write lands in Coolify anyway; the next run adopts what it made.
    await waitFor(() => s.sim.state.projects.some((p) => p.name === 'p-held'), 5_000, { what: 'held create applied' });
  });

  it('sends nothing once aborted', async () => {
    const controller = new AbortController();
    controller.abort(new ReconcileTimeoutError('stack:y', 100));
    const api = abortableCoolify(s.client, controller.signal);
    const before = s.sim.requestLog.length;
    await expect(api.listServices()).rejects.toBeInstanceOf(ReconcileTimeoutError);
    await expect(api.createProject({ name: 'p-never', description: 'x' })).rejects.toBeInstanceOf(ReconcileTimeoutError);
    expect(s.sim.requestLog.length).toBe(before);
    expect(s.sim.state.projects.some((p) => p.name === 'p-never')).toBe(false);
  });

  describe('the streamed listing through the wrappers', () => {
    const marked = (i: number) => `managed-by=cf-reconciler stack=w${i} tenant=wt`;
    beforeAll(async () => {
      const { uuid: projectUuid } = await s.client.createProject({ name: 'p-wrapped', description: 'x' });
      for (let i = 0; i < 3; i++) {
        await s.client.createService({ name: `w${i}`, description: marked(i), projectUuid, environmentName: 'production', serverUuid: s.sim.serverUuid, composeYaml: 'services:\n  web:\n    image: nginx:alpine\n' });
      }
    });
    const view = () => new SharedCoolifyView(new CoolifyInventory(s.client), () => Date.now());
    const names = async (api: CoolifyApi) => (await api.listServicesMapped!((svc) => svc.name)).filter((n) => n.startsWith('w')).sort();

    it('is forwarded by the abortable, gated and write-watching views', async () => {
      const gate = new SendGate();
      gate.open();
      for (const api of [abortableCoolify(s.client, new AbortController().signal), gatedCoolify(s.client, gate), view().watchWrites(s.client)]) {
        expect(await names(api)).toEqual(['w0', 'w1', 'w2']);
      }
      gate.close('stopping');
      const before = s.sim.requestLog.length;
      await expect(gatedCoolify(s.client, gate).listServicesMapped!((svc) => svc)).rejects.toBeInstanceOf(NotLeaderError);
      expect(s.sim.requestLog.length).toBe(before);
    });

    it('is released on abort, and not sent after it', async () => {
      const controller = new AbortController();
      const api = abortableCoolify(s.client, controller.signal);
      const listed = () => s.sim.requestLog.filter((r) => r.method === 'GET' && r.path === '/api/v1/services').length;
      const held = listed();
      s.sim.faults.delayNext('GET services', 400);
      const call = api.listServicesMapped!((svc) => svc.uuid);
      await waitFor(() => s.sim.faults.pending === 0, 5_000, { what: 'request held' });
      const reason = new ReconcileTimeoutError('drift', 100);
      controller.abort(reason);
      await expect(call).rejects.toBe(reason);
      // The request underneath still completes (and leaves nothing running behind the test).
      await waitFor(() => listed() > held, 5_000, { what: 'held listing answered' });
      const before = s.sim.requestLog.length;
      await expect(api.listServicesMapped!((svc) => svc)).rejects.toBe(reason);
      expect(s.sim.requestLog.length).toBe(before);
    });

    it('a wrapped API without it stays without it, and readers fall back to listServices', async () => {
      const { listServicesMapped: _hidden, ...rest } = abortableCoolify(s.client, new AbortController().signal);
      const bare: CoolifyApi = rest;
      for (const api of [abortableCoolify(bare, new AbortController().signal), view().watchWrites(bare)]) {
        expect(api.listServicesMapped).toBeUndefined();
        expect((await mapServices(api, (svc) => svc.name)).filter((n) => n.startsWith('w')).sort()).toEqual(['w0', 'w1', 'w2']);
      }
    });
  });
});
