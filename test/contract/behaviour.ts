/**
 * One behaviour suite for any Coolify: the simulator, or a real instance when COOLIFY_URL and
 * COOLIFY_TOKEN are set. Every exchange the client makes is recorded and checked against the
 * corrected OpenAPI spec at the end of each test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { load } from 'js-yaml';
import { systemClock } from '../../src/clock.js';
import { CoolifyClient } from '../../src/coolify/client.js';
import { CoolifyError } from '../../src/coolify/errors.js';
import { CoolifyInventory } from '../../src/coolify/inventory.js';
import { composeDigest } from '../../src/templates/compose-equals.js';
import { formatProjectMarker, formatServiceMarker } from '../../src/coolify/markers.js';
import { RateLimiter } from '../../src/coolify/rate-limiter.js';
import { ContractValidator, recordingFetch, type Exchange } from './openapi.js';

export interface ContractTarget {
  url: string;
  token: string;
  /** Server to place services on; the first listed server when undefined. */
  serverUuid?: string;
  destinationUuid?: string;
  /** Upper bound for asynchronous work (service deletion) on this target. */
  settleMs: number;
  close(): Promise<void>;
}

const COMPOSE = `services:
  app:
    image: busybox:1.36
    command: ["sleep", "3600"]
    environment:
      GREETING: hello # a comment Coolify drops
`;

async function until<T>(what: string, limitMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (let wait = 50; ; wait = Math.min(wait * 2, 2_000)) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, wait));
  }
}

export function defineBehaviourSuite(name: string, start: () => Promise<ContractTarget>): void {
  describe(name, () => {
    const validator = new ContractValidator();
    const exchanges: Exchange[] = [];
    // Unique per run so a real instance can hold several runs' leftovers without confusion.
    const run = randomBytes(4).toString('hex');
    const tenantId = `contract${run}`;
    let target: ContractTarget;
    let client: CoolifyClient;
    let serverUuid: string;
    const createdProjects: string[] = [];
    const createdServices: string[] = [];

    beforeAll(async () => {
      target = await start();
      client = new CoolifyClient({
        baseUrl: target.url,
        token: target.token,
        limiter: new RateLimiter({ limit: 100, clock: systemClock }),
        fetch: recordingFetch(exchanges),
        deadlineMs: 30_000,
      });
      serverUuid = target.serverUuid ?? (await client.listServers())[0]?.uuid ?? '';
    });

    afterEach(() => {
      const problems = exchanges.flatMap((x) => validator.validate(x));
      exchanges.length = 0;
      expect(problems).toEqual([]);
    });

    afterAll(async () => {
      // Best-effort cleanup of whatever a failed test left behind.
      for (const uuid of createdServices) await client.deleteService(uuid).catch(() => undefined);
      for (const uuid of createdProjects) {
        await until('project deletion', target.settleMs, async () => {
          try {
            await client.deleteProject(uuid);
            return true;
          } catch (e) {
            return e instanceof CoolifyError && e.kind === 'bad_request' ? undefined : true;
          }
        }).catch(() => undefined);
      }
      await target.close();
    });

    async function newProject(): Promise<string> {
      const { uuid } = await client.createProject({ name: `cf-contract-${run}`, description: formatProjectMarker({ tenantId }) });
      createdProjects.push(uuid);
      return uuid;
    }

    async function newService(projectUuid: string, stackId: string, urls?: { name: string; url: string | null }[]) {
      const created = await client.createService({
        name: `cf-contract-${run}-${stackId}`,
        description: formatServiceMarker({ stackId, tenantId }),
        projectUuid,
        environmentName: 'production',
        serverUuid,
        destinationUuid: target.destinationUuid,
        composeYaml: COMPOSE,
        ...(urls ? { urls } : {}),
      });
      createdServices.push(created.uuid);
      return created;
    }

    it('reads version, servers and destinations', async () => {
      expect(await client.version()).toMatch(/^\d+\.\d+/);
      const servers = await client.listServers();
      expect(servers.map((s) => s.uuid)).toContain(serverUuid);
      const destinations = await client.listDestinations(serverUuid);
      expect(destinations.length).toBeGreaterThan(0);
      expect(destinations.every((d) => d.serverUuid === serverUuid)).toBe(true);
    });

    it('creates a marked project with a production environment', async () => {
      const uuid = await newProject();
      const listed = (await client.listProjects()).find((p) => p.uuid === uuid);
      expect(listed?.description).toBe(formatProjectMarker({ tenantId }));
      const detail = await client.getProject(uuid);
      expect(detail.environments.map((e) => e.name)).toContain('production');
      const { uuid: envUuid } = await client.createEnvironment(uuid, 'cf-contract');
      expect((await client.getProject(uuid)).environments.find((e) => e.name === 'cf-contract')?.uuid).toBe(envUuid);
      await expect(client.createEnvironment(uuid, 'cf-contract')).rejects.toMatchObject({ kind: 'conflict' });
    });

    it('creates, observes, updates and configures a service; stop of a never-started service is a noop', async () => {
      const projectUuid = await newProject();
      const { uuid } = await newService(projectUuid, 'svc1');
      const snap = await new CoolifyInventory(client, { composeDigest }).observe();
      const seen = snap.servicesByStack.get('svc1')?.find((s) => s.uuid === uuid);
      expect(seen?.projectUuid).toBe(projectUuid);
      // The listing's compose, as Coolify stored it, compares equal to what was sent.
      expect(seen?.composeDigest).toBe(composeDigest(COMPOSE));
      expect(await client.stopService(uuid)).toBe('noop');

      const changed = COMPOSE.replace('busybox:1.36', 'busybox:1.37');
      await client.updateService(uuid, { composeYaml: changed });
      expect(load((await client.getService(uuid)).dockerComposeRaw ?? '')).toEqual(load(changed));

      await client.upsertServiceEnvs(uuid, [{ key: 'CF_CONTRACT', value: 'v1' }]);
      await client.upsertServiceEnvs(uuid, [{ key: 'CF_CONTRACT', value: 'v2' }]);
      const env = (await client.listServiceEnvs(uuid)).find((e) => e.key === 'CF_CONTRACT');
      expect(env?.value).toBe('v2');
      await client.deleteServiceEnv(uuid, env?.uuid ?? '');
      expect((await client.listServiceEnvs(uuid)).some((e) => e.key === 'CF_CONTRACT')).toBe(false);
    });

    it('reports a taken domain as a conflict and a bad compose as a validation error', async () => {
      const projectUuid = await newProject();
      const host = `https://cf-contract-${run}.example.invalid`;
      await newService(projectUuid, 'dom1', [{ name: 'app', url: host }]);
      await expect(newService(projectUuid, 'dom2', [{ name: 'app', url: host }])).rejects.toMatchObject({
        kind: 'conflict',
        conflicts: [expect.objectContaining({ domain: expect.stringContaining(`cf-contract-${run}.example.invalid`) })],
      });
      await expect(
        client.createService({
          name: 'x', description: '', projectUuid, environmentName: 'production', serverUuid,
          destinationUuid: target.destinationUuid, composeYaml: 'version: "3"\n',
        }),
      ).rejects.toMatchObject({ kind: 'validation' });
      await expect(client.getService(`nope${run}`)).rejects.toMatchObject({ kind: 'not_found' });
    });

    it('deletes a service asynchronously, then its project', async () => {
      const projectUuid = await newProject();
      const { uuid } = await newService(projectUuid, 'del1');
      await client.deleteService(uuid);
      await until('service deletion', target.settleMs, async () => {
        try {
          await client.getService(uuid);
          return undefined;
        } catch (e) {
          if (e instanceof CoolifyError && e.kind === 'not_found') return true;
          throw e;
        }
      });
      await until('project deletion', target.settleMs, async () => {
        try {
          await client.deleteProject(projectUuid);
          return true;
        } catch (e) {
          if (e instanceof CoolifyError && e.kind === 'bad_request') return undefined;
          throw e;
        }
      });
      expect((await client.listProjects()).some((p) => p.uuid === projectUuid)).toBe(false);
    });
  });
}
