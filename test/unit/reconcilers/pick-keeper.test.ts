/**
 * Which of several services carrying one stack's marker the stack keeps, and the `created_at`
 * decoding the "oldest" rule relies on.
 */
import { describe, expect, it } from '@jest/globals';
import { decodeService } from '../../../src/coolify/decode.js';
import { formatServiceMarker, withMarkerTokens } from '../../../src/coolify/markers.js';
import type { CoolifyService } from '../../../src/coolify/types.js';
import { pickKeeper } from '../../../reconcilers/coolify-lookup.js';

const MARKER = formatServiceMarker({ stackId: 'st1', tenantId: 't1' });
const T0 = Date.UTC(2026, 0, 1);

function svc(uuid: string, over: Partial<CoolifyService> = {}): CoolifyService {
  return { uuid, name: 'acme-bot', description: MARKER, environmentId: 1, status: 'exited', dockerComposeRaw: undefined, ...over };
}

describe('pickKeeper', () => {
  it('keeps the running copy over a stored uuid that does not run (a stale admin save of an old uuid)', () => {
    const list = [svc('aaa', { status: 'running:healthy', createdAt: T0 + 5000 }), svc('zzz', { createdAt: T0 })];
    expect(pickKeeper(list, 'zzz')?.uuid).toBe('aaa');
  });

  it('keeps the stored uuid among running copies, and among stopped ones', () => {
    const running = [svc('aaa', { status: 'running:healthy', createdAt: T0 }), svc('zzz', { status: 'running:healthy', createdAt: T0 + 5000 })];
    expect(pickKeeper(running, 'zzz')?.uuid).toBe('zzz');
    const stopped = [svc('aaa', { createdAt: T0 }), svc('zzz', { createdAt: T0 + 5000 })];
    expect(pickKeeper(stopped, 'zzz')?.uuid).toBe('zzz');
  });

  it('without a stored match, keeps a running service over an older stopped one', () => {
    const list = [svc('aaa', { createdAt: T0 }), svc('bbb', { status: 'running:unhealthy', createdAt: T0 + 5000 })];
    expect(pickKeeper(list, '')?.uuid).toBe('bbb');
    expect(pickKeeper(list, 'gone')?.uuid).toBe('bbb');
  });

  it('among stopped services, keeps one not already retired over an older retired copy', () => {
    const retired = svc('aaa', { createdAt: T0, description: withMarkerTokens(MARKER, { 'orphaned-at': new Date(T0).toISOString() }) });
    expect(pickKeeper([retired, svc('bbb', { createdAt: T0 + 5000 })], '')?.uuid).toBe('bbb');
  });

  it('then keeps the oldest by created_at, whatever the uuid order', () => {
    const list = [svc('aaa', { createdAt: T0 + 2000 }), svc('mmm', { createdAt: T0 }), svc('zzz', { createdAt: T0 + 1000 })];
    expect(pickKeeper(list, '')?.uuid).toBe('mmm');
    // Running services are ordered by age too.
    const running = list.map((s) => ({ ...s, status: 'running:healthy' }));
    expect(pickKeeper(running, '')?.uuid).toBe('mmm');
  });

  it('treats a service without created_at as the youngest, and falls back to the lowest uuid on a tie', () => {
    expect(pickKeeper([svc('aaa'), svc('zzz', { createdAt: T0 })], '')?.uuid).toBe('zzz');
    expect(pickKeeper([svc('zzz'), svc('aaa')], '')?.uuid).toBe('aaa');
    expect(pickKeeper([svc('zzz', { createdAt: T0 }), svc('aaa', { createdAt: T0 })], '')?.uuid).toBe('aaa');
    expect(pickKeeper([], '')).toBeUndefined();
  });
});

describe('decodeService created_at', () => {
  const row = { uuid: 'u1', name: 'n', description: MARKER, environment_id: 3, status: 'exited' };

  it("reads Laravel's microsecond timestamp as epoch ms", () => {
    expect(decodeService({ ...row, created_at: '2026-01-01T00:00:01.250000Z' }).createdAt).toBe(T0 + 1250);
  });

  it('leaves it out when missing, null or unreadable, without failing the service', () => {
    for (const created_at of [undefined, null, 'yesterday', 42]) {
      const s = decodeService({ ...row, created_at });
      expect(s.uuid).toBe('u1');
      expect('createdAt' in s).toBe(false);
    }
  });
});
