import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { formatProjectMarker, formatServiceMarker } from '../../../src/coolify/markers.js';
import { SIMPLE_COMPOSE, eventually, startSimWithClient, type SimWithClient } from '../../helpers/coolify-sim.js';

/**
 * Every CoolifyApi method against the simulator over HTTP, asserting the simulator's state. Each
 * exchange is also checked against the corrected OpenAPI spec after every test.
 */
describe('CoolifyClient endpoints (simulator)', () => {
  let t: SimWithClient;
  beforeEach(async () => {
    t = await startSimWithClient({ sim: { lagMs: 20 } });
  });
  afterEach(async () => {
    await t.close();
    expect(t.contractProblems()).toEqual([]);
  });

  async function projectWithService(urls?: { name: string; url: string | null }[]) {
    const { uuid: projectUuid } = await t.client.createProject({ name: 'cf-tenant-acme', description: formatProjectMarker({ tenantId: 'ten1' }) });
    const created = await t.client.createService({
      name: 'cf-acme-bot',
      description: formatServiceMarker({ stackId: 'stk1', tenantId: 'ten1' }),
      projectUuid,
      environmentName: 'production',
      serverUuid: t.sim.serverUuid,
      composeYaml: SIMPLE_COMPOSE,
      ...(urls ? { urls } : {}),
    });
    return { projectUuid, ...created };
  }

  it('reads the version, servers and destinations', async () => {
    expect(await t.client.version()).toBe('4.3.11');
    const servers = await t.client.listServers();
    expect(servers).toEqual([{ uuid: t.sim.serverUuid, name: 'localhost', isReachable: true, isUsable: true }]);
    const destinations = await t.client.listDestinations(t.sim.serverUuid);
    expect(destinations).toEqual([{ uuid: t.sim.destinationUuid, name: 'localhost-coolify', network: 'coolify', serverUuid: t.sim.serverUuid }]);
  });

  it('creates, lists, reads and deletes projects', async () => {
    const description = formatProjectMarker({ tenantId: 'ten1' });
    const { uuid } = await t.client.createProject({ name: 'cf-tenant-acme', description });
    expect(uuid).toMatch(/^[a-z0-9]{24}$/);
    expect(await t.client.listProjects()).toEqual([{ uuid, name: 'cf-tenant-acme', description }]);
    const detail = await t.client.getProject(uuid);
    expect(detail.environments.map((e) => e.name)).toEqual(['production']);
    const staging = await t.client.createEnvironment(uuid, 'staging');
    expect((await t.client.getProject(uuid)).environments.map((e) => [e.name, e.uuid])).toEqual([
      ['production', detail.environments[0]?.uuid],
      ['staging', staging.uuid],
    ]);
    await expect(t.client.createEnvironment(uuid, 'staging')).rejects.toMatchObject({ kind: 'conflict' });
    await t.client.deleteProject(uuid);
    expect(t.sim.state.projects).toHaveLength(0);
    // Deleting again is not an error: the desired state holds.
    await t.client.deleteProject(uuid);
  });

  it('creates a service from plain YAML (sent as canonical base64) with urls', async () => {
    const { uuid, domains, projectUuid } = await projectWithService([{ name: 'web', url: 'https://Bot.Acme.Example:8080' }]);
    expect(domains).toEqual(['https://bot.acme.example:8080']);
    const stored = t.sim.state.service(uuid);
    expect(stored?.description).toBe('managed-by=cf-reconciler stack=stk1 tenant=ten1');
    expect(load(stored?.composeRaw ?? '')).toEqual(load(SIMPLE_COMPOSE));
    expect(t.sim.state.projectOfService(stored!)?.uuid).toBe(projectUuid);

    const listed = await t.client.listServices();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ uuid, name: 'cf-acme-bot', status: 'exited', environmentId: stored?.environmentId });
    expect(load(listed[0]?.dockerComposeRaw ?? '')).toEqual(load(SIMPLE_COMPOSE));

    const detail = await t.client.getService(uuid);
    expect(detail.applications).toEqual([
      { uuid: stored?.subs[0]?.uuid, name: 'web', fqdn: 'https://bot.acme.example:8080', status: 'exited' },
    ]);
  });

  it('updates compose, urls, name and description', async () => {
    const { uuid } = await projectWithService();
    const compose = 'services:\n  web:\n    image: nginx:1.27\n  worker:\n    image: busybox\n';
    const r = await t.client.updateService(uuid, {
      name: 'renamed',
      description: formatServiceMarker({ stackId: 'stk1', tenantId: 'ten1' }),
      composeYaml: compose,
      urls: [{ name: 'web', url: 'https://new.acme.example' }],
    });
    expect(r).toEqual({ uuid, domains: ['https://new.acme.example'] });
    const s = t.sim.state.service(uuid);
    expect(s?.name).toBe('renamed');
    expect(load(s?.composeRaw ?? '')).toEqual(load(compose));
    expect(s?.subs.map((x) => x.name).sort()).toEqual(['web', 'worker']);
    await expect(t.client.updateService(uuid, {})).rejects.toThrow(/at least one field/);
  });

  it('starts, stops and restarts; the statuses catch up asynchronously', async () => {
    const { uuid } = await projectWithService();
    const status = async () => (await t.client.getService(uuid)).status;
    expect(await t.client.startService(uuid)).toBe('queued');
    await eventually(async () => ((await status()) === 'running:healthy' ? true : undefined));
    expect(await t.client.restartService(uuid)).toBe('queued');
    await eventually(async () => ((await status()) === 'running:healthy' ? true : undefined));
    expect(await t.client.stopService(uuid)).toBe('queued');
    await eventually(async () => ((await status()) === 'exited' ? true : undefined));
  });

  it('creates with instant_deploy on a chosen destination: the service starts without a start call', async () => {
    const { uuid: projectUuid } = await t.client.createProject({ name: 'cf-tenant-acme', description: '' });
    const { uuid } = await t.client.createService({
      name: 'instant',
      description: '',
      projectUuid,
      environmentName: 'production',
      serverUuid: t.sim.serverUuid,
      destinationUuid: t.sim.destinationUuid,
      composeYaml: SIMPLE_COMPOSE,
      urls: [{ name: 'web', url: 'https://instant.acme.example' }],
      instantDeploy: true,
    });
    await eventually(async () => ((await t.client.getService(uuid)).status === 'running:healthy' ? true : undefined));
    expect(t.sim.requestLog.filter((e) => e.path.endsWith('/start'))).toEqual([]);
  });

  it('deploys a service, running or not', async () => {
    const { uuid } = await projectWithService();
    await t.client.deployService(uuid);
    await eventually(() => (t.sim.state.statusOf(t.sim.state.service(uuid)!) === 'running:healthy' ? true : undefined));
    // Deploy has no "already running" check: it re-applies, where start would answer 400.
    await t.client.deployService(uuid);
    expect(t.sim.requestLog.filter((e) => e.path === '/api/v1/deploy').map((e) => e.status)).toEqual([200, 200]);
  });

  it('shows queued work as starting while the job has not run', async () => {
    // A lag far beyond the test's length: the queued state is observed without racing the job.
    const slow = await startSimWithClient({ sim: { lagMs: 600_000 } });
    try {
      const { uuid: projectUuid } = await slow.client.createProject({ name: 'slow-jobs', description: '' });
      const { uuid } = await slow.client.createService({ name: 'x', description: '', projectUuid, environmentName: 'production', serverUuid: slow.sim.serverUuid, composeYaml: SIMPLE_COMPOSE });
      expect(await slow.client.startService(uuid)).toBe('queued');
      expect((await slow.client.getService(uuid)).status).toBe('starting:unhealthy');
      // Not "running" yet, so a second start is queued too rather than refused.
      expect(await slow.client.startService(uuid)).toBe('queued');
      // Deletion is queued as well: the service stays visible and still blocks its project.
      await slow.client.deleteService(uuid);
      expect((await slow.client.listServices()).map((s) => s.uuid)).toEqual([uuid]);
      await expect(slow.client.deleteProject(projectUuid)).rejects.toMatchObject({ kind: 'bad_request', status: 400 });
    } finally {
      await slow.close();
    }
    expect(slow.contractProblems()).toEqual([]);
  });

  it('lists, upserts and deletes env vars; Coolify’s own SERVICE_* vars are flagged', async () => {
    const { uuid: projectUuid } = await t.client.createProject({ name: 'cf-tenant-acme', description: '' });
    const { uuid } = await t.client.createService({
      name: 'db-user',
      description: '',
      projectUuid,
      environmentName: 'production',
      serverUuid: t.sim.serverUuid,
      composeYaml: 'services:\n  app:\n    image: busybox\n    environment:\n      PW: ${SERVICE_PASSWORD_APP}\n',
    });
    await t.client.upsertServiceEnvs(uuid, [
      { key: 'CLOUDFREEDOM_API_KEY', value: 'k-1' },
      { key: 'CLOUDFREEDOM_ROUTER_BASE_URL', value: 'https://router.example' },
    ]);
    await t.client.upsertServiceEnvs(uuid, [{ key: 'CLOUDFREEDOM_API_KEY', value: 'k-2$HOME' }]);
    await t.client.upsertServiceEnvs(uuid, []);
    const envs = await t.client.listServiceEnvs(uuid);
    const byKey = Object.fromEntries(envs.map((e) => [e.key, e]));
    expect(byKey.CLOUDFREEDOM_API_KEY).toMatchObject({ value: 'k-2$HOME', isCoolify: false });
    expect(byKey.CLOUDFREEDOM_ROUTER_BASE_URL?.value).toBe('https://router.example');
    expect(byKey.SERVICE_PASSWORD_APP?.isCoolify).toBe(true);
    expect(t.sim.state.service(uuid)?.envs.find((e) => e.key === 'CLOUDFREEDOM_API_KEY')?.isLiteral).toBe(true);

    await t.client.deleteServiceEnv(uuid, byKey.CLOUDFREEDOM_ROUTER_BASE_URL!.uuid);
    await t.client.deleteServiceEnv(uuid, byKey.CLOUDFREEDOM_ROUTER_BASE_URL!.uuid);
    expect((await t.client.listServiceEnvs(uuid)).map((e) => e.key).sort()).toEqual(['CLOUDFREEDOM_API_KEY', 'SERVICE_PASSWORD_APP']);
  });

  it('deletes a service asynchronously (volumes included): 404 once the job ran; the project follows', async () => {
    const { uuid, projectUuid } = await projectWithService();
    await t.client.deleteService(uuid);
    expect(t.sim.state.service(uuid)?.deletionOptions).toEqual({
      delete_configurations: true,
      delete_volumes: true,
      docker_cleanup: true,
      delete_connected_networks: true,
    });
    await eventually(async () => {
      try {
        await t.client.getService(uuid);
        return undefined;
      } catch (e) {
        return (e as { kind?: string }).kind === 'not_found' ? true : undefined;
      }
    });
    await t.client.deleteService(uuid);
    await t.client.deleteProject(projectUuid);
    expect(t.sim.state.projects).toHaveLength(0);
  });

  it('picks the destination when the server has several', async () => {
    const multi = await startSimWithClient({ sim: { destinations: 2 } });
    try {
      const { uuid: projectUuid } = await multi.client.createProject({ name: 'multi-dest', description: '' });
      const base = { name: 'x', description: '', projectUuid, environmentName: 'production', serverUuid: multi.sim.serverUuid, composeYaml: SIMPLE_COMPOSE };
      await expect(multi.client.createService(base)).rejects.toMatchObject({ kind: 'bad_request', message: expect.stringContaining('multiple destinations') });
      const second = multi.sim.state.destinations[1]!;
      const { uuid } = await multi.client.createService({ ...base, destinationUuid: second.uuid });
      expect(multi.sim.state.service(uuid)?.destinationId).toBe(second.id);
      await expect(multi.client.createService({ ...base, destinationUuid: 'nope' })).rejects.toMatchObject({
        kind: 'validation',
        validation: ['destination_uuid: Provided destination_uuid does not belong to the specified server.'],
      });
    } finally {
      await multi.close();
    }
    expect(multi.contractProblems()).toEqual([]);
  });
});
