/**
 * Which restart request is due: later than both the record's restarted_at and the request the
 * service itself says was carried out (its `restarted=` token), so a stale save cannot repeat one.
 */
import { describe, expect, it } from '@jest/globals';
import { formatServiceMarker, withMarkerTokens } from '../../../src/coolify/markers.js';
import { expectedServiceDescription, lastRestart, restartDue } from '../../../reconcilers/restart.js';
import { stack as stackFixture, tenant as tenantFixture } from '../templates/fixtures.js';

const T1 = Date.parse('2026-06-01T10:00:00Z');
const T2 = Date.parse('2026-06-01T11:00:00Z');
const tenant = tenantFixture();
const marker = formatServiceMarker({ stackId: 'stackprobe00001', tenantId: tenant.id });
const withToken = (ms: number) => withMarkerTokens(marker, { restarted: new Date(ms).toISOString() });

describe('restartDue', () => {
  it('no request, or a request already carried out, is not due', () => {
    expect(restartDue(stackFixture(), marker)).toBeUndefined();
    expect(restartDue(stackFixture({ restartRequestedAt: T1, restartedAt: T1 }), marker)).toBeUndefined();
  });

  it('a request later than restarted_at and the token is due', () => {
    expect(restartDue(stackFixture({ restartRequestedAt: T1 }), marker)).toBe(T1);
    expect(restartDue(stackFixture({ restartRequestedAt: T2, restartedAt: T1 }), withToken(T1))).toBe(T2);
  });

  it('a stale save (restarted_at empty or older) does not make a carried-out request due again', () => {
    expect(restartDue(stackFixture({ restartRequestedAt: T1, restartedAt: null }), withToken(T1))).toBeUndefined();
    expect(lastRestart(stackFixture({ restartRequestedAt: T1, restartedAt: null }), withToken(T1))).toBe(T1);
  });
});

describe('expectedServiceDescription', () => {
  it('keeps only the restart token on the plain marker', () => {
    const s = stackFixture();
    expect(expectedServiceDescription(tenant, s, marker)).toBe(marker);
    const messy = withMarkerTokens(withToken(T1), { 'delete-after': new Date(T2).toISOString() });
    expect(expectedServiceDescription(tenant, s, messy)).toBe(withToken(T1));
  });
});
