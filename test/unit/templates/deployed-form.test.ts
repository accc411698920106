/** The model of Coolify's and Compose's rewrites, on composes the policy would never send. */
import { describe, expect, it } from '@jest/globals';
import { interpolate, scanInterpolation } from '../../../src/templates/compose-interpolation.js';
import { envFileProblem, modelDeployment } from '../../../src/templates/deployed-form.js';

const LIMITS = { pids_limit: 512, mem_limit: '256m', memswap_limit: '256m' };
const ENV = [
  { key: 'CLOUDFREEDOM_ROUTER_BASE_URL', value: 'https://router.example/v1', secret: false },
  { key: 'S', value: 'secret-value', secret: true },
];

function model(service: Record<string, unknown>) {
  return modelDeployment({ services: { app: { image: 'alpine:3.20', ...LIMITS, ...service } } }, ENV);
}

describe('deployed form', () => {
  it('shows a one-part volume as the read-write bind Coolify makes of it', () => {
    const form = model({ volumes: ['/var/run', 'data:/data:ro', { type: 'bind', source: '/srv', target: '/srv', read_only: true }] });
    expect(form.containers[0]!.mounts).toEqual([
      { type: 'bind', source: '/var/run', target: '/var/run', readOnly: false },
      { type: 'volume', source: 'data', target: '/data', readOnly: true },
      { type: 'bind', source: '/srv', target: '/srv', readOnly: false },
    ]);
    expect(form.findings.map((f) => [f.kind, f.path])).toEqual([
      ['host-mount', 'services.app.volumes[0]'],
      ['host-mount', 'services.app.volumes[2]'],
    ]);
  });

  it('decides a variable volume source as Coolify does: a default is a fixed host path', () => {
    const form = model({ volumes: ['${V:-/etc}:/etc'] });
    expect(form.containers[0]!.mounts[0]).toEqual({ type: 'bind', source: '/etc', target: '/etc', readOnly: false });
    expect(form.findings.map((f) => f.kind)).toEqual(['host-mount', 'interpolation']);
  });

  it('interpolates judged references and gives every container the whole .env', () => {
    const form = model({ environment: { URL: '${CLOUDFREEDOM_ROUTER_BASE_URL}/chat', KEY: '${S}', PRICE: '5$$' } });
    expect(form.findings).toEqual([]);
    const env = form.containers[0]!.environment;
    expect(env.get('URL')).toBe('https://router.example/v1/chat');
    expect(env.get('KEY')).toBe('secret-value');
    expect(env.get('PRICE')).toBe('5$');
    expect(env.get('S')).toBe('secret-value');
  });

  it('finds what Coolify and Compose would add', () => {
    const form = model({
      pid: 'host',
      environment: ['SERVICE_URL_APP', 'A=x$$SERVICE_FQDN_APP', 'B={{ team.K }}', 'C=$$x', 'D=${NOPE}'],
      labels: { note: 'a$$b' },
      command: ['${S}'],
    });
    expect(form.findings.map((f) => [f.kind, f.path])).toEqual([
      ['magic-variable', 'services.app.environment[0]'],
      ['magic-variable', 'services.app.environment[1]'],
      ['shared-variable', 'services.app.environment[2]'],
      ['coolify-reference', 'services.app.environment[3]'],
      ['interpolation', 'services.app.environment[4]'],
      ['label', 'services.app.labels.note'],
      ['interpolation', 'services.app.command[0]'],
      ['host-namespace', 'services.app.pid'],
    ]);
  });

  it('requires the process and swap limits', () => {
    const form = modelDeployment({ services: { app: { image: 'alpine:3.20', mem_limit: '256m' } } }, []);
    expect(form.findings.map((f) => f.path)).toEqual(['services.app.pids_limit', 'services.app.memswap_limit']);
  });

  it.each([
    ["a'b", /ends Coolify's quoting/],
    ['$x', /starts with \$/],
    ['a{{team.X}}', /shared variable/],
    ['a\nB=1', /line break/],
    [' {"a":1}', /unquoted as JSON/],
  ])('refuses the env API value %p', (value, reason) => {
    expect(envFileProblem(value)).toMatch(reason);
  });
});

describe('Compose interpolation', () => {
  it('reads escapes, defaults and nested defaults', () => {
    expect(scanInterpolation('a $$ ${X:-${Y-z}} $B ${C?e} $').map((t) => (t.kind === 'variable' ? [t.name, t.operator ?? '', t.argument ?? ''] : t.kind))).toEqual([
      'escaped',
      ['X', ':-', '${Y-z}'],
      ['B', '', ''],
      ['C', '?', 'e'],
      'malformed',
    ]);
    expect(interpolate('$${A}=${A}', new Map([['A', '1']]))).toBe('${A}=1');
    expect(interpolate('${A:-d}', new Map([['A', '1']]))).toBeUndefined();
  });
});
