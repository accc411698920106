/**
 * Table-driven corpus of hostile or broken inputs. Every row ends in either its specific error
 * or a value that reaches the container unchanged as one plain string.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { decideStack } from '../../../src/templates/decide-stack.js';
import { templateFromSources, type TemplateCatalog } from '../../../src/templates/template-catalog.js';
import type { StackDecision, StackDecisionInput } from '../../../src/templates/types.js';
import { composeInterpolated, input, loadFixtureCatalog, PROBE_SECRET, plan, stack, tenant } from './fixtures.js';

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

const INJECTIONS: [string, string][] = [
  ['newline plus a compose key', 'hi\n    privileged: true\n    volumes: ["/:/host"]\n    x-pad:'],
  ['a whole new service', 'x\nservices:\n  evil:\n    image: alpine\n    privileged: true'],
  ['mapping syntax', 'a: b'],
  ['sequence item', '- item'],
  ['flow mapping', '{ privileged: true }'],
  ['flow sequence', '[1, 2, 3]'],
  ['another placeholder', '{{tenant.slug}}'],
  ['a secret placeholder', '{{params.PROBE_SECRET}}'],
  ['a compose variable for the router key', '${CLOUDFREEDOM_API_KEY}'],
  ['a bare compose variable', '$PROBE_SECRET and $$'],
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

it('has at least 40 bad inputs in the corpus', () => {
  expect(INJECTIONS.length + RECORD_CASES.length + TEMPLATE_CASES.length).toBeGreaterThanOrEqual(40);
});
