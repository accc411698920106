import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startCoolifySim, type CoolifySim } from '../../src/coolify-sim/index.js';
import { defineBehaviourSuite } from './behaviour.js';
import { ContractValidator, recordingFetch, type Exchange } from './openapi.js';

defineBehaviourSuite('Coolify contract: simulator', async () => {
  const sim = await startCoolifySim({ lagMs: 30 });
  return { url: sim.url, token: sim.token, serverUuid: sim.serverUuid, settleMs: 5_000, close: () => sim.close() };
});

/** Error answers the client rarely provokes, spoken raw and validated the same way. */
describe('Coolify contract: simulator error bodies', () => {
  let sim: CoolifySim;
  const exchanges: Exchange[] = [];
  const record = recordingFetch(exchanges);
  beforeAll(async () => {
    sim = await startCoolifySim({ lagMs: 0, rateLimit: { limit: 12, windowMs: 60_000 } });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('401, 404, 409, 422, 429 and the hidden-field variants match the corrected spec', async () => {
    const h = { Authorization: `Bearer ${sim.token}`, Accept: 'application/json', 'Content-Type': 'application/json' };
    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = h) =>
      record(`${sim.url}/api/v1/${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    await call('GET', 'projects', undefined, { Accept: 'application/json' });
    const { uuid: project } = (await (await call('POST', 'projects', { name: 'contract' })).json()) as { uuid: string };
    await call('GET', `projects/${project}`);
    await call('PATCH', `projects/${project}`, { description: 'changed' });
    const compose = Buffer.from('services:\n  web:\n    image: nginx\n').toString('base64');
    const { uuid: service } = (await (
      await call('POST', 'services', { project_uuid: project, server_uuid: sim.serverUuid, environment_name: 'production', docker_compose_raw: compose })
    ).json()) as { uuid: string };
    await call('POST', `services/${service}/envs`, { key: 'A', value: '1' });
    await call('POST', `services/${service}/envs`, { key: 'A', value: '2' });
    await call('PATCH', `services/${service}/envs`, { key: 'A' });
    await call('GET', `services/${service}`);
    await call('POST', 'services', { project_uuid: project, server_uuid: sim.serverUuid, environment_name: 'production', docker_compose_raw: 'nope' });
    await call('GET', 'services/nope');
    await call('DELETE', `projects/${project}`);
    expect(exchanges.map((x) => x.status)).toEqual([401, 201, 200, 201, 201, 201, 409, 201, 200, 422, 404, 400]);
    // The throttle (12 per minute) is spent after one more request.
    await call('GET', 'services');
    await call('GET', 'services');
    expect(exchanges.at(-1)?.status).toBe(429);
    const validator = new ContractValidator();
    expect(exchanges.flatMap((x) => validator.validate(x))).toEqual([]);
  });
});
