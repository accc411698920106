import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CoolifyInventory } from '../../../src/coolify/inventory.js';
import { formatProjectMarker, formatServiceMarker } from '../../../src/coolify/markers.js';
import type { CoolifyApi } from '../../../src/coolify/types.js';
import { composeDigest } from '../../../src/templates/index.js';
import { SIMPLE_COMPOSE, eventually, startSimWithClient, type SimWithClient } from '../../helpers/coolify-sim.js';

describe('CoolifyInventory (simulator)', () => {
  let t: SimWithClient;
  beforeEach(async () => {
    t = await startSimWithClient();
  });
  afterEach(async () => {
    await t.close();
  });

  async function tenantWithStacks(tenantId: string, stackIds: string[]) {
    const { uuid: projectUuid } = await t.client.createProject({ name: `cf-tenant-${tenantId}`, description: formatProjectMarker({ tenantId }) });
    const services: string[] = [];
    for (const stackId of stackIds) {
      const { uuid } = await t.client.createService({
        name: `stack-${stackId}`,
        description: formatServiceMarker({ stackId, tenantId }),
        projectUuid,
        environmentName: 'production',
        serverUuid: t.sim.serverUuid,
        composeYaml: SIMPLE_COMPOSE,
      });
      services.push(uuid);
    }
    return { projectUuid, services };
  }

  const apiCalls = () => t.sim.requestLog.length;

  it('maps managed services to projects, counts foreign resources, and costs 2 calls in steady state', async () => {
    const a = await tenantWithStacks('tena', ['s1', 's2']);
    const b = await tenantWithStacks('tenb', ['s3']);
    const foreign = t.sim.edits.createForeignProject({ name: 'hand made', description: 'managed-by=cf-reconciler but not really' });
    t.sim.edits.createForeignService({ projectUuid: foreign.uuid, description: 'notes about managed-by=cf-reconciler stack=s1 tenant=tena' });
    // A managed service living in someone else's project still maps to that project.
    t.sim.edits.createForeignService({ projectUuid: foreign.uuid, description: formatServiceMarker({ stackId: 's9', tenantId: 'tenb' }) });

    const inventory = new CoolifyInventory(t.client);
    let before = apiCalls();
    const first = await inventory.observe();
    // 2 lists + one GET /projects/{uuid} per project (ours first, then the foreign one holding s9).
    expect(apiCalls() - before).toBe(2 + 3);
    expect([...first.projectsByTenant.keys()].sort()).toEqual(['tena', 'tenb']);
    expect(first.projectsByTenant.get('tena')?.[0]?.uuid).toBe(a.projectUuid);
    expect([...first.servicesByStack.keys()].sort()).toEqual(['s1', 's2', 's3', 's9']);
    expect(first.servicesByStack.get('s1')?.[0]).toMatchObject({ uuid: a.services[0], projectUuid: a.projectUuid, environmentName: 'production', status: 'exited' });
    expect(first.servicesByStack.get('s3')?.[0]?.projectUuid).toBe(b.projectUuid);
    expect(first.servicesByStack.get('s9')?.[0]?.projectUuid).toBe(foreign.uuid);
    expect(first.foreign).toEqual({ projects: 1, services: 1 });
    expect(first.duplicateStacks).toEqual([]);

    before = apiCalls();
    await inventory.observe();
    expect(apiCalls() - before).toBe(2);

    // A new project costs one more call, once.
    const c = await tenantWithStacks('tenc', ['s4']);
    before = apiCalls();
    const third = await inventory.observe();
    expect(apiCalls() - before).toBe(3);
    expect(third.servicesByStack.get('s4')?.[0]?.projectUuid).toBe(c.projectUuid);
    before = apiCalls();
    await inventory.observe();
    expect(apiCalls() - before).toBe(2);
  });

  it('reports duplicates instead of dropping them', async () => {
    await tenantWithStacks('tena', ['s1']);
    const again = await tenantWithStacks('tena', ['s1']);
    const snap = await new CoolifyInventory(t.client).observe();
    expect(snap.duplicateTenants).toEqual(['tena']);
    expect(snap.duplicateStacks).toEqual(['s1']);
    expect(snap.servicesByStack.get('s1')).toHaveLength(2);
    expect(snap.servicesByStack.get('s1')?.map((s) => s.projectUuid)).toContain(again.projectUuid);
  });

  it('forgets projects and services deleted since the last pass', async () => {
    const a = await tenantWithStacks('tena', ['s1']);
    const inventory = new CoolifyInventory(t.client);
    await inventory.observe();
    await t.client.deleteService(a.services[0]!);
    await eventually(() => (t.sim.state.service(a.services[0]!) ? undefined : true));
    await t.client.deleteProject(a.projectUuid);
    const snap = await inventory.observe();
    expect(snap.projectsByTenant.size).toBe(0);
    expect(snap.servicesByStack.size).toBe(0);
  });

  /** A compose with non-ASCII text, escapes and JSON's structural characters inside strings. */
  const trickyCompose = (i: number) => `services:
  web:
    image: nginx:alpine
    environment:
      GREETING: "Grüße aus Köln, 日本語 und 🚀 Nummer ${i}"
      QUOTED: 'er sagte "hallo" \\ und ging'
      TABBED: "a\\tb ] } , [ {"
      FILLER: "${'x'.repeat(3_000)}"
    command: ["sh", "-c", "echo \\"[}{],\\" && printf '%s\\\\n' fertig"]
`;

  /** The client with its streamed listing hidden: the inventory falls back to `listServices`. */
  const withoutStreaming = (api: CoolifyApi): CoolifyApi =>
    new Proxy(api, {
      get(target, prop) {
        if (prop === 'listServicesMapped') return undefined;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });

  it('a streamed listing gives the same snapshot as the whole-body listing', async () => {
    const { uuid: projectUuid } = await t.client.createProject({ name: 'cf-tenant-tena', description: formatProjectMarker({ tenantId: 'tena' }) });
    for (let i = 0; i < 30; i++) {
      await t.client.createService({
        name: `stack-${i}`,
        description: formatServiceMarker({ stackId: `s${i % 25}`, tenantId: 'tena' }),
        projectUuid,
        environmentName: 'production',
        serverUuid: t.sim.serverUuid,
        composeYaml: trickyCompose(i),
      });
    }
    t.sim.edits.createForeignService({ projectUuid, description: 'hand-made, 日本語', composeYaml: trickyCompose(99) });
    expect(t.client.listServicesMapped).toBeDefined();
    expect(withoutStreaming(t.client).listServicesMapped).toBeUndefined();

    const now = () => 1_000;
    // The global fetch, not the recording one (which reads each body whole before the client does).
    const streamed = await new CoolifyInventory(t.newClient({ fetch }), { now, composeDigest }).observe();
    const whole = await new CoolifyInventory(withoutStreaming(t.client), { now, composeDigest }).observe();
    expect(streamed).toEqual(whole);
    expect(streamed.servicesByStack.size).toBe(25);
    expect(streamed.duplicateStacks).toHaveLength(5);
    expect(streamed.foreign.services).toBe(1);
    // Each digest is the one of the compose Coolify stores.
    const stored = new Map((await t.client.listServices()).map((s) => [s.uuid, s.dockerComposeRaw]));
    for (const [, list] of streamed.servicesByStack) {
      for (const s of list) {
        expect(s.composeDigest).toBeDefined();
        expect(s.composeDigest).toBe(composeDigest(stored.get(s.uuid)!));
      }
    }
  });

  it('recomputes a compose digest only for a service whose compose text changed', async () => {
    const a = await tenantWithStacks('tena', ['s1', 's2']);
    let computed = 0;
    // Each computation gets its own number, so a reused digest shows as the same value.
    const inventory = new CoolifyInventory(t.client, { composeDigest: (text) => `${composeDigest(text)}#${++computed}` });
    const first = await inventory.observe();
    const digestOf = (snap: typeof first, stack: string) => snap.servicesByStack.get(stack)?.[0]?.composeDigest;
    expect([digestOf(first, 's1'), digestOf(first, 's2')].map((d) => d?.split('#')[1]).sort()).toEqual(['1', '2']);

    t.sim.edits.editCompose(a.services[1]!, trickyCompose(1));
    const second = await inventory.observe();
    expect(digestOf(second, 's1')).toBe(digestOf(first, 's1'));
    expect(digestOf(second, 's2')).toBe(`${composeDigest(trickyCompose(1))}#3`);
    const third = await inventory.observe();
    expect(digestOf(third, 's2')).toBe(digestOf(second, 's2'));
    expect(computed).toBe(3);
  });
});
