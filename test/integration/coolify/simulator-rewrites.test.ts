import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { startCoolifySim, type CoolifySim } from '../../../src/coolify-sim/index.js';

/**
 * The simulator reports what Coolify would make of a compose (hazards §1-§7), so end-to-end tests
 * can assert on what would run: one-part volumes as binds, magic variables as generated routes,
 * shared variables resolved.
 */
describe('Coolify simulator: compose rewrites', () => {
  let sim: CoolifySim;
  let h: Record<string, string>;
  beforeEach(async () => {
    sim = await startCoolifySim({ lagMs: 0 });
    h = { Authorization: `Bearer ${sim.token}`, Accept: 'application/json', 'Content-Type': 'application/json' };
  });
  afterEach(async () => {
    await sim.close();
  });

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sim.url}/api/v1/${path}`, { method, headers: h, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & Record<string, unknown>[] };
  };
  const create = async (compose: string): Promise<string> => {
    const project = (await api('POST', 'projects', { name: 'tenant-x' })).body.uuid as string;
    const res = await api('POST', 'services', {
      project_uuid: project,
      environment_name: 'production',
      server_uuid: sim.serverUuid,
      docker_compose_raw: Buffer.from(compose).toString('base64'),
    });
    expect([res.status, res.body]).toEqual([201, expect.anything()]);
    return res.body.uuid as string;
  };
  type Doc = { services: Record<string, { volumes?: unknown[]; environment?: Record<string, string> | string[] }> };
  const deployed = async (uuid: string): Promise<Doc> => load((await api('GET', `services/${uuid}`)).body.docker_compose as string) as Doc;

  it('deploys a one-part volume, a long-syntax bind and a defaulted source as host binds', async () => {
    const uuid = await create(
      'services:\n  app:\n    image: alpine\n    volumes:\n      - /var/run\n      - data:/data\n      - { type: bind, source: /srv, target: /srv, read_only: true }\n      - "${V:-/etc}:/etc"\n',
    );
    expect((await deployed(uuid)).services.app!.volumes).toEqual(['/var/run:/var/run', 'data:/data', '/srv:/srv', '/etc:/etc']);
  });

  it('gives a service a generated route for a magic env key, a magic reference behind $$, and not for another name', async () => {
    const uuid = await create(
      'services:\n  app:\n    image: alpine\n    environment:\n      SERVICE_FQDN_ANY_8080: "x"\n  bot:\n    image: alpine\n    environment:\n      A: "see $$SERVICE_URL_BOT"\n  quiet:\n    image: alpine\n    environment:\n      - B=see $$SERVICE_URL_OTHER\n',
    );
    const detail = (await api('GET', `services/${uuid}`)).body;
    const fqdn = Object.fromEntries((detail.applications as { name: string; fqdn: string | null }[]).map((a) => [a.name, a.fqdn]));
    expect(fqdn).toEqual({
      app: `http://app-${uuid}.127.0.0.1.sslip.io:8080`,
      bot: `http://bot-${uuid}.127.0.0.1.sslip.io`,
      quiet: null,
    });
    const keys = ((await api('GET', `services/${uuid}/envs`)).body as unknown as { key: string }[]).map((e) => e.key).sort();
    expect(keys).toEqual([
      'SERVICE_FQDN_ANY',
      'SERVICE_FQDN_ANY_8080',
      'SERVICE_FQDN_BOT',
      'SERVICE_FQDN_OTHER',
      'SERVICE_URL_ANY',
      'SERVICE_URL_ANY_8080',
      'SERVICE_URL_BOT',
      'SERVICE_URL_OTHER',
    ]);
  });

  it('turns labels into key=value strings and escapes $ in them unless label escaping is off', async () => {
    const compose = 'services:\n  app:\n    image: alpine\n    labels:\n      note: "a$$X"\n';
    const on = await create(compose);
    const labels = async (uuid: string) => (load((await api('GET', `services/${uuid}`)).body.docker_compose as string) as { services: { app: { labels: string[] } } }).services.app.labels;
    expect((await labels(on))[0]).toBe('note=a$$$$X');
    expect((await api('PATCH', `services/${on}`, { is_container_label_escape_enabled: false })).status).toBe(200);
    await api('PATCH', `services/${on}`, { docker_compose_raw: Buffer.from(compose).toString('base64') });
    expect((await labels(on))[0]).toBe('note=a$$X');
  });

  it('answers 500 for an env value starting with $$ but keeps the half-made service, as Coolify does', async () => {
    const project = (await api('POST', 'projects', { name: 'tenant-x' })).body.uuid as string;
    const res = await fetch(`${sim.url}/api/v1/services`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({
        project_uuid: project,
        environment_name: 'production',
        server_uuid: sim.serverUuid,
        docker_compose_raw: Buffer.from('services:\n  app:\n    image: alpine\n    environment:\n      HASH: "$$2b$$12$$abc"\n').toString('base64'),
      }),
    });
    expect(res.status).toBe(500);
    expect(sim.state.services).toHaveLength(1);
    expect(sim.state.services[0]!.compose).toBe('');
  });

  it('resolves seeded shared variables: team/project/environment in compose values, all four in env API values', async () => {
    sim.edits.setSharedVariable('team', 'OPERATOR_SECRET', 'team-secret-value');
    sim.edits.setSharedVariable('server', 'IP', '10.0.0.9', sim.serverUuid);
    const uuid = await create('services:\n  app:\n    image: alpine\n    environment:\n      A: "{{ team.OPERATOR_SECRET }}"\n      B: "{{server.IP}}"\n      C: "{{team.MISSING}}"\n');
    expect((await deployed(uuid)).services.app!.environment).toEqual({ A: 'team-secret-value', B: '{{server.IP}}', C: '{{team.MISSING}}' });
    await api('PATCH', `services/${uuid}/envs/bulk`, {
      data: [
        { key: 'X', value: 'pre-{{server.IP}}', is_literal: true },
        { key: 'Y', value: "a' FOO=bar", is_literal: true },
        { key: 'Z', value: 'say "hi"', is_literal: false },
      ],
    });
    const rows = (await api('GET', `services/${uuid}/envs`)).body as unknown as { key: string; value: string; real_value: string }[];
    const real = Object.fromEntries(rows.map((r) => [r.key, r.real_value]));
    expect(real).toMatchObject({ X: "'pre-10.0.0.9'", Y: "'a' FOO=bar'", Z: 'say \\"hi\\"' });
    expect(rows.find((r) => r.key === 'X')?.value).toBe('pre-{{server.IP}}');
  });
});
