import { beforeAll, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { decideStack } from '../../../src/templates/decide-stack.js';
import type { TemplateCatalog } from '../../../src/templates/template-catalog.js';
import type { StackApply, StackDecision } from '../../../src/templates/types.js';
import { input, loadFixtureCatalog, loadShippedCatalog, PROBE_SECRET, plan, ROUTER_KEY, ROUTER_URL, stack, tenant } from './fixtures.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML in assertions

function applied(decision: StackDecision): StackApply {
  if (decision.kind !== 'apply') throw new Error(`expected apply, got error: ${decision.message}`);
  return decision;
}

function compose(decision: StackDecision): Doc {
  return load(applied(decision).composeYaml) as Doc;
}

let probe: TemplateCatalog;
let shipped: TemplateCatalog;
beforeAll(async () => {
  probe = await loadFixtureCatalog();
  shipped = await loadShippedCatalog();
});

describe('decideStack: a valid stack', () => {
  it('renders placeholders, merges anchors and hardens every service', () => {
    const doc = compose(decideStack(probe, input()));
    const app = doc.services.app;
    expect(app.image).toBe('registry.example.com/probe:1.0.0');
    expect(app.restart).toBe('unless-stopped');
    expect(app.environment).toMatchObject({
      MAP_VALUE: 'hello',
      PREFIXED: 'x-hello-y',
      NUMBER: '3',
      FLAG: 'false',
      SLUG: 'acme',
      DOMAIN: 'acme.cloudfreedom.de',
      STACK: 'probe1',
      STACK_ID: 'stackprobe00001',
      SECRET: '${PROBE_SECRET}',
      LITERAL_DOLLAR: 'costs $$5',
    });
    expect(app.security_opt).toEqual(['no-new-privileges:true']);
    expect(app.cap_drop).toEqual(['ALL']);
    expect(app.cap_add).toEqual(['NET_BIND_SERVICE']);
    expect(app.labels).toMatchObject({ 'cf.tenant': 'acme', 'cf.stack': 'probe1', 'cf.template': 'probe', 'probe.value': 'hello' });
    expect(doc.services.sidecar.cap_add).toBeUndefined();
    expect(doc.services.sidecar.labels).toEqual({ 'cf.tenant': 'acme', 'cf.stack': 'probe1', 'cf.template': 'probe' });
    expect(Object.keys(doc).sort()).toEqual(['services', 'volumes']);
  });

  it('caps limits at the lowest of plan ceiling, template default and compose value', () => {
    const doc = compose(decideStack(probe, input({ plan: plan({ cpuLimit: 0.4, memoryMb: 1024 }) })));
    // app: template default 0.5 cpu / 256 MiB, plan 0.4 cpu → 0.4 cpu, 256 MiB
    expect(doc.services.app.deploy.resources.limits).toEqual({ cpus: '0.4', memory: '256M' });
    expect(doc.services.app.cpus).toBe(0.4);
    expect(doc.services.app.mem_limit).toBe('256m');
    // sidecar: no template default, compose asks 0.25 cpu / 128M
    expect(doc.services.sidecar.deploy.resources.limits).toEqual({ cpus: '0.25', memory: '128M' });
    const tight = compose(decideStack(probe, input({ plan: plan({ cpuLimit: 0.1, memoryMb: 64 }) })));
    expect(tight.services.sidecar.deploy.resources.limits).toEqual({ cpus: '0.1', memory: '64M' });
    expect(tight.services.app.mem_limit).toBe('64m');
  });

  it('sets router variables and secret params as env, never in the compose text', () => {
    const decision = applied(decideStack(probe, input()));
    expect(decision.env).toEqual([
      { key: 'CLOUDFREEDOM_API_KEY', value: ROUTER_KEY, secret: true },
      { key: 'CLOUDFREEDOM_ROUTER_BASE_URL', value: ROUTER_URL, secret: false },
      { key: 'PROBE_SECRET', value: PROBE_SECRET, secret: true },
    ]);
    expect(decision.composeYaml).not.toContain(PROBE_SECRET);
    expect(decision.composeYaml).not.toContain(ROUTER_KEY);
    expect(decision.composeYaml).not.toContain(ROUTER_URL);
    expect(decision.templateName).toBe('probe');
    expect(decision.templateVersion).toBe('0.1.0');
  });

  it('gives default hosts: <stack>.<domain>, then <stack>-<service>.<domain>', () => {
    const decision = applied(decideStack(probe, input()));
    expect(decision.hosts).toEqual(['probe1.acme.cloudfreedom.de', 'probe1-sidecar.acme.cloudfreedom.de']);
    expect(decision.urls).toEqual([
      { name: 'app', url: 'https://probe1.acme.cloudfreedom.de:8080' },
      { name: 'sidecar', url: 'https://probe1-sidecar.acme.cloudfreedom.de:9090' },
    ]);
  });

  it('uses the stack domains in ingress order, lower-cased, with defaults for the rest', () => {
    const decision = applied(decideStack(probe, input({ stack: stack({ domains: ['Chat.Acme.CloudFreedom.de'] }) })));
    expect(decision.hosts).toEqual(['chat.acme.cloudfreedom.de', 'probe1-sidecar.acme.cloudfreedom.de']);
    const apex = applied(decideStack(probe, input({ stack: stack({ domains: ['acme.cloudfreedom.de', 'api.acme.cloudfreedom.de'] }) })));
    expect(apex.urls.map((u) => u.url)).toEqual(['https://acme.cloudfreedom.de:8080', 'https://api.acme.cloudfreedom.de:9090']);
  });

  it('gives a tenant without a domain no public host, and clears urls', () => {
    const decision = applied(decideStack(probe, input({ tenant: tenant({ domain: '' }) })));
    expect(decision.hosts).toEqual([]);
    expect(decision.urls).toEqual([
      { name: 'app', url: null },
      { name: 'sidecar', url: null },
    ]);
  });

  it('accepts a host the stack already owns', () => {
    const owners = new Map([['probe1.acme.cloudfreedom.de', 'stackprobe00001']]);
    expect(decideStack(probe, input({ hostOwners: owners })).kind).toBe('apply');
  });

  it('hashes deterministically and changes when compose, env or urls change', () => {
    const base = applied(decideStack(probe, input())).hash;
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(applied(decideStack(probe, input())).hash).toBe(base);
    const reordered = stack({ params: { PROBE_SECRET, VALUE: 'hello' } });
    expect(applied(decideStack(probe, input({ stack: reordered }))).hash).toBe(base);
    const hashes = [
      applied(decideStack(probe, input({ stack: stack({ params: { VALUE: 'other', PROBE_SECRET } }) }))).hash,
      applied(decideStack(probe, input({ stack: stack({ params: { VALUE: 'hello', PROBE_SECRET: 'AnotherSecret1' } }) }))).hash,
      applied(decideStack(probe, input({ tenant: tenant({ routerApiKey: 'rk-rotated-000000' }) }))).hash,
      applied(decideStack(probe, input({ stack: stack({ domains: ['x.acme.cloudfreedom.de'] }) }))).hash,
      applied(decideStack(probe, input({ plan: plan({ memoryMb: 200 }) }))).hash,
    ];
    expect(new Set([base, ...hashes]).size).toBe(6);
  });
});

describe('decideStack: the shipped templates', () => {
  const cases: [string, Record<string, unknown>, number][] = [
    ['telegram-bot', { TELEGRAM_BOT_TOKEN: '123456789:AAH0123456789abcdefghijklmnopqrstuv' }, 0],
    ['openclaw-agent', { AUTH_PASSWORD: 'correct horse battery', OPENCLAW_GATEWAY_TOKEN: 'a'.repeat(40) }, 1],
    ['base-llm', { LITELLM_MASTER_KEY: 'sk-0123456789abcdefghij' }, 2],
  ];
  it.each(cases)('%s renders, passes the hardening and routes LLM traffic through the router', (name, params, ingress) => {
    const s = stack({ name: 'main', template: name, params });
    const decision = applied(decideStack(shipped, input({ stack: s, tenantStacks: [s] })));
    const doc = load(decision.composeYaml) as Doc;
    const text = decision.composeYaml;
    expect(text).toContain('${CLOUDFREEDOM_API_KEY}');
    expect(text).toContain('${CLOUDFREEDOM_ROUTER_BASE_URL}');
    for (const value of Object.values(params)) expect(text).not.toContain(String(value));
    expect(decision.hosts).toHaveLength(ingress);
    for (const service of Object.values(doc.services) as Doc[]) {
      expect(service.cap_drop).toEqual(['ALL']);
      expect(service.security_opt).toEqual(['no-new-privileges:true']);
      expect(service.ports).toBeUndefined();
      expect(service.image).toMatch(/:[A-Za-z0-9][\w.-]*$/);
      expect(service.image).not.toMatch(/:latest$/);
      expect(Number(service.deploy.resources.limits.cpus)).toBeLessThanOrEqual(2);
    }
    expect(decision.env.filter((e) => e.secret).map((e) => e.key)).toEqual(
      expect.arrayContaining(['CLOUDFREEDOM_API_KEY', ...Object.keys(params)]),
    );
  });

  it('base-llm puts both services on an internal network and keeps Open WebUI data in a volume', () => {
    const s = stack({ name: 'chat', template: 'base-llm', params: { LITELLM_MASTER_KEY: 'sk-0123456789abcdefghij' } });
    const decision = applied(decideStack(shipped, input({ stack: s, tenantStacks: [s] })));
    const doc = load(decision.composeYaml) as Doc;
    expect(doc.networks.llm.internal).toBe(true);
    expect(doc.services.webui.networks).toContain('llm');
    expect(doc.services.litellm.networks).toContain('llm');
    expect(doc.services.webui.volumes).toEqual(['webui-data:/app/backend/data']);
    expect(decision.urls).toEqual([
      { name: 'webui', url: 'https://chat.acme.cloudfreedom.de:8080' },
      { name: 'litellm', url: 'https://chat-litellm.acme.cloudfreedom.de:4000' },
    ]);
  });
});
