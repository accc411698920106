/**
 * Secret values (router key, secret params) may only travel in the env entries marked secret:
 * never in compose text, urls, hosts, the hash, error messages or `templates validate` output.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { validateTemplates } from '../../../src/commands/templates.js';
import { load } from 'js-yaml';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decideStack } from '../../../src/templates/decide-stack.js';
import { catalogOf, templateFromSources, type TemplateCatalog } from '../../../src/templates/template-catalog.js';
import type { StackDecision } from '../../../src/templates/types.js';
import { FIXTURE_CATALOG_DIR, input, loadFixtureCatalog, loadShippedCatalog, plan, ROUTER_KEY, SHIPPED_DIR, stack, tenant } from './fixtures.js';

const SECRETS = {
  probe: 'ProbeSecretValue0042',
  telegram: '987654321:AAFsecretsecretsecretsecretsecret0042',
  password: 'openclaw-password-0042',
  gateway: 'gatewaytoken0042gatewaytoken0042gatewaytoken',
  litellm: 'sk-litellmsecret0042abcdef',
};
const ALL = [ROUTER_KEY, ...Object.values(SECRETS)];

/** The decision with secret env values taken out: what may end up in logs, events or records. */
function publicPart(decision: StackDecision): string {
  if (decision.kind === 'error') return decision.message;
  return JSON.stringify({ ...decision, env: decision.env.map((e) => (e.secret ? { ...e, value: '<secret>' } : e)) });
}

function expectNoSecret(text: string): void {
  for (const secret of ALL) expect(text).not.toContain(secret);
}

let probe: TemplateCatalog;
let shipped: TemplateCatalog;
beforeAll(async () => {
  probe = await loadFixtureCatalog();
  shipped = await loadShippedCatalog();
});

describe('secret values', () => {
  it('stay out of everything but the secret env entries of an apply', () => {
    const cases: [TemplateCatalog, string, Record<string, unknown>][] = [
      [probe, 'probe', { PROBE_SECRET: SECRETS.probe }],
      [shipped, 'telegram-bot', { TELEGRAM_BOT_TOKEN: SECRETS.telegram }],
      [shipped, 'openclaw-agent', { AUTH_PASSWORD: SECRETS.password, OPENCLAW_GATEWAY_TOKEN: SECRETS.gateway }],
      [shipped, 'base-llm', { LITELLM_MASTER_KEY: SECRETS.litellm }],
    ];
    for (const [catalog, template, params] of cases) {
      const s = stack({ template, params });
      const decision = decideStack(catalog, input({ stack: s, tenantStacks: [s] }));
      expect(decision.kind).toBe('apply');
      expectNoSecret(publicPart(decision));
      if (decision.kind === 'apply') {
        const secretValues = decision.env.filter((e) => e.secret).map((e) => e.value);
        expect(secretValues).toEqual(expect.arrayContaining([ROUTER_KEY, ...Object.values(params)]));
        expect(decision.env.filter((e) => !e.secret).map((e) => e.key)).toEqual(['CLOUDFREEDOM_ROUTER_BASE_URL']);
      }
    }
  });

  it('are never quoted in error messages, even when put under a wrong or unknown name', () => {
    const errors = [
      decideStack(probe, input({ stack: stack({ params: { PROBE_SECRET: `${SECRETS.probe}!` } }) })),
      decideStack(probe, input({ stack: stack({ params: { PROBE_SECRET: SECRETS.probe, SECRET_TYPO: SECRETS.probe } }) })),
      decideStack(probe, input({ stack: stack({ params: { PROBE_SECRET: SECRETS.probe, VALUE: 42 } }) })),
      decideStack(probe, input({ stack: stack({ params: { PROBE_SECRET: SECRETS.probe } }), plan: plan({ maxStacks: 0 }) })),
      decideStack(probe, input({ stack: stack({ params: { PROBE_SECRET: SECRETS.probe }, domains: ['evil.com'] }) })),
      decideStack(shipped, input({ stack: stack({ template: 'telegram-bot', params: { TELEGRAM_BOT_TOKEN: `${SECRETS.telegram} ` } }) })),
      decideStack(probe, input({ tenant: tenant({ problems: ['slug is malformed'] }) })),
    ];
    for (const decision of errors) {
      expect(decision.kind).toBe('error');
      expectNoSecret(publicPart(decision));
    }
  });

  it('never reach the output of templates validate', async () => {
    for (const dir of [SHIPPED_DIR, FIXTURE_CATALOG_DIR]) {
      const lines: string[] = [];
      await validateTemplates(dir, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
      const text = lines.join('\n');
      for (const example of ['sample-password-123', '0123456789abcdef0123456789abcdef', 'sk-sample0123456789abcdef', 'ProbeExample1', 'sample-router-key']) {
        expect(text).not.toContain(example);
      }
    }
  });
});

describe('an optional secret param left empty', () => {
  const manifest = 'name: opt\nversion: 1.0.0\ndescription: t\nparams:\n  - { name: HOOK, type: string, secret: true }\n';
  const compose = 'services:\n  app:\n    image: alpine:3.20\n    environment:\n      HOOK: ${HOOK}\n      OTHER: x\n  side:\n    image: alpine:3.20\n    environment:\n      - HOOK_COPY=${HOOK}\n';

  it('leaves its environment entries out (Compose would fill them from the host) and says so in templates validate', async () => {
    const loaded = templateFromSources('opt', manifest, compose);
    expect(loaded.problems).toEqual([]);
    const catalog = catalogOf('/t', [loaded.template!]);
    const decide = (params: Record<string, unknown>) =>
      decideStack(catalog, input({ plan: plan({ allowedTemplates: ['opt'] }), stack: stack({ template: 'opt', params }) }));
    const unset = decide({});
    if (unset.kind !== 'apply') throw new Error(unset.message);
    const doc = load(unset.composeYaml) as { services: { app: { environment: unknown }; side: { environment: unknown } } };
    expect(doc.services.app.environment).toEqual({ OTHER: 'x' });
    expect(doc.services.side.environment).toEqual([]);
    expect(unset.env.map((e) => e.key)).not.toContain('HOOK');
    const set = decide({ HOOK: 'hook-value' });
    if (set.kind !== 'apply') throw new Error(set.message);
    expect((load(set.composeYaml) as { services: { app: { environment: unknown } } }).services.app.environment).toEqual({ HOOK: '${HOOK}', OTHER: 'x' });

    const dir = await mkdtemp(join(tmpdir(), 'cf-opt-'));
    try {
      await mkdir(join(dir, 'opt'));
      await writeFile(join(dir, 'opt', 'template.yaml'), manifest);
      await writeFile(join(dir, 'opt', 'compose.yaml'), compose);
      const out: string[] = [];
      expect(await validateTemplates(dir, { out: (l) => out.push(l), err: (l) => out.push(l) })).toBe(0);
      expect(out.join('\n')).toMatch(/note: optional secret HOOK: a stack that leaves it empty gets no \$\{HOOK\} environment entries/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
