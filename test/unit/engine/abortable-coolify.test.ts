/**
 * The per-reconcile Coolify view over a real client and the simulator: calls pass through until
 * the signal aborts, a call in flight is released with the abort reason, and nothing is sent after.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { abortableCoolify } from '../../../src/engine/abortable-coolify.js';
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
});
