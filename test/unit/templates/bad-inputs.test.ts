/**
 * Table-driven corpus of hostile or broken inputs. Every row ends in either its specific error
 * or a value that reaches the container unchanged as one plain string.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { decideStack } from '../../../src/templates/decide-stack.js';
import { templateFromSources, type TemplateCatalog } from '../../../src/templates/template-catalog.js';
import type { StackDecision, StackDecisionInput } from '../../../src/templates/types.js';
import { composeInterpolated, input, loadFixtureCatalog, loadShippedCatalog, PROBE_SECRET, plan, ROUTER_KEY, stack, tenant } from './fixtures.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML in assertions

let catalog: TemplateCatalog;
beforeAll(async () => {
  catalog = await loadFixtureCatalog();
});

function decide(overrides: Partial<StackDecisionInput>): StackDecision {
  return decideStack(catalog, input(overrides));
}

function errorOf(decision: StackDecision): string {
  if (decision.kind !== 'error') throw new Error('expected an error decision, got apply');
  return decision.message;
}

// ── 1. Injection strings in every placeholder position: each must come back as one plain string ──
// (Values with `{{` or `$` are in section 4: in an environment value or a label they would reach
// Coolify's or Compose's rewrites, so they are refused.)

const INJECTIONS: [string, string][] = [
  ['newline plus a compose key', 'hi\n    privileged: true\n    volumes: ["/:/host"]\n    x-pad:'],
  ['a whole new service', 'x\nservices:\n  evil:\n    image: alpine\n    privileged: true'],
  ['mapping syntax', 'a: b'],
  ['sequence item', '- item'],
  ['flow mapping', '{ privileged: true }'],
  ['flow sequence', '[1, 2, 3]'],
  ['anchor', '&anchor value'],
  ['alias', '*alias'],
  ['tag', '!!python/object:os.system'],
  ['document marker', '---\nnew: doc'],
  ['quotes', `'single' "double" \\backslash`],
  ['comment', '# not a comment'],
  ['unicode line separator', 'x\u2028privileged: true'],
  ['next line (U+0085)', 'a\u0085b'],
  ['boolean-looking', 'true'],
  ['YAML 1.1 boolean', 'yes'],
  ['hex number', '0x1F'],
  ['null', 'null'],
  ['tilde', '~'],
  ['date', '2001-12-14'],
  ['leading and trailing spaces', '  padded  '],
  ['empty string', ''],
  ['tab and carriage return', 'a\tb\r\nc'],
];

const POSITIONS: [string, (doc: Doc) => unknown, (v: string) => string][] = [
  ['environment map value', (d) => d.services.app.environment.MAP_VALUE, (v) => v],
  ['inside a longer string', (d) => d.services.app.environment.PREFIXED, (v) => `x-${v}-y`],
  ['command list item', (d) => d.services.app.command[2], (v) => v],
  ['entrypoint string', (d) => d.services.app.entrypoint, (v) => `/bin/probe ${v}`],
  ['label value', (d) => d.services.app.labels['probe.value'], (v) => v],
  ['healthcheck test item', (d) => d.services.app.healthcheck.test[2], (v) => v],
  ['environment list item', (d) => d.services.sidecar.environment[0], (v) => `LIST_VALUE=${v}`],
];

describe('injection strings round-trip as plain strings', () => {
  it.each(INJECTIONS)('%s', (_label, value) => {
    const decision = decide({ stack: stack({ params: { VALUE: value, PROBE_SECRET } }) });
    if (decision.kind !== 'apply') throw new Error(decision.message);
    const doc = load(decision.composeYaml) as Doc;
    for (const [, get, expected] of POSITIONS) {
      const rendered = get(doc);
      expect(typeof rendered).toBe('string');
      expect(composeInterpolated(rendered as string)).toBe(expected(value));
    }
    expect(doc.services.app.privileged).toBeUndefined();
    expect(Object.keys(doc.services).sort()).toEqual(['app', 'sidecar']);
    expect(Object.keys(doc.services.app.environment)).toHaveLength(11);
    expect(doc.services.sidecar.environment).toHaveLength(2);
    expect(doc.services.app.volumes).toEqual(['data:/data', { type: 'tmpfs', target: '/cache' }]);
  });
});

// ── 2. Records that must be refused, each with its specific message ──

const RECORD_CASES: [string, () => StackDecision, RegExp][] = [
  // wrong types
  ['string param given a number', () => decide({ stack: stack({ params: { VALUE: 5, PROBE_SECRET } }) }), /param VALUE must be a string, got a number/],
  ['string param given a mapping', () => decide({ stack: stack({ params: { VALUE: { a: 1 }, PROBE_SECRET } }) }), /param VALUE must be a string, got a mapping/],
  ['string param given a list', () => decide({ stack: stack({ params: { VALUE: ['x'], PROBE_SECRET } }) }), /param VALUE must be a string, got a list/],
  ['number param given a numeric string', () => decide({ stack: stack({ params: { COUNT: '5', PROBE_SECRET } }) }), /param COUNT must be a number, got a string/],
  ['number param given Infinity', () => decide({ stack: stack({ params: { COUNT: Infinity, PROBE_SECRET } }) }), /param COUNT must be a finite number/],
  ['boolean param given "true"', () => decide({ stack: stack({ params: { FLAG: 'true', PROBE_SECRET } }) }), /param FLAG must be a boolean, got a string/],
  ['NUL byte in a value', () => decide({ stack: stack({ params: { VALUE: 'a\u0000b', PROBE_SECRET } }) }), /param VALUE contains a NUL character or invalid Unicode/],
  ['lone surrogate in a value', () => decide({ stack: stack({ params: { VALUE: 'a\ud800b', PROBE_SECRET } }) }), /param VALUE contains a NUL character or invalid Unicode/],
  // missing, unknown, pattern
  ['missing required secret', () => decide({ stack: stack({ params: { VALUE: 'x' } }) }), /param PROBE_SECRET is required/],
  ['empty required secret', () => decide({ stack: stack({ params: { PROBE_SECRET: '' } }) }), /param PROBE_SECRET is required/],
  ['unknown param', () => decide({ stack: stack({ params: { PROBE_SECRET, EXTRA: 1 } }) }), /unknown param EXTRA \(template probe takes: VALUE, TAG, COUNT, FLAG, PROBE_SECRET\)/],
  ['unknown param with a newline in its name', () => decide({ stack: stack({ params: { PROBE_SECRET, 'A\nB': 1 } }) }), /unknown param A\\nB/],
  ['tag that fails its pattern', () => decide({ stack: stack({ params: { PROBE_SECRET, TAG: '1.0;rm -rf /' } }) }), /param TAG does not match the pattern/],
  ['secret that fails its pattern', () => decide({ stack: stack({ params: { PROBE_SECRET: 'short!' } }) }), /param PROBE_SECRET does not match the pattern/],
  // template and plan
  ['unknown template', () => decide({ stack: stack({ template: 'nope' }) }), /unknown template "nope" \(available: probe\)/],
  ['broken template', () => decide({ stack: stack({ template: 'privileged-app' }) }), /template "privileged-app" is broken/],
  ['template not allowed by the plan', () => decide({ plan: plan({ allowedTemplates: ['base-llm'] }) }), /template probe is not allowed by plan starter \(allowed: base-llm\)/],
  ['malformed stack record', () => decide({ stack: stack({ problems: ['params must be a JSON object'] }) }), /the stack record is malformed: params must be a JSON object/],
  ['params that are not an object', () => decide({ stack: stack({ params: null as unknown as Record<string, unknown> }) }), /params must be a JSON object/],
  ['domains that are not a list', () => decide({ stack: stack({ domains: 'a.acme.cloudfreedom.de' as unknown as string[] }) }), /domains must be a JSON array of host names/],
  ['malformed plan record', () => decide({ plan: plan({ problems: ['cpu_limit must be > 0'] }) }), /plan starter is malformed: cpu_limit must be > 0/],
  // domain hijack attempts
  ['a domain of someone else', () => decide({ stack: stack({ domains: ['evil.example.com'] }) }), /domain evil\.example\.com is outside the tenant's domain acme\.cloudfreedom\.de/],
  ['suffix trick', () => decide({ stack: stack({ domains: ['acme.cloudfreedom.de.evil.com'] }) }), /is outside the tenant's domain/],
  ['look-alike without a dot', () => decide({ stack: stack({ domains: ['xacme.cloudfreedom.de'] }) }), /domain xacme\.cloudfreedom\.de is outside/],
  ['the parent domain', () => decide({ stack: stack({ domains: ['cloudfreedom.de'] }) }), /domain cloudfreedom\.de is outside/],
  ['a URL instead of a host', () => decide({ stack: stack({ domains: ['https://a.acme.cloudfreedom.de'] }) }), /domain "https:\/\/a\.acme\.cloudfreedom\.de" is not a valid host name/],
  ['a host with a port', () => decide({ stack: stack({ domains: ['a.acme.cloudfreedom.de:443'] }) }), /is not a valid host name/],
  ['a wildcard', () => decide({ stack: stack({ domains: ['*.acme.cloudfreedom.de'] }) }), /is not a valid host name/],
  ['an IP address', () => decide({ stack: stack({ domains: ['10.0.0.1'] }) }), /domain "10\.0\.0\.1" is not a valid host name/],
  ['a host with a newline', () => decide({ stack: stack({ domains: ['a.acme.cloudfreedom.de\nb'] }) }), /domain "a\.acme\.cloudfreedom\.de\\nb" is not a valid host name/],
  ['the same host twice', () => decide({ stack: stack({ domains: ['a.acme.cloudfreedom.de', 'A.acme.cloudfreedom.de'] }) }), /domain a\.acme\.cloudfreedom\.de is listed twice/],
  ['a host owned by another stack', () => decide({ hostOwners: new Map([['probe1.acme.cloudfreedom.de', 'stackolder00001']]) }), /domain probe1\.acme\.cloudfreedom\.de is already used by stack stackolder00001/],
  ['more domains than ingress entries', () => decide({ stack: stack({ domains: ['a.acme.cloudfreedom.de', 'b.acme.cloudfreedom.de', 'c.acme.cloudfreedom.de'] }) }), /3 domains given but template probe has 2 ingress entries/],
  ['domains on a tenant without a domain', () => decide({ tenant: tenant({ domain: '' }), stack: stack({ domains: ['a.acme.cloudfreedom.de'] }) }), /the tenant has no domain, so this stack cannot have domains/],
  ['a malformed tenant domain', () => decide({ tenant: tenant({ domain: 'acme..de' }) }), /tenant domain "acme\.\.de" is not a valid host name/],
  // quota edges
  ['max_stacks 0', () => decide({ plan: plan({ maxStacks: 0 }) }), /over the plan's max_stacks: plan starter allows 0 stacks and this is number 1 of 1 by age/],
  ['third stack on a plan of two', () => quota(2, 'c'), /allows 2 stacks and this is number 3 of 3 by age/],
  ['same created time: higher id loses', () => quotaTie(), /allows 1 stack and this is number 2 of 2 by age/],
];

function quotaStacks(): ReturnType<typeof stack>[] {
  return [
    stack({ id: 'a', name: 'a', created: 100 }),
    stack({ id: 'b', name: 'b', created: 200 }),
    stack({ id: 'c', name: 'c', created: 300 }),
    stack({ id: 'd', name: 'd', created: 50, desiredStatus: 'deleted' }),
  ];
}

function quota(maxStacks: number, id: string): StackDecision {
  const all = quotaStacks();
  const self = all.find((s) => s.id === id) ?? all[0]!;
  return decide({ plan: plan({ maxStacks }), stack: self, tenantStacks: all });
}

function quotaTie(): StackDecision {
  const x = stack({ id: 'x', name: 'x', created: 100 });
  const y = stack({ id: 'y', name: 'y', created: 100 });
  return decide({ plan: plan({ maxStacks: 1 }), stack: y, tenantStacks: [y, x] });
}

describe('records refused with a specific message', () => {
  it.each(RECORD_CASES)('%s', (_label, run, expected) => {
    const message = errorOf(run());
    expect(message).toMatch(expected);
    expect(message).not.toContain(PROBE_SECRET);
    expect(message).not.toContain('short!');
  });

  it('lets the oldest stacks keep their place and ignores deleted ones', () => {
    expect(quota(2, 'a').kind).toBe('apply');
    expect(quota(2, 'b').kind).toBe('apply');
    expect(quota(3, 'c').kind).toBe('apply');
    expect(decide({ plan: plan({ maxStacks: 0 }), stack: stack({ desiredStatus: 'deleted' }) }).kind).toBe('apply');
  });

  it('reports every problem of a record at once', () => {
    const message = errorOf(decide({ plan: plan({ maxStacks: 0 }), stack: stack({ params: { EXTRA: 1 }, domains: ['evil.com'] }) }));
    expect(message.split('; ')).toHaveLength(4);
  });
});

// ── 3. Templates that ask for what the platform refuses ──

const MANIFEST = `name: t
version: 1.0.0
description: test
params:
  - { name: P, type: string, default: x }
  - { name: S, type: string, secret: true, required: true, example: abc }
ingress:
  - { service: app, port: 80 }
capabilities:
  app: [NET_BIND_SERVICE]
`;

function composeWith(service: string, extra = ''): string {
  const indented = service
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return `services:\n  app:\n    image: alpine:3.20\n    environment:\n      S: \${S}\n${indented}\n${extra}`;
}

const TEMPLATE_CASES: [string, string, string, RegExp][] = [
  ['privileged', MANIFEST, composeWith('privileged: true'), /services\.app\.privileged: privileged containers are not allowed/],
  ['host network', MANIFEST, composeWith('network_mode: host'), /services\.app\.network_mode: host networking is not allowed/],
  ['another container network', MANIFEST, composeWith('network_mode: "container:other"'), /services\.app\.network_mode: only none or service:/],
  ['host pid', MANIFEST, composeWith('pid: host'), /services\.app\.pid: sharing the host's or another container's pid namespace/],
  ['host ipc', MANIFEST, composeWith('ipc: host'), /services\.app\.ipc: sharing the host's/],
  ['devices', MANIFEST, composeWith('devices: ["/dev/kvm:/dev/kvm"]'), /services\.app\.devices: host devices are not allowed/],
  ['docker socket', MANIFEST, composeWith('volumes: ["/var/run/docker.sock:/var/run/docker.sock"]'), /services\.app\.volumes\[0\]: mounting the Docker socket is not allowed/],
  ['host path bind', MANIFEST, composeWith('volumes: ["/etc:/host-etc:ro"]'), /host-path bind mount '\/etc' is not allowed/],
  ['relative bind', MANIFEST, composeWith('volumes: ["./data:/data"]'), /host-path bind mount '\.\/data' is not allowed/],
  ['long-form bind', MANIFEST, composeWith('volumes:\n  - { type: bind, source: /srv, target: /srv }'), /host-path bind mount '\/srv' is not allowed/],
  ['undeclared volume', MANIFEST, composeWith('volumes: ["data:/data"]'), /volume 'data' is not declared under top-level volumes/],
  ['published ports', MANIFEST, composeWith('ports: ["8080:80"]'), /services\.app\.ports: published host ports are not allowed/],
  ['cap_add beyond the template', MANIFEST, composeWith('cap_add: [SYS_ADMIN]'), /services\.app\.cap_add: SYS_ADMIN is not among the template's capabilities for app/],
  ['seccomp unconfined', MANIFEST, composeWith('security_opt: ["seccomp:unconfined"]'), /services\.app\.security_opt: 'seccomp:unconfined' refused/],
  ['no-new-privileges off', MANIFEST, composeWith('security_opt: ["no-new-privileges:false"]'), /'no-new-privileges:false' refused/],
  ['build from source', MANIFEST, composeWith('build: .'), /services\.app\.build: building images is not allowed/],
  ['env file on the host', MANIFEST, composeWith('env_file: [.env]'), /services\.app\.env_file: env files on the host are not allowed/],
  ['traefik label', MANIFEST, composeWith('labels: { traefik.http.routers.x.rule: "Host(`bank.com`)" }'), /services\.app\.labels\.traefik\.http\.routers\.x\.rule: routing and Coolify labels are set by the platform/],
  ['host-gateway mapping', MANIFEST, composeWith('extra_hosts: ["host.docker.internal:host-gateway"]'), /services\.app\.extra_hosts: host name overrides are not allowed/],
  ['unknown service key', MANIFEST, composeWith('sysctls: { net.ipv4.ip_forward: 1 }'), /services\.app\.sysctls: kernel parameters are not allowed/],
  ['external volume', MANIFEST, composeWith('volumes: ["data:/data"]', 'volumes:\n  data: { external: true }'), /volumes\.data\.external: refers to a volume outside the stack/],
  ['volume driver options', MANIFEST, composeWith('volumes: ["data:/data"]', 'volumes:\n  data: { driver_opts: { type: none, o: bind, device: /etc } }'), /volumes\.data\.driver_opts: volume drivers and options can bind host paths/],
  ['external network', MANIFEST, composeWith('networks: [shared]', 'networks:\n  shared: { external: true }'), /networks\.shared\.external: refers to a network outside the stack/],
  ['top-level secrets', MANIFEST, composeWith('', 'secrets:\n  s: { file: /etc/shadow }'), /secrets: top-level key not allowed/],
  ['placeholder in a key', MANIFEST, composeWith('labels: { "{{params.P}}": x }'), /services\.app\.labels\.\{\{params\.P\}\}: placeholders are not allowed in mapping keys/],
  ['secret param as a placeholder', MANIFEST, composeWith('command: ["{{params.S}}"]'), /secret param S cannot be a placeholder; reference it as \$\{S\}/],
  ['unknown placeholder', MANIFEST, composeWith('command: ["{{params.NOPE}}"]'), /services\.app\.command\[0\]: unknown placeholder \{\{params\.NOPE\}\}/],
  ['mustache section', MANIFEST, composeWith('command: ["{{#params.P}}x{{/params.P}}"]'), /malformed placeholder '\{\{#params\.P\}\}'/],
  ['triple mustache', MANIFEST, composeWith('command: ["{{{params.P}}}"]'), /malformed placeholder/],
  ['unquoted placeholder', MANIFEST, 'services:\n  app:\n    image: {{params.P}}\n', /not valid YAML: .*\(a value that starts with \{\{ must be quoted\)/],
  ['Coolify generated URL', MANIFEST, composeWith('command: ["${SERVICE_FQDN_APP}"]'), /\$\{SERVICE_FQDN_APP\} would make Coolify generate a public URL/],
  ['unknown variable', MANIFEST, composeWith('command: ["${HOME_DIR}"]'), /\$\{HOME_DIR\} is not a secret param, a router variable or a Coolify SERVICE_ variable/],
  ['non-secret param as a variable', MANIFEST, composeWith('command: ["${P}"]'), /\$\{P\} is not set on the service; use \{\{params\.P\}\}/],
  ['unreferenced secret', MANIFEST, 'services:\n  app:\n    image: alpine:3.20\n', /params\.S: secret param is never referenced as \$\{S\}/],
  ['ingress to a missing service', MANIFEST.replace('service: app', 'service: web'), composeWith(''), /ingress\[0\]\.service: no such service 'web' in compose\.yaml/],
  ['capability that cannot be granted', MANIFEST.replace('[NET_BIND_SERVICE]', '[SYS_ADMIN]'), composeWith(''), /capabilities\.app: SYS_ADMIN cannot be granted/],
  ['secret with a default', MANIFEST.replace('required: true, example: abc', 'default: hunter2'), composeWith(''), /params\.S\.default: a secret param cannot have a default/],
  ['default of the wrong type', MANIFEST.replace('default: x', 'default: 5'), composeWith(''), /params\.P\.default: must be a string, got a number/],
  ['invalid pattern', MANIFEST.replace('default: x', 'pattern: "(["'), composeWith(''), /params\.P\.pattern: not a valid regular expression/],
  ['non-semver version', MANIFEST.replace('1.0.0', 'one'), composeWith(''), /version: must be a semantic version/],
  ['name not matching its directory', MANIFEST.replace('name: t', 'name: other'), composeWith(''), /name: 'other' does not match its directory 't'/],
];

describe('templates refused with a message naming file, service and key', () => {
  it.each(TEMPLATE_CASES)('%s', (_label, manifest, compose, expected) => {
    const result = templateFromSources('t', manifest, compose);
    expect(result.template).toBeUndefined();
    const messages = result.problems.map((p) => `${p.file}: ${p.message}`);
    expect(messages.join('\n')).toMatch(expected);
    for (const p of result.problems) expect(p.file).toMatch(/^t\/(template|compose)\.yaml$/);
  });

  it('accepts the same template without the offending key', () => {
    const result = templateFromSources('t', MANIFEST, composeWith('cap_add: [NET_BIND_SERVICE]\nsecurity_opt: ["no-new-privileges:true"]'));
    expect(result.problems).toEqual([]);
    expect(result.template?.name).toBe('t');
  });
});

// ── 4. Tenant values that would reach Coolify's or Compose's rewrites (hazards file §2-§6) ──

const SHARED = /an environment value with \{\{ goes through Coolify's shared-variable resolution/;
const MAGIC = /names a Coolify magic variable \(SERVICE_URL_\*\/SERVICE_FQDN_\*\)/;
const START = /an environment value starting with \$ is read by Coolify as a variable reference/;
const LABEL = /a \$ in a label is interpolated by Compose/;
const ENV_QUOTE = /contains a ', which ends Coolify's quoting in the service's \.env file/;
const ENV_DOLLAR = /starts with \$, which Coolify reads as a reference to another variable/;
const ENV_BRACES = /contains \{\{, which Coolify resolves as a shared variable/;
const ENV_BREAK = /contains a line break, which Coolify's \.env file cannot carry safely/;
const ENV_JSON = /starts with \{ or \[, so Coolify may write it to \.env unquoted as JSON/;

let shipped: TemplateCatalog;
beforeAll(async () => {
  shipped = await loadShippedCatalog();
});

const BOT = { TELEGRAM_BOT_TOKEN: '123456789:AAHexampleexampleexampleexample12345' };
const AGENT = { AUTH_PASSWORD: 'correct-horse-battery', OPENCLAW_GATEWAY_TOKEN: '0123456789abcdef0123456789abcdef' };

function probeWith(value: string): StackDecision {
  return decide({ stack: stack({ params: { VALUE: value, PROBE_SECRET } }) });
}
function bot(params: Record<string, unknown>): StackDecision {
  return decideStack(shipped, input({ stack: stack({ template: 'telegram-bot', params: { ...BOT, ...params } }) }));
}
function agent(params: Record<string, unknown>): StackDecision {
  return decideStack(shipped, input({ stack: stack({ template: 'openclaw-agent', params: { ...AGENT, ...params } }) }));
}
function withRouterKey(key: string): StackDecision {
  return decideStack(shipped, input({ tenant: tenant({ routerApiKey: key }), stack: stack({ template: 'telegram-bot', params: BOT }) }));
}

/** [label, decision, message patterns (all must match), text the message must not quote] */
const TENANT_CASES: [string, () => StackDecision, RegExp[], string][] = [
  // §2 shared variables, in every spelling Coolify accepts
  ['{{team.X}} in an env value', () => probeWith('{{team.OPERATOR_SECRET}}'), [/param VALUE \(in services\.app\.environment\.MAP_VALUE/, SHARED], 'OPERATOR_SECRET'],
  ['{{ team.X }} with spaces', () => probeWith('{{ team.OPERATOR_SECRET }}'), [/param VALUE/, SHARED], 'OPERATOR_SECRET'],
  ['{{TEAM.X}} upper case', () => probeWith('{{TEAM.OPERATOR_SECRET}}'), [/param VALUE/, SHARED], 'OPERATOR_SECRET'],
  ['{{project.X}}', () => probeWith('{{project.DB_URL}}'), [/param VALUE/, SHARED], 'DB_URL'],
  ['{{environment.X}}', () => probeWith('{{environment.DB_URL}}'), [/param VALUE/, SHARED], 'DB_URL'],
  ['{{server.X}}', () => probeWith('{{server.IP}}'), [/param VALUE/, SHARED], 'server.IP'],
  ['{{ with a line break inside', () => probeWith('{{\nteam.OPERATOR_SECRET}}'), [/param VALUE/, SHARED], 'OPERATOR_SECRET'],
  ['a lone {{ (completed by the template text)', () => probeWith('{{'), [/param VALUE \(in services\.app\.environment\.MAP_VALUE, services\.app\.environment\.PREFIXED, services\.sidecar\.environment\[0\]\)/, SHARED], '\u0000'],
  ['a context placeholder as a value', () => probeWith('{{tenant.slug}}'), [/param VALUE/, SHARED], '\u0000'],
  ['a secret placeholder as a value', () => probeWith('{{params.PROBE_SECRET}}'), [/param VALUE/, SHARED], PROBE_SECRET],
  ['telegram-bot ASSISTANT_PROMPT {{team.X}}', () => bot({ ASSISTANT_PROMPT: 'Be brief. {{team.OPERATOR_SECRET}}' }), [/param ASSISTANT_PROMPT \(in services\.bot\.environment\.ASSISTANT_PROMPT\)/, SHARED], 'OPERATOR_SECRET'],
  ['telegram-bot ASSISTANT_PROMPT {{ server.X }}', () => bot({ ASSISTANT_PROMPT: '{{ server.K }}' }), [/param ASSISTANT_PROMPT/, SHARED], 'server.K'],
  // §2, §5, §6 values sent through the env API (secret params and the router key)
  ['openclaw AUTH_PASSWORD with {{team.X}}', () => agent({ AUTH_PASSWORD: 'pw-{{team.OPERATOR_SECRET}}' }), [/param AUTH_PASSWORD: /, ENV_BRACES], 'OPERATOR_SECRET'],
  ['openclaw AUTH_PASSWORD with a quote', () => agent({ AUTH_PASSWORD: "a' FOO=bar-password" }), [/param AUTH_PASSWORD: /, ENV_QUOTE], 'FOO=bar'],
  ['openclaw AUTH_PASSWORD starting with $', () => agent({ AUTH_PASSWORD: '$HOME-and-more-text' }), [/param AUTH_PASSWORD: /, ENV_DOLLAR], 'HOME-and'],
  ['openclaw AUTH_PASSWORD starting with ${', () => agent({ AUTH_PASSWORD: '${SERVICE_URL_AGENT}xx' }), [/param AUTH_PASSWORD: /, ENV_DOLLAR], 'SERVICE_URL_AGENT'],
  ['openclaw AUTH_PASSWORD as a JSON object', () => agent({ AUTH_PASSWORD: '{"a":"$HOME-pass"}' }), [/param AUTH_PASSWORD: /, ENV_JSON], 'HOME-pass'],
  ['openclaw AUTH_PASSWORD as a JSON list', () => agent({ AUTH_PASSWORD: '["password-12"]' }), [/param AUTH_PASSWORD: /, ENV_JSON], 'password-12'],
  ['router_api_key with a quote', () => withRouterKey("rk-abc' EVIL=1"), [/the tenant's router_api_key: /, ENV_QUOTE], 'EVIL=1'],
  ['router_api_key starting with $', () => withRouterKey('$SERVICE_PASSWORD_X'), [/the tenant's router_api_key: /, ENV_DOLLAR], 'SERVICE_PASSWORD_X'],
  ['router_api_key with {{team.X}}', () => withRouterKey('rk-{{team.OPERATOR_SECRET}}'), [/the tenant's router_api_key: /, ENV_BRACES], 'OPERATOR_SECRET'],
  ['router_api_key with {{ server.X }}', () => withRouterKey('rk-{{ server.K }}'), [/the tenant's router_api_key: /, ENV_BRACES], 'server.K'],
  ['router_api_key with a line break', () => withRouterKey('rk-abc\nEVIL=1'), [/the tenant's router_api_key: /, ENV_BREAK], 'EVIL=1'],
  ['router_api_key with a carriage return', () => withRouterKey('rk-abc\rEVIL=1'), [/the tenant's router_api_key: /, ENV_BREAK], 'EVIL=1'],
  ['router_api_key as JSON', () => withRouterKey('[1,2]'), [/the tenant's router_api_key: /, ENV_JSON], '[1,2]'],
  // §3 magic variables, $$ or not
  ['$SERVICE_URL_X inside an env value', () => probeWith('hello $SERVICE_URL_APP'), [/param VALUE \(in [^)]*services\.app\.environment\.PREFIXED/, MAGIC], '\u0000'],
  ['${SERVICE_FQDN_X_PORT} inside an env value', () => probeWith('at ${SERVICE_FQDN_APP_8080}'), [/param VALUE/, MAGIC], '\u0000'],
  ['$$SERVICE_URL_X (a pre-escaped dollar)', () => probeWith('x $$SERVICE_URL_APP'), [/param VALUE/, MAGIC], '\u0000'],
  ['lower-case $service_url_x', () => probeWith('x $service_url_app'), [/param VALUE/, MAGIC], '\u0000'],
  ['${SERVICE_URL_X} with a default', () => probeWith('x ${SERVICE_URL_APP:-a}'), [/param VALUE/, MAGIC], '\u0000'],
  ['telegram-bot ASSISTANT_PROMPT $SERVICE_URL_BOT mid-text', () => bot({ ASSISTANT_PROMPT: 'Visit $SERVICE_URL_BOT now' }), [/param ASSISTANT_PROMPT/, MAGIC], '\u0000'],
  ['telegram-bot ASSISTANT_PROMPT ${SERVICE_FQDN_BOT_8080}', () => bot({ ASSISTANT_PROMPT: 'x${SERVICE_FQDN_BOT_8080}' }), [/param ASSISTANT_PROMPT/, MAGIC], '\u0000'],
  // §6 values that start an env value with $
  ['an env value starting with $NAME', () => probeWith('$HOME'), [/param VALUE \(in services\.app\.environment\.MAP_VALUE/, START], '\u0000'],
  ['an env value starting with ${NAME:-d}', () => probeWith('${HOME:-/}'), [/param VALUE/, START], '\u0000'],
  ['an env value starting with the router key variable', () => probeWith('${CLOUDFREEDOM_API_KEY}'), [/param VALUE/, START], '\u0000'],
  ['telegram-bot ASSISTANT_PROMPT starting with $', () => bot({ ASSISTANT_PROMPT: '$TELEGRAM_BOT_TOKEN' }), [/param ASSISTANT_PROMPT/, START], BOT.TELEGRAM_BOT_TOKEN],
  // §4 a $ that would reach a label
  ['a $ reaching a label', () => probeWith('costs 5$'), [/param VALUE \(in services\.app\.labels\.probe\.value\)/, LABEL], '\u0000'],
  ['a label-shaped Compose default', () => probeWith('${X:-traefik.http.routers.r.rule=Host(`bank.com`)}'), [/param VALUE \(in services\.app\.labels/, LABEL], 'bank.com'],
];

describe('tenant values refused before they reach Coolify or Compose', () => {
  it.each(TENANT_CASES)('%s', (_label, run, patterns, hidden) => {
    const message = errorOf(run());
    for (const pattern of patterns) expect(message).toMatch(pattern);
    expect(message).not.toContain(hidden);
    expect(message).not.toContain(PROBE_SECRET);
    expect(message).not.toContain(ROUTER_KEY);
  });

  it('accepts the same templates with ordinary values, $ and quotes included where nothing rewrites them', () => {
    expect(bot({ ASSISTANT_PROMPT: "Be brief; prices are in $ and € (50% off!), don't {quote} me" }).kind).toBe('apply');
    expect(agent({ AUTH_PASSWORD: 'pa$$word-with-"quotes"-and-{braces}' }).kind).toBe('apply');
    expect(withRouterKey('rk-tenant-0123$x').kind).toBe('apply');
    expect(probeWith('plain text, {single} braces and }} closers').kind).toBe('apply');
  });
});

// ── 5. Template text that Coolify or Compose would turn into host access (hazards file) ──

/** A manifest with a secret S, a second secret T and a non-secret P. */
const HAZARD_MANIFEST = MANIFEST.replace(
  '  - { name: S, type: string, secret: true, required: true, example: abc }',
  '  - { name: S, type: string, secret: true, required: true, example: abc }\n  - { name: T, type: string, secret: true, required: true, example: def }',
);
/** Service `app` with the given keys; the secrets are referenced by a second service. */
function hazard(service: string, before = ''): string {
  const lines = service
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  const image = /^image:/m.test(service) ? '' : '    image: alpine:3.20\n';
  return `${before}\nservices:\n  app:\n${image}${lines}\n  refs:\n    image: alpine:3.20\n    environment:\n      S: \${S}\n      T: \${T}\n`;
}

const HAZARD_TEMPLATE_CASES: [string, string, RegExp][] = [
  // §1 one-part volumes and other host paths
  ['one-part volume /data', hazard('volumes: ["/data"]'), /services\.app\.volumes\[0\]: a one-part volume '\/data' is deployed by Coolify as a bind mount of the host path/],
  ['one-part volume /var/run', hazard('volumes:\n  - /var/run'), /a one-part volume '\/var\/run' is deployed by Coolify as a bind mount/],
  ['one-part volume of a bare name', hazard('volumes: ["cache"]'), /a one-part volume 'cache' is deployed by Coolify as a bind mount/],
  ['one-part volume from a param', hazard('volumes: ["{{params.P}}"]'), /services\.app\.volumes\[0\]: placeholders are allowed only in image, command/],
  ['a param as a volume source', hazard('volumes: ["{{params.P}}:/data"]'), /placeholders are allowed only in/],
  ['.. as a bind source', hazard('volumes: ["../x:/x"]'), /host-path bind mount '\.\.\/x' is not allowed/],
  ['~ as a bind source', hazard('volumes: ["~/x:/x"]'), /host-path bind mount '~\/x' is not allowed/],
  ['a default path in a volume source', hazard('volumes: ["${V:-/etc}:/etc"]'), /\$\{V\} is not a secret param/],
  ['a secret as a volume source', hazard('volumes: ["${S}:/data"]'), /services\.app\.volumes\[0\]/],
  ['long-syntax read-only bind', hazard('volumes:\n  - { type: bind, source: /srv, target: /srv, read_only: true }'), /host-path bind mount '\/srv' is not allowed/],
  ['long-syntax volume with a host path', hazard('volumes:\n  - { type: volume, source: /etc, target: /etc }'), /host-path bind mount '\/etc' is not allowed/],
  // §4 namespaces through Compose defaults and secret values
  ['pid: ${X:-host}', hazard('pid: "${X:-host}"'), /services\.app\.pid: \$\{X\} is not a secret param/],
  ['pid: ${X-host}', hazard('pid: "${X-host}"'), /services\.app\.pid: \$\{X\} is not a secret param/],
  ['ipc: ${X:-host}', hazard('ipc: "${X:-host}"'), /services\.app\.ipc: \$\{X\} is not a secret param/],
  ['pid from a secret', hazard('pid: "${S}"'), /services\.app\.pid: '\$\{S\}': Compose would interpolate this at deploy time; variables are allowed only in environment values/],
  ['pid from a secret with a default', hazard('pid: "${S:-host}"'), /services\.app\.pid: '\$\{S:-host\}': Compose would interpolate this/],
  ['pid with a nested default', hazard('pid: "${S:-${T:-host}}"'), /services\.app\.pid: '\$\{S:-\$\{T:-host\}\}': Compose would interpolate this/],
  ['ipc with a nested default of another form', hazard('ipc: "${S-${T-host}}"'), /services\.app\.ipc: '\$\{S-\$\{T-host\}\}': Compose would interpolate/],
  ['network_mode from a secret', hazard('network_mode: "${S}"'), /services\.app\.network_mode: only none or service:/],
  ['a pid default from an anchor', hazard('<<: *ns', 'x-ns: &ns\n  pid: "${S:-host}"'), /services\.app\.pid: '\$\{S:-host\}': Compose would interpolate/],
  // §3 magic variables in keys and values
  ['env key SERVICE_FQDN_X_PORT', hazard('environment:\n  SERVICE_FQDN_APP_8080: x'), /services\.app\.environment\.SERVICE_FQDN_APP_8080: the environment key SERVICE_FQDN_A… makes Coolify route this service/],
  ['env key SERVICE_URL_X', hazard('environment:\n  SERVICE_URL_OTHER: x'), /environment\.SERVICE_URL_OTHER: the environment key .* makes Coolify route this service/],
  ['env key in lower case', hazard('environment:\n  service_fqdn_app: x'), /environment\.service_fqdn_app: the environment key .* makes Coolify route/],
  ['list entry - SERVICE_URL_X', hazard('environment:\n  - SERVICE_URL_APP'), /services\.app\.environment\[0\]: the environment key .* makes Coolify route/],
  ['list entry - SERVICE_FQDN_X=v', hazard('environment:\n  - SERVICE_FQDN_APP=x'), /services\.app\.environment\[0\]: the environment key .* makes Coolify route/],
  ['env value $SERVICE_URL_X', hazard('environment:\n  A: "$SERVICE_URL_APP"'), /\$\{SERVICE_URL_APP\} would make Coolify generate a public URL/],
  ['env value x$$SERVICE_URL_X', hazard('environment:\n  A: "x$$SERVICE_URL_APP"'), /services\.app\.environment\.A: names a Coolify magic variable .*\$\$ does not hide it/],
  ['env value ${SERVICE_FQDN_X}', hazard('environment:\n  A: "${SERVICE_FQDN_APP}"'), /\$\{SERVICE_FQDN_APP\} would make Coolify generate a public URL/],
  ['command $$SERVICE_URL_X', hazard('command: ["echo", "$$SERVICE_URL_APP"]'), /services\.app\.command\[1\]: names a Coolify magic variable/],
  // §6 env values Coolify reads as references
  ['env value starting with $$', hazard('environment:\n  A: "$$2b$$12$$hash"'), /services\.app\.environment\.A: an environment value starting with \$ is read by Coolify/],
  ['env value ${S:-d}', hazard('environment:\n  A: "${S:-fallback}"'), /environment\.A: \$\{S:-…\}: defaults and conditions are decided by Coolify and Compose/],
  ['env value ${S-d}', hazard('environment:\n  A: "${S-fallback}"'), /environment\.A: \$\{S-…\}: defaults and conditions/],
  ['env value ${S:?e}', hazard('environment:\n  A: "${S:?missing}"'), /environment\.A: \$\{S:\?…\}: defaults and conditions/],
  ['env value ${S:+v}', hazard('environment:\n  A: "${S:+set}"'), /environment\.A: \$\{S:\+…\}: defaults and conditions/],
  ['env value with a nested default', hazard('environment:\n  A: "${S:-${T:-x}}"'), /environment\.A: \$\{S:-…\}: defaults and conditions/],
  ['env value bare $S', hazard('environment:\n  A: "$S"'), /environment\.A: \$S: write \$\{S\}/],
  ['bare $S-x read differently by Coolify', hazard('environment:\n  A: "$S-x"'), /environment\.A: \$S: write \$\{S\}/],
  ['secret inside a longer env value', hazard('environment:\n  A: "Bearer ${S}"'), /environment\.A: the secret \$\{S\} may only be a whole environment value/],
  ['router key inside a longer env value', hazard('environment:\n  A: "${CLOUDFREEDOM_API_KEY}/x"'), /the secret \$\{CLOUDFREEDOM_API_KEY\} may only be a whole environment value/],
  ['generated password inside a longer value', hazard('environment:\n  A: "pw=${SERVICE_PASSWORD_APP}"'), /the secret \$\{SERVICE_PASSWORD_APP\} may only be a whole environment value/],
  ['a variable as a list env key', hazard('environment:\n  - "${S}=x"'), /services\.app\.environment\[0\]: a \$ in an environment key lets a variable choose the name/],
  ['a variable in a map env key', hazard('environment:\n  "A${S}": x'), /services\.app\.environment\.A\$\{S\}: a \$ in an environment key/],
  ['env value without a value (map)', hazard('environment:\n  HOST_VALUE:'), /environment\.HOST_VALUE: an environment entry without a value is filled by Compose from the host's environment/],
  ['env value without a value (list)', hazard('environment:\n  - HOST_VALUE'), /environment\[0\]: an environment entry without a value is filled by Compose from the host's environment/],
  ['a lone $ in an env value', hazard('environment:\n  A: "cost: 5$ "'), /malformed variable reference '\$ '/],
  // §4 variables outside env values and $ in labels
  ['a $$ in a label', hazard('labels: { note: "x$$y" }'), /services\.app\.labels\.note: a \$ in a label is interpolated by Compose/],
  ['a label written as a Compose default', hazard('labels: ["${S:-traefik.http.routers.r.rule=Host(`bank.com`)}"]'), /services\.app\.labels.*: a \$ in a label is interpolated by Compose/],
  ['a secret as a label value', hazard('labels: { owner: "${S}" }'), /services\.app\.labels\.owner: a \$ in a label/],
  ['a secret in the command', hazard('command: ["--token", "${S}"]'), /services\.app\.command\[1\]: '\$\{S\}': Compose would interpolate this at deploy time/],
  ['a secret in the image tag', hazard('image: "alpine:${S}"'), /services\.app\.image: '\$\{S\}': Compose would interpolate/],
  ['a secret in working_dir', hazard('working_dir: "/${S}"'), /services\.app\.working_dir: '\$\{S\}': Compose would interpolate/],
  ['a secret in a healthcheck', hazard('healthcheck: { test: ["CMD", "probe", "${S}"] }'), /services\.app\.healthcheck\.test\[2\]: '\$\{S\}': Compose would interpolate/],
  ['an unknown bare variable in an entrypoint', hazard('entrypoint: "sh -c $HOME"'), /services\.app\.entrypoint: \$\{HOME\} is not a secret param/],
  ['a router URL in the command', hazard('command: ["--base", "${CLOUDFREEDOM_ROUTER_BASE_URL}"]'), /services\.app\.command\[1\]: '\$\{CLOUDFREEDOM_ROUTER_BASE_URL\}': Compose would interpolate/],
  // §2 shared variables in template text, and placeholder forms mustache could render
  ['{{team.X}} in template text', hazard('environment:\n  A: "{{team.OPERATOR_SECRET}}"'), /unknown placeholder \{\{team\.OPERATOR_SECRET\}\}/],
  ['{{ server.X }} in template text', hazard('command: ["{{ server.IP }}"]'), /unknown placeholder \{\{server\.IP\}\}/],
  ['a placeholder in pid', hazard('pid: "{{params.P}}"'), /services\.app\.pid: placeholders are allowed only in/],
  ['a placeholder in a list env key', hazard('environment:\n  - "{{params.P}}=x"'), /services\.app\.environment\[0\]: a placeholder in a list-form environment entry must come after KEY=/],
  ['a placeholder as a whole list env entry', hazard('environment:\n  - "{{params.P}}"'), /a placeholder in a list-form environment entry must come after KEY=/],
  ['a mustache delimiter change', hazard('command: ["{{=<% %>=}}<%params.P%>"]'), /malformed placeholder '\{\{=<% %>=\}\}'/],
  ['a mustache comment', hazard('command: ["{{! note }}"]'), /malformed placeholder '\{\{! note \}\}'/],
  ['a mustache partial', hazard('command: ["{{> other}}"]'), /malformed placeholder '\{\{> other\}\}'/],
  ['an inverted section', hazard('command: ["{{^params.P}}x{{/params.P}}"]'), /malformed placeholder '\{\{\^params\.P\}\}'/],
  ['an unescaped variable', hazard('command: ["{{&params.P}}"]'), /malformed placeholder '\{\{&params\.P\}\}'/],
  ['an unclosed placeholder', hazard('command: ["{{params.P"]'), /malformed placeholder '\{\{params\.P/],
  ['the implicit iterator', hazard('command: ["{{.}}"]'), /unknown placeholder \{\{\.\}\}/],
  // §9 Symfony YAML reads a quoted "<<" as a merge key
  ['a quoted merge key', hazard('environment:\n  "<<": { A: b }'), /services\.app\.environment\.<<: a quoted '<<' key is a merge key for Coolify's YAML parser/],
  // §8 limits the platform sets
  ['a pids_limit of its own', hazard('pids_limit: 100000'), /services\.app\.pids_limit: the process limit is set by the platform/],
  ['a swap limit of its own', hazard('memswap_limit: -1'), /services\.app\.memswap_limit: the swap limit is set by the platform/],
];

describe('template text refused as it would be deployed', () => {
  it.each(HAZARD_TEMPLATE_CASES)('%s', (_label, compose, expected) => {
    const result = templateFromSources('t', HAZARD_MANIFEST, compose);
    const messages = result.problems.map((p) => `${p.file}: ${p.message}`).join('\n');
    expect(result.template).toBeUndefined();
    expect(messages).toMatch(expected);
  });

  it('accepts the hazard manifest with only safe references', () => {
    const result = templateFromSources('t', HAZARD_MANIFEST, hazard('environment:\n  URL: "${CLOUDFREEDOM_ROUTER_BASE_URL}/v1"\n  PW: ${SERVICE_PASSWORD_APP}\n  PRICE: "5$$"'));
    expect(result.problems).toEqual([]);
  });
});

it('has at least 40 bad inputs in the original corpus and 60 more modelled on the hazards', () => {
  expect(INJECTIONS.length + RECORD_CASES.length + TEMPLATE_CASES.length).toBeGreaterThanOrEqual(40);
  expect(TENANT_CASES.length + HAZARD_TEMPLATE_CASES.length).toBeGreaterThanOrEqual(60);
});
