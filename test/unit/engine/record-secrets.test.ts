import { beforeAll, describe, expect, it } from '@jest/globals';
import { catalogPolicy, trackRecordSecrets } from '../../../src/engine/policy.js';
import { REDACTED, Redactor } from '../../../src/logging/redactor.js';
import type { TemplateCatalog } from '../../../src/templates/template-catalog.js';
import { loadFixtureCatalog, stack, tenant } from '../templates/fixtures.js';

let catalog: TemplateCatalog;
beforeAll(async () => {
  catalog = await loadFixtureCatalog();
});

describe('trackRecordSecrets', () => {
  it('masks the router key and secret params, and forgets them once resyncs stop seeing them', () => {
    const redactor = new Redactor();
    redactor.add('process-password');
    const policy = catalogPolicy(catalog);
    const t = tenant({ routerApiKey: 'rk-rotated-away-0001' });
    const secretName = catalog.get(stack().template)?.params.find((p) => p.secret)?.name;
    expect(secretName).toBeDefined();
    const s = stack({ params: { ...stack().params, [secretName!]: 'param-secret-value-0001' } });

    trackRecordSecrets(redactor, policy, t, s);
    expect(redactor.redact('key rk-rotated-away-0001 param param-secret-value-0001')).toBe(`key ${REDACTED} param ${REDACTED}`);

    // Two resyncs that no longer list these records (a rotated key, a deleted stack).
    redactor.sweep();
    redactor.sweep();
    expect(redactor.redact('rk-rotated-away-0001')).toBe('rk-rotated-away-0001');
    expect(redactor.size).toBe(1);
    expect(redactor.redact('process-password')).toBe(REDACTED);
  });
});
