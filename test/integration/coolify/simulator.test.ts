import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { startCoolifySim, type CoolifySim } from '../../../src/coolify-sim/index.js';

/** The simulator's own Coolify behaviours, spoken to with raw HTTP (notes §1-§10). */
describe('Coolify simulator behaviour', () => {
  let sim: CoolifySim;
  let h: Record<string, string>;
  beforeEach(async () => {
    sim = await startCoolifySim({ lagMs: 0 });
    h = { Authorization: `Bearer ${sim.token}`, Accept: 'application/json', 'Content-Type': 'application/json' };
  });
  afterEach(async () => {
    await sim.close();
  });

  const api = async (method: string, path: string, body?: unknown, headers = h) => {
    const res = await fetch(`${sim.url}/api/v1/${path}`, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      /* text body */
    }
    return { status: res.status, body: json as Record<string, unknown> & unknown[], headers: res.headers };
  };
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const newProject = async (name = 'tenant-x') => (await api('POST', 'projects', { name })).body.uuid as string;
  const newService = async (projectUuid: string, extra: Record<string, unknown> = {}) =>
    api('POST', 'services', {
      project_uuid: projectUuid,
      environment_name: 'production',
      server_uuid: sim.serverUuid,
      docker_compose_raw: b64('services:\n  web:\n    image: nginx # a comment\n'),
      ...extra,
    });

  it('health without auth; 401 bodies; catch-all 404; 405 with Allow: POST', async () => {
    expect(await (await fetch(`${sim.url}/api/health`)).text()).toBe('OK');
    expect(await (await fetch(`${sim.url}/api/v1/health`)).text()).toBe('OK');
    expect(await api('GET', 'projects', undefined, {})).toMatchObject({ status: 401, body: { message: 'Unauthenticated.' } });
    expect(await api('GET', 'nope', undefined, {})).toMatchObject({ status: 404, body: { message: 'Not found.', docs: 'https://coolify.io/docs' } });
    expect(await api('PUT', 'services')).toMatchObject({ status: 404, body: { message: 'Not found.' } });
    const r = await api('GET', 'services/abc/start');
    expect(r).toMatchObject({ status: 405, body: { message: 'This endpoint has changed to a POST request.' } });
    expect(r.headers.get('allow')).toBe('POST');
    const version = await fetch(`${sim.url}/api/v1/version`, { headers: h });
    expect(version.headers.get('content-type')).toContain('text/html');
    expect(await version.text()).toBe('4.3.11');
  });

  it('projects: production environment, duplicate names, 24-char ids, PATCH answers 201, request body checks', async () => {
    const a = await newProject('same');
    const b = await newProject('same');
    expect(a).toMatch(/^[a-z0-9]{24}$/);
    expect(a).not.toBe(b);
    const detail = await api('GET', `projects/${a}`);
    expect((detail.body.environments as { name: string }[]).map((e) => e.name)).toEqual(['production']);
    expect(await api('PATCH', `projects/${a}`, { description: 'new one' })).toMatchObject({ status: 201, body: { uuid: a, name: 'same', description: 'new one' } });
    expect(await api('POST', 'projects', { name: 'x', extra: 1 })).toMatchObject({
      status: 422,
      body: { message: 'Validation failed.', errors: { name: ['The name field must be at least 3 characters.'], extra: ['This field is not allowed.'] } },
    });
    expect(await api('POST', 'projects', '{}')).toMatchObject({ status: 400, body: { error: 'Empty JSON.' } });
    expect(await api('POST', 'projects', '{nope')).toMatchObject({ status: 400, body: { error: 'Invalid JSON.' } });
    expect(await api('POST', 'projects', { name: 'abc' }, { ...h, 'Content-Type': 'text/plain' })).toMatchObject({
      status: 400,
      body: { error: 'Content-Type must be application/json.' },
    });
    expect(await api('GET', 'projects/nope')).toMatchObject({ status: 404, body: { message: 'Project not found.' } });
    expect((await api('GET', `projects/${a}/production`)).body).toMatchObject({ name: 'production', services: [] });
    expect(await api('POST', `projects/${a}/environments`, { name: 'production' })).toMatchObject({ status: 409 });
    expect(await api('POST', `projects/${a}/environments`, { name: 'Staging' })).toMatchObject({ status: 201 });
    expect(((await api('GET', `projects/${a}/environments`)).body as { name: string }[]).map((e) => e.name)).toEqual(['production', 'staging']);
  });

  it('service create: validation order and exact bodies', async () => {
    const p = await newProject();
    expect(await newService(p, { connect_to_docker_network: true })).toMatchObject({
      status: 422,
      body: { errors: { connect_to_docker_network: ['This field is not allowed.'] } },
    });
    expect(await newService(p, { type: 'n8n' })).toMatchObject({
      status: 422,
      body: { message: 'You cannot provide both service type and docker_compose_raw. Use one or the other.' },
    });
    expect(await newService(p, { environment_name: undefined })).toMatchObject({
      status: 422,
      body: { message: 'You need to provide at least one of environment_name or environment_uuid.' },
    });
    expect(await newService(p, { environment_name: 'Production' })).toMatchObject({ status: 404, body: { message: 'Environment not found.' } });
    expect(await newService('nope')).toMatchObject({ status: 404, body: { message: 'Project not found.' } });
    expect(await newService(p, { server_uuid: 'nope' })).toMatchObject({ status: 404, body: { message: 'Server not found.' } });
    const nonCanonical = b64('services:\n  web:\n    image: nginx\n').replace(/=+$/, '');
    const raw = 'services:\n  web:\n    image: nginx\n';
    for (const bad of [nonCanonical + '\n', Buffer.from(raw).toString('base64url') + '_', raw]) {
      expect(await newService(p, { docker_compose_raw: bad })).toMatchObject({
        status: 422,
        body: { errors: { docker_compose_raw: 'The docker_compose_raw should be base64 encoded.' } },
      });
    }
    expect(await newService(p, { docker_compose_raw: b64('services: [\n') })).toMatchObject({ status: 500, body: { message: 'Server Error' } });
    expect(await newService(p, { docker_compose_raw: b64('services:\n  web:\n    image: x\n    volumes:\n      - "$(rm -rf /):/data"\n') })).toMatchObject({
      status: 422,
      body: { errors: { docker_compose_raw: 'Invalid Docker volume definition: $(rm -rf /):/data' } },
    });
    expect((await newService(p, { docker_compose_raw: b64('services:\n  web:\n    image: x\n    volumes:\n      - "${DATA_DIR:-/srv}:/data"\n') })).status).toBe(201);
    expect(sim.state.services).toHaveLength(1);
  });

  it('keeps the request log bounded when asked to', async () => {
    const small = await startCoolifySim({ requestLogLimit: 10 });
    try {
      for (let i = 0; i < 30; i++) await fetch(`${small.url}/api/v1/health?i=${i}`);
      await fetch(`${small.url}/api/v1/version`);
      expect(small.requestLog.length).toBeLessThanOrEqual(13);
      expect(small.requestLog.at(-1)).toMatchObject({ method: 'GET', path: '/api/v1/version', status: 401 });
    } finally {
      await small.close();
    }
  });

  it('answers a long list in slices that add up to one JSON array, while another request is served', async () => {
    const project = sim.edits.createForeignProject({ name: 'many', description: 'foreign' });
    for (let i = 0; i < 450; i++) {
      sim.edits.createForeignService({ projectUuid: project.uuid, name: `s-${i}`, description: `d "${i}" ü`, composeYaml: 'services:\n  web:\n    image: nginx\n', urls: {} });
    }
    const [list, version] = await Promise.all([api('GET', 'services'), api('GET', 'version')]);
    expect(list.status).toBe(200);
    expect((list.body as Record<string, unknown>[]).map((s) => s.name)).toEqual(Array.from({ length: 450 }, (_, i) => `s-${i}`));
    expect((list.body[449] as Record<string, unknown>).description).toBe('d "449" ü');
    expect(version.status).toBe(200);
  });

  it('a server without destinations refuses services', async () => {
    const bare = await startCoolifySim({ destinations: 0 });
    try {
      const hh = { ...h, Authorization: `Bearer ${bare.token}` };
      const p = (await (await fetch(`${bare.url}/api/v1/projects`, { method: 'POST', headers: hh, body: JSON.stringify({ name: 'bare' }) })).json()) as { uuid: string };
      const r = await fetch(`${bare.url}/api/v1/services`, {
        method: 'POST',
        headers: hh,
        body: JSON.stringify({ project_uuid: p.uuid, environment_name: 'production', server_uuid: bare.serverUuid, docker_compose_raw: b64('services:\n  a:\n    image: x\n') }),
      });
      expect(r.status).toBe(400);
      expect(await r.json()).toEqual({ message: 'Server has no destinations.' });
    } finally {
      await bare.close();
    }
  });

  it('service: compose re-dumped (comments gone), container_name rewritten, hidden fields need read:sensitive', async () => {
    const p = await newProject();
    const { uuid } = (await newService(p)).body as unknown as { uuid: string };
    const svc = (await api('GET', `services/${uuid}`)).body;
    expect(svc.docker_compose_raw).toBe('services:\n  web:\n    image: nginx\n');
    const generated = load(String(svc.docker_compose)) as { services: { web: { container_name: string; restart: string } } };
    expect(generated.services.web.container_name).toBe(`web-${uuid}`);
    expect(generated.services.web.restart).toBe('unless-stopped');
    expect(svc.status).toBe('exited');
    expect(svc.applications).toHaveLength(1);

    sim.addToken({ token: '5|plain', abilities: ['read'], user: 'reader' });
    const plain = { ...h, Authorization: 'Bearer 5|plain' };
    const hidden = (await api('GET', `services/${uuid}`, undefined, plain)).body;
    expect(hidden).not.toHaveProperty('docker_compose_raw');
    expect(hidden).not.toHaveProperty('docker_compose');
    expect(await api('POST', `services/${uuid}/start`, undefined, plain)).toMatchObject({ status: 403, body: { message: 'Missing required permissions: deploy' } });
  });

  it('lifecycle with lagMs 0, the idempotent 400s, async delete blocks the project', async () => {
    const p = await newProject();
    const { uuid } = (await newService(p)).body as unknown as { uuid: string };
    expect(await api('POST', `services/${uuid}/stop`)).toMatchObject({ status: 400, body: { message: 'Service is already stopped.' } });
    expect(await api('POST', `services/${uuid}/start`)).toMatchObject({ status: 200, body: { message: 'Service starting request queued.' } });
    expect(await api('POST', `services/${uuid}/start`)).toMatchObject({ status: 400, body: { message: 'Service is already running.' } });
    expect(await api('POST', `deploy?uuid=${uuid}`)).toMatchObject({
      status: 200,
      body: { deployments: [{ resource_uuid: uuid, message: expect.stringContaining('started') }] },
    });
    expect(await api('POST', 'deploy?uuid=nope')).toMatchObject({ status: 404, body: { message: 'No resources found.' } });
    expect(await api('POST', 'deploy')).toMatchObject({ status: 400, body: { message: 'You must provide uuid or tag.' } });
    sim.edits.crashService(uuid, 'degraded');
    expect((await api('GET', `services/${uuid}`)).body.status).toBe('degraded:unhealthy');
    expect(await api('DELETE', `services/${uuid}?delete_volumes=false`)).toMatchObject({ status: 200, body: { message: 'Service deletion request queued.' } });
    expect(sim.state.services).toHaveLength(0);
    expect(await api('DELETE', `projects/${p}`)).toMatchObject({ status: 200, body: { message: 'Project deleted.' } });
  });

  it('env vars: 409 duplicate, PATCH by key nulls an omitted value, bulk upsert, delete by uuid', async () => {
    const p = await newProject();
    const { uuid } = (await newService(p)).body as unknown as { uuid: string };
    const created = await api('POST', `services/${uuid}/envs`, { key: ' MY KEY ', value: 'v1', ignored: true });
    expect(created).toMatchObject({ status: 201, body: { key: 'MY_KEY', value: 'v1', is_coolify: false } });
    expect(await api('POST', `services/${uuid}/envs`, { key: 'MY_KEY', value: 'v2' })).toMatchObject({
      status: 409,
      body: { message: 'Environment variable already exists. Use PATCH request to update it.' },
    });
    expect(await api('PATCH', `services/${uuid}/envs`, { key: 'MY_KEY' })).toMatchObject({ status: 201, body: { key: 'MY_KEY', value: null } });
    expect(await api('PATCH', `services/${uuid}/envs`, { key: 'OTHER', value: 'x' })).toMatchObject({ status: 404, body: { message: 'Environment variable not found.' } });
    expect(await api('PATCH', `services/${uuid}/envs/bulk`, { nothing: 1 })).toMatchObject({ status: 400, body: { message: 'Bulk data is required.' } });
    const bulk = await api('PATCH', `services/${uuid}/envs/bulk`, { data: [{ key: 'MY_KEY', value: 'v3' }, { key: 'NEW', value: 'n' }, { key: '1BAD', value: 'z' }] });
    expect(bulk).toMatchObject({ status: 422, body: { errors: { key: ['The key field format is invalid.'] } } });
    const envs = sim.state.service(uuid)?.envs ?? [];
    // Items before the invalid one were saved.
    expect(envs.map((e) => [e.key, e.value])).toEqual([['MY_KEY', 'v3'], ['NEW', 'n']]);
    expect(await api('DELETE', `services/${uuid}/envs/${envs[1]?.uuid}`)).toMatchObject({ status: 200, body: { message: 'Environment variable deleted.' } });
    expect(await api('DELETE', `services/${uuid}/envs/${envs[1]?.uuid}`)).toMatchObject({ status: 404 });
  });

  it('urls: normalised, PATCH saves compose before a 409 (partial update)', async () => {
    const p = await newProject();
    const a = (await newService(p, { name: 'a', urls: [{ name: 'web', url: 'HTTPS://A.Example.COM' }] })).body as unknown as { uuid: string; domains: string[] };
    expect(a.domains).toEqual(['https://a.example.com']);
    const b = (await newService(p, { name: 'b' })).body as unknown as { uuid: string };
    const r = await api('PATCH', `services/${b.uuid}`, { name: 'b-renamed', urls: [{ name: 'web', url: 'https://a.example.com' }] });
    expect(r.status).toBe(409);
    expect(r.body.conflicts).toEqual([
      expect.objectContaining({ domain: 'a.example.com', resource_uuid: a.uuid, resource_name: 'a', resource_type: 'service' }),
    ]);
    expect(sim.state.service(b.uuid)?.name).toBe('b-renamed');
    expect((await api('PATCH', `services/${b.uuid}`, { urls: [{ name: 'web', url: 'https://a.example.com' }], force_domain_override: true })).status).toBe(200);
  });
});

describe('Coolify simulator shutdown', () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  it('ends injected delays on close: a held request is released and no timer is left behind', async () => {
    const sim = await startCoolifySim({ lagMs: 0 });
    sim.faults.delayNext('GET version', 600_000);
    const held = fetch(`${sim.url}/api/v1/version`, { headers: { Authorization: `Bearer ${sim.token}`, Accept: 'application/json' } }).then(
      (res) => `answered ${res.status}`,
      () => 'connection closed',
    );
    // The request reached the delay once its rule is taken (the log only records it once answered).
    const until = Date.now() + 5_000;
    while (sim.faults.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(sim.faults.pending).toBe(0);
    // Counted while held rather than before the simulator started: timers other suites of this
    // process left behind may come and go meanwhile.
    const holding = timers();
    await sim.close();
    expect(await held).toMatch(/^(answered 200|connection closed)$/);
    // The ten-minute delay's timer is gone: it would otherwise keep jest (or a test process) alive.
    expect(timers()).toBeLessThan(holding);
  });
});
