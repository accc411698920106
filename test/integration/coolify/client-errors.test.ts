import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { systemClock } from '../../../src/clock.js';
import { CoolifyError, isRetryable } from '../../../src/coolify/errors.js';
import { RateLimiter } from '../../../src/coolify/rate-limiter.js';
import { SIMPLE_COMPOSE, startSimWithClient, type SimWithClient } from '../../helpers/coolify-sim.js';

async function caught(p: Promise<unknown>): Promise<CoolifyError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CoolifyError) return e;
    throw e;
  }
  throw new Error('expected a CoolifyError');
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('CoolifyClient error classes and retries (simulator)', () => {
  let t: SimWithClient;
  beforeEach(async () => {
    t = await startSimWithClient({ client: { timeoutMs: 300, deadlineMs: 5_000 } });
  });
  afterEach(async () => {
    await t.close();
    // Answers a test injected are off-spec on purpose; their requests are still checked.
    expect(t.contractProblems()).toEqual([]);
  });

  const countLog = (method: string, path: string) => t.sim.requestLog.filter((e) => e.method === method && e.path === `/api/v1/${path}`).length;

  it('not_found', async () => {
    const err = await caught(t.client.getService('doesnotexist'));
    expect(err).toMatchObject({ kind: 'not_found', status: 404, body: { message: 'Service not found.' } });
    expect(err.message).toContain('Service not found.');
    expect(isRetryable(err)).toBe(false);
  });

  it('conflict: 409 with the domains taken', async () => {
    const { uuid: projectUuid } = await t.client.createProject({ name: 'proj', description: '' });
    t.sim.edits.createForeignService({ projectUuid, name: 'someone', urls: { web: 'https://taken.example' } });
    const err = await caught(
      t.client.createService({
        name: 'ours', description: '', projectUuid, environmentName: 'production', serverUuid: t.sim.serverUuid,
        composeYaml: SIMPLE_COMPOSE, urls: [{ name: 'web', url: 'https://taken.example' }],
      }),
    );
    expect(err.kind).toBe('conflict');
    expect(err.conflicts).toEqual([{ domain: 'taken.example', resourceName: 'someone', resourceUuid: expect.any(String), resourceType: 'service' }]);
    expect(err.body).toMatchObject({
      message: 'Domain conflicts detected. Use force_domain_override=true to proceed.',
      warning: 'Using the same domain for multiple resources can cause routing conflicts and unpredictable behavior.',
    });
    // The rejected service was removed again.
    expect(t.sim.state.services.map((s) => s.name)).toEqual(['someone']);
  });

  it('validation: every errors shape of notes §2 is read', async () => {
    const { uuid: projectUuid } = await t.client.createProject({ name: 'proj', description: '' });
    const base = { name: 'x', description: '', projectUuid, environmentName: 'production', serverUuid: t.sim.serverUuid };
    // errors.<field> as a string
    const noServices = await caught(t.client.createService({ ...base, composeYaml: 'version: "3"\n' }));
    expect(noServices).toMatchObject({ kind: 'validation', status: 422 });
    expect(noServices.validation).toEqual(['docker_compose_raw: Docker Compose file must contain a "services" section']);
    // errors as a list
    const badUrl = await caught(t.client.createService({ ...base, composeYaml: SIMPLE_COMPOSE, urls: [{ name: 'web', url: 'ftp://x' }, { name: 'nope', url: null }] }));
    expect(badUrl.validation).toEqual(['Invalid URL: ftp://x', "Service container with 'nope' not found."]);
    // errors.<field> as string[]
    const badName = await caught(t.client.createProject({ name: 'ab', description: 'bad: colon' }));
    expect(badName.validation).toEqual(['name: The name field must be at least 3 characters.', 'description: The description field format is invalid.']);
    expect(badName.message).toContain('name: The name field must be at least 3 characters.');
    // injection check
    const inj = await caught(t.client.createService({ ...base, composeYaml: 'services:\n  "a;b":\n    image: x\n' }));
    expect(inj.validation).toEqual(['docker_compose_raw: Invalid Docker Compose service name: a;b']);
  });

  it('bad_request: project with resources', async () => {
    const { uuid: projectUuid } = await t.client.createProject({ name: 'proj', description: '' });
    t.sim.edits.createForeignService({ projectUuid });
    const err = await caught(t.client.deleteProject(projectUuid));
    expect(err).toMatchObject({ kind: 'bad_request', status: 400, body: { message: 'Project has resources, so it cannot be deleted.' } });
  });

  it('unauthorized: a wrong token', async () => {
    const client = t.newClient({ token: '9|wrong' });
    const err = await caught(client.listProjects());
    expect(err).toMatchObject({ kind: 'unauthorized', status: 401, body: { message: 'Unauthenticated.' } });
  });

  it('forbidden: names the missing ability', async () => {
    t.sim.addToken({ token: '2|readonly', abilities: ['read'], user: 'reader' });
    const client = t.newClient({ token: '2|readonly' });
    expect(await client.listProjects()).toEqual([]);
    const err = await caught(client.createProject({ name: 'nope', description: '' }));
    expect(err).toMatchObject({ kind: 'forbidden', status: 403, missingAbility: 'write' });
    const { uuid: projectUuid } = await t.client.createProject({ name: 'proj', description: '' });
    const svc = t.sim.edits.createForeignService({ projectUuid });
    expect(await caught(client.startService(svc.uuid))).toMatchObject({ kind: 'forbidden', missingAbility: 'deploy' });
    expect(t.sim.state.projects).toHaveLength(1);
  });

  it('hidden compose and env values without read:sensitive', async () => {
    t.sim.addToken({ token: '3|rwd', abilities: ['read', 'write', 'deploy'], user: 'owner' });
    const client = t.newClient({ token: '3|rwd' });
    const { uuid: projectUuid } = await client.createProject({ name: 'proj', description: '' });
    const { uuid } = await client.createService({ name: 'x', description: '', projectUuid, environmentName: 'production', serverUuid: t.sim.serverUuid, composeYaml: SIMPLE_COMPOSE });
    await client.upsertServiceEnvs(uuid, [{ key: 'K', value: 'v' }]);
    expect((await client.listServices())[0]?.dockerComposeRaw).toBeUndefined();
    expect((await client.listServiceEnvs(uuid))[0]).toMatchObject({ key: 'K', value: null });
    expect((await t.client.listServiceEnvs(uuid))[0]).toMatchObject({ key: 'K', value: 'v' });
  });

  it('server: GET retried after 5xx, then succeeds; exhausted retries throw', async () => {
    t.sim.faults.failNext('GET projects', 2);
    expect(await t.client.listProjects()).toEqual([]);
    expect(countLog('GET', 'projects')).toBe(3);
    t.sim.faults.failNext('GET projects', 10, { status: 503, body: { message: 'Service Unavailable' } });
    const err = await caught(t.client.listProjects());
    expect(err).toMatchObject({ kind: 'server', status: 503 });
    expect(isRetryable(err)).toBe(true);
    // 1 + 3 retries
    expect(countLog('GET', 'projects')).toBe(3 + 4);
    t.sim.faults.clear();
  });

  it('server: a create is never blindly retried', async () => {
    t.sim.faults.failNext('POST projects', 1);
    const err = await caught(t.client.createProject({ name: 'once', description: '' }));
    expect(err.kind).toBe('server');
    expect(countLog('POST', 'projects')).toBe(1);
  });

  it('rate_limited: a 429 on create is retried (the controller never ran) and creates exactly one', async () => {
    t.sim.faults.rateLimitNext(1, 0);
    const { uuid } = await t.client.createProject({ name: 'once', description: '' });
    expect(t.sim.state.projects.map((p) => p.uuid)).toEqual([uuid]);
    expect(t.sim.requestLog.filter((e) => e.path === '/api/v1/projects').map((e) => e.status)).toEqual([429, 201]);
  });

  it('rate_limited: a Retry-After beyond the deadline fails fast with retryAfterMs', async () => {
    t.sim.faults.rateLimitNext(1, 30);
    const err = await caught(t.client.listServices());
    expect(err).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 30_000, body: { message: 'Too Many Attempts.' } });
    // Every later call is held too (the pause is per user, not per call).
    expect(t.limiter.pausedUntil).toBeGreaterThan(Date.now() + 20_000);
  });

  it('timeout: no answer within timeoutMs; GET retried and then succeeds', async () => {
    t.sim.faults.delayNext('GET services', 1_000, 1);
    expect(await t.client.listServices()).toEqual([]);
    const client = t.newClient({ timeoutMs: 300, maxRetries: 1 });
    t.sim.faults.delayNext('GET services', 1_000, 10);
    const err = await caught(client.listServices());
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/no response within 300 ms/);
    t.sim.faults.clear();
  });

  it('timeout: the per-call deadline bounds retries', async () => {
    const client = t.newClient({ timeoutMs: 200, deadlineMs: 300, maxRetries: 10 });
    t.sim.faults.delayNext('GET services', 1_000, 10);
    const err = await caught(client.listServices());
    expect(err.kind).toBe('timeout');
    t.sim.faults.clear();
  });

  it('network: dropped connection (retried for GET) and refused connection', async () => {
    t.sim.faults.dropNext('GET projects', 1);
    expect(await t.client.listProjects()).toEqual([]);
    const port = await closedPort();
    const client = t.newClient({ baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 });
    const err = await caught(client.createProject({ name: 'x', description: '' }));
    expect(err.kind).toBe('network');
    expect(err.message).toContain('ECONNREFUSED');
    expect(isRetryable(err)).toBe(true);
  });

  it('invalid_response: malformed JSON and a wrong shape', async () => {
    t.sim.faults.malformedNext('GET services', 1);
    expect(await caught(t.client.listServices())).toMatchObject({ kind: 'invalid_response' });
    t.sim.faults.failNext('GET projects', 1, { status: 200, body: [{ uuid: 42 }] });
    const err = await caught(t.client.listProjects());
    expect(err.kind).toBe('invalid_response');
    expect(err.message).toContain('projects[0].uuid is not a string');
  });

  it('idempotent 400s: start of a running and stop of a stopped service are noops', async () => {
    const { uuid: projectUuid } = await t.client.createProject({ name: 'proj', description: '' });
    const { uuid } = await t.client.createService({ name: 'x', description: '', projectUuid, environmentName: 'production', serverUuid: t.sim.serverUuid, composeYaml: SIMPLE_COMPOSE });
    expect(await t.client.stopService(uuid)).toBe('noop');
    t.sim.edits.setStatus(uuid, 'running:unhealthy');
    expect(await t.client.startService(uuid)).toBe('noop');
    t.sim.edits.crashService(uuid, 'degraded');
    // degraded is neither running nor stopped: both requests are queued.
    expect(await t.client.startService(uuid)).toBe('queued');
    const log = t.sim.requestLog.filter((e) => e.path.endsWith('/start') || e.path.endsWith('/stop')).map((e) => e.status);
    expect(log).toEqual([400, 400, 200]);
  });

  it('reports every attempt to onResponse with a route template', async () => {
    const seen: string[] = [];
    const client = t.newClient({
      limiter: new RateLimiter({ limit: 100, clock: systemClock }),
      onResponse: (i) => seen.push(`${i.method} ${i.route} ${i.status}`),
    });
    t.sim.faults.failNext('GET services/*', 1);
    await caught(client.getService('nope'));
    expect(seen).toEqual(['GET services/{uuid} 500', 'GET services/{uuid} 404']);
  });
});
