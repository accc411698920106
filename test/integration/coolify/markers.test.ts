import { describe, expect, it } from '@jest/globals';
import {
  formatProjectMarker,
  formatServiceMarker,
  isValidProjectDescription,
  parseMarker,
  withMarkerTokens,
} from '../../../src/coolify/markers.js';

describe('ownership markers', () => {
  it('formats the SPEC §3 service and project markers', () => {
    expect(formatServiceMarker({ stackId: 'stk123', tenantId: 'ten456' })).toBe(
      'managed-by=cf-reconciler stack=stk123 tenant=ten456',
    );
    expect(formatProjectMarker({ tenantId: 'ten456' })).toBe('managed-by=cf-reconciler tenant=ten456');
  });

  it('round-trips through parseMarker', () => {
    expect(parseMarker(formatServiceMarker({ stackId: 'a1', tenantId: 'b2' }))).toEqual({ stackId: 'a1', tenantId: 'b2', extra: {} });
    expect(parseMarker(formatProjectMarker({ tenantId: 'b2' }))).toEqual({ tenantId: 'b2', extra: {} });
  });

  it('tolerates extra key=value tokens the engine appends', () => {
    const marker = withMarkerTokens(formatServiceMarker({ stackId: 's', tenantId: 't' }), { 'orphaned-at': '2026-01-02T03:04:05.000Z' });
    expect(marker).toBe('managed-by=cf-reconciler stack=s tenant=t orphaned-at=2026-01-02T03:04:05.000Z');
    expect(parseMarker(marker)).toEqual({ stackId: 's', tenantId: 't', extra: { 'orphaned-at': '2026-01-02T03:04:05.000Z' } });
    expect(parseMarker(withMarkerTokens(marker, { 'orphaned-at': undefined }))?.extra).toEqual({});
  });

  it('does not claim descriptions that merely mention the words', () => {
    for (const text of [
      'this used to be managed-by=cf-reconciler stack=s tenant=t',
      'Managed-By=cf-reconciler tenant=t',
      'managed-by=cf-reconciler tenant=t and then free text',
      'managed-by=cf-reconciler stack=s',
      'managed-by=cf-reconciler tenant=t tenant=u',
      'managed-by=someone-else tenant=t',
      'managed-by=cf-reconcilerX tenant=t',
      '',
    ]) {
      expect(parseMarker(text)).toBeNull();
    }
    expect(parseMarker(null)).toBeNull();
    expect(parseMarker(undefined)).toBeNull();
  });

  it('keeps the project marker inside Coolify’s description charset (notes §3)', () => {
    expect(isValidProjectDescription(formatProjectMarker({ tenantId: 'abcdefghijklmno' }))).toBe(true);
    expect(isValidProjectDescription('tenant: x')).toBe(false);
  });

  it('refuses ids that would break the marker', () => {
    expect(() => formatServiceMarker({ stackId: 'a b', tenantId: 't' })).toThrow(/stack id/);
    expect(() => formatProjectMarker({ tenantId: 'x=y' })).toThrow(/tenant id/);
  });
});
