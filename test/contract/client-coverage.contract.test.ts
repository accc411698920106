import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoolifyClient } from '../../src/coolify/client.js';
import { SIMPLE_COMPOSE, startSimWithClient, type SimWithClient } from '../helpers/coolify-sim.js';
import { ContractValidator } from './openapi.js';

/**
 * Every public CoolifyClient method is called at least once against the simulator and each of its
 * exchanges is checked against the corrected spec. The list of methods comes from the class itself,
 * so a method added later without a call here fails the test instead of going unchecked.
 */
describe('Coolify contract: every client method (simulator)', () => {
  let t: SimWithClient;
  beforeAll(async () => {
    t = await startSimWithClient({ sim: { lagMs: 0 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('calls each method; every request and response matches the spec plus overlay', async () => {
    const called = new Set<string>();
    // Counts calls by name; methods run on the real client (its private fields need `this`).
    const api = new Proxy(t.client, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          called.add(String(prop));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });

    expect(await api.health()).toBe(true);
    expect(await api.version()).toBe('4.3.11');
    expect((await api.listServers()).map((s) => s.uuid)).toEqual([t.sim.serverUuid]);
    expect(await api.listDestinations(t.sim.serverUuid)).toHaveLength(1);

    const { uuid: projectUuid } = await api.createProject({ name: 'coverage', description: 'managed-by=cf-reconciler tenant=cov1' });
    expect((await api.listProjects()).map((p) => p.uuid)).toEqual([projectUuid]);
    const marked = 'managed-by=cf-reconciler tenant=cov1 delete-after=1796417103290';
    expect(await api.updateProject(projectUuid, { description: marked })).toEqual({ uuid: projectUuid });
    expect((await api.getProject(projectUuid)).description).toBe(marked);
    await api.createEnvironment(projectUuid, 'staging');
    expect((await api.getProject(projectUuid)).environments.map((e) => e.name)).toEqual(['production', 'staging']);

    const { uuid } = await api.createService({
      name: 'cov',
      description: 'managed-by=cf-reconciler stack=cov1 tenant=cov1',
      projectUuid,
      environmentName: 'staging',
      serverUuid: t.sim.serverUuid,
      destinationUuid: t.sim.destinationUuid,
      composeYaml: SIMPLE_COMPOSE,
      urls: [{ name: 'web', url: 'https://cov.example' }],
      instantDeploy: true,
    });
    const listed = await api.listServices();
    expect(listed.map((s) => s.uuid)).toEqual([uuid]);
    expect(await api.listServicesMapped((s) => s)).toEqual(listed);
    expect(
      await api.updateService(uuid, { name: 'cov2', description: 'changed', composeYaml: SIMPLE_COMPOSE, urls: [{ name: 'web', url: null }] }),
    ).toEqual({ uuid, domains: [] });
    expect((await api.getService(uuid)).status).toBe('running:healthy');
    // Instant deploy already started it (lag 0): start is Coolify's "already running" 400.
    expect(await api.startService(uuid)).toBe('noop');
    expect(await api.restartService(uuid)).toBe('queued');
    expect(await api.stopService(uuid)).toBe('queued');
    await api.deployService(uuid);

    await api.upsertServiceEnvs(uuid, [{ key: 'COVERAGE', value: 'v$1' }]);
    const env = (await api.listServiceEnvs(uuid)).find((e) => e.key === 'COVERAGE');
    expect(env?.value).toBe('v$1');
    await api.deleteServiceEnv(uuid, env?.uuid ?? '');
    await api.deleteService(uuid);
    await api.deleteProject(projectUuid);
    expect(t.sim.state.projects).toEqual([]);

    const methods = Object.getOwnPropertyNames(CoolifyClient.prototype).filter((m) => m !== 'constructor');
    expect([...called].sort()).toEqual(methods.sort());

    const validator = new ContractValidator();
    const operations = new Set(t.exchanges.map((x) => `${x.method} ${validator.template(x.path) ?? x.path}`));
    expect([...operations].sort()).toEqual([
      'DELETE /projects/{uuid}',
      'DELETE /services/{uuid}',
      'DELETE /services/{uuid}/envs/{env_uuid}',
      'GET /health',
      'GET /projects',
      'GET /projects/{uuid}',
      'GET /servers',
      'GET /servers/{server_uuid}/destinations',
      'GET /services',
      'GET /services/{uuid}',
      'GET /services/{uuid}/envs',
      'GET /version',
      'PATCH /projects/{uuid}',
      'PATCH /services/{uuid}',
      'PATCH /services/{uuid}/envs/bulk',
      'POST /deploy',
      'POST /projects',
      'POST /projects/{uuid}/environments',
      'POST /services',
      'POST /services/{uuid}/restart',
      'POST /services/{uuid}/start',
      'POST /services/{uuid}/stop',
    ]);
    expect(t.contractProblems()).toEqual([]);
  });
});
