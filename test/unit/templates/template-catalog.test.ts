import { describe, expect, it } from '@jest/globals';
import { validateTemplates } from '../../../src/commands/templates.js';
import { loadTemplateCatalog } from '../../../src/templates/template-catalog.js';
import { FIXTURE_CATALOG_DIR, PRIVILEGED_ONLY_DIR, ROOT } from './fixtures.js';

describe('loadTemplateCatalog', () => {
  it('keeps good templates usable next to broken ones and names file and field of each problem', async () => {
    const catalog = await loadTemplateCatalog(FIXTURE_CATALOG_DIR);
    expect(catalog.names()).toEqual(['probe']);
    expect(catalog.get('probe')?.version).toBe('0.1.0');
    expect(catalog.get('privileged-app')).toBeUndefined();
    const problems = catalog.problems.map((p) => `${p.template} | ${p.file} | ${p.message}`);
    expect(problems).toEqual([
      expect.stringMatching(/^broken-yaml \| broken-yaml\/compose\.yaml \| not valid YAML: .*must be quoted\)$/),
      'no-compose | no-compose/compose.yaml | file is missing',
      'privileged-app | privileged-app/compose.yaml | services.app.privileged: privileged containers are not allowed',
    ]);
  });

  it('reports an unreadable directory as a problem instead of throwing', async () => {
    const catalog = await loadTemplateCatalog(`${ROOT}test/fixtures/templates/does-not-exist`);
    expect(catalog.names()).toEqual([]);
    expect(catalog.problems).toHaveLength(1);
    expect(catalog.problems[0]?.message).toMatch(/templates directory cannot be read/);
  });

  it('keeps loaded templates read-only', async () => {
    const catalog = await loadTemplateCatalog(FIXTURE_CATALOG_DIR);
    const compose = catalog.get('probe')!.compose as { services: Record<string, unknown> };
    expect(() => {
      compose.services.extra = {};
    }).toThrow(TypeError);
  });
});

describe('templates validate (in-process)', () => {
  it('fails with a clear message on a template asking for privileged: true', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await validateTemplates(PRIVILEGED_ONLY_DIR, { out: (l) => out.push(l), err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err).toEqual([
      'FAIL privileged-app/compose.yaml: services.app.privileged: privileged containers are not allowed',
      `1 problem in ${PRIVILEGED_ONLY_DIR}`,
    ]);
    expect(out).toEqual([]);
  });

  it('prints every problem of a mixed directory and still reports the good template', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await validateTemplates(FIXTURE_CATALOG_DIR, { out: (l) => out.push(l), err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err).toHaveLength(4);
    expect(out).toEqual(['ok   probe 0.1.0: 2 service(s), 2 ingress']);
  });
});
