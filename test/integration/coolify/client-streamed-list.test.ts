/**
 * `listServicesMapped` over HTTP against the simulator: the same services as `listServices`, each
 * mapped as it is read, and the same call discipline (retries with a fresh list per attempt,
 * timeouts while the body streams, invalid bodies naming the route, the send gate, one report per
 * attempt). Answers cut off mid-body come from the simulator's `cutNext` fault.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CoolifyError } from '../../../src/coolify/errors.js';
import type { CoolifyResponseInfo } from '../../../src/coolify/client.js';
import type { CoolifyService } from '../../../src/coolify/types.js';
import { formatProjectMarker, formatServiceMarker } from '../../../src/coolify/markers.js';
import { startSimWithClient, type SimWithClient } from '../../helpers/coolify-sim.js';

/** Long enough that the listing spans many chunks; non-ASCII and escapes throughout. */
function compose(i: number): string {
  return `services:
  web:
    image: nginx:alpine
    environment:
      GREETING: "Grüße aus Köln, 日本語 und 🚀 Nummer ${i}"
      QUOTED: 'er sagte "hallo" \\ und ging'
      TABBED: "a\\tb ] } , [ {"
      FILLER: "${'x'.repeat(2_000)}"
    command: ["sh", "-c", "echo \\"[}{],\\" && printf '%s\\\\n' fertig"]
`;
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('CoolifyClient.listServicesMapped (simulator)', () => {
  let t: SimWithClient;
  let reports: CoolifyResponseInfo[];
  beforeEach(async () => {
    t = await startSimWithClient({ sim: { lagMs: 0 } });
    reports = [];
    const { uuid: projectUuid } = await t.client.createProject({ name: 'stream', description: formatProjectMarker({ tenantId: 'ten1' }) });
    for (let i = 0; i < 40; i++) {
      await t.client.createService({
        name: `stack-${i}`,
        description: formatServiceMarker({ stackId: `s${i}`, tenantId: 'ten1' }),
        projectUuid,
        environmentName: 'production',
        serverUuid: t.sim.serverUuid,
        composeYaml: compose(i),
      });
    }
  });
  afterEach(async () => {
    await t.close();
    // Injected faults are off-spec on purpose; every other exchange is checked against the spec.
    expect(t.contractProblems()).toEqual([]);
  });

  const gets = () => t.sim.requestLog.filter((e) => e.method === 'GET' && e.path === '/api/v1/services').length;
  /** A client on the global fetch: the recording one reads each body whole before the client sees it. */
  const streamingClient = (overrides: Parameters<SimWithClient['newClient']>[0] = {}) =>
    t.newClient({ fetch, onResponse: (info) => reports.push(info), ...overrides });

  it('yields exactly what listServices yields, mapped', async () => {
    const listed = await t.client.listServices();
    expect(listed).toHaveLength(40);
    expect(listed[0]?.dockerComposeRaw).toContain('Grüße aus Köln, 日本語 und 🚀 Nummer 0');
    expect(await streamingClient().listServicesMapped((s) => s)).toEqual(listed);
    expect(await streamingClient().listServicesMapped((s) => s.uuid)).toEqual(listed.map((s) => s.uuid));
  });

  it('an answer cut off mid-body is retried, and the result lists each service once', async () => {
    const listed = await t.client.listServices();
    const before = gets();
    t.sim.faults.cutNext('GET services', 1, { afterBytes: 30_000 });
    const mapped: string[] = [];
    const result = await streamingClient().listServicesMapped((s) => {
      mapped.push(s.uuid);
      return s.uuid;
    });
    expect(result).toEqual(listed.map((s) => s.uuid));
    // The first attempt mapped part of the list before the cut; its results were dropped.
    expect(mapped.length).toBeGreaterThan(listed.length);
    expect(gets() - before).toBe(2);
    expect(reports.map((r) => r.status)).toEqual(['network', 200]);
  });

  it('a body that stalls past the per-attempt timeout is a timeout, retried while retries remain', async () => {
    t.sim.faults.cutNext('GET services', 1, { afterBytes: 10_000, stallMs: 2_000 });
    expect(await streamingClient({ timeoutMs: 300 }).listServicesMapped((s) => s.name)).toHaveLength(40);
    expect(reports.map((r) => r.status)).toEqual(['timeout', 200]);

    t.sim.faults.cutNext('GET services', 1, { afterBytes: 10_000, stallMs: 2_000 });
    const err = await caught(streamingClient({ timeoutMs: 300, maxRetries: 0 }).listServicesMapped((s) => s.name));
    expect(err).toMatchObject({ kind: 'timeout', message: 'Coolify GET services: no response within 300 ms' });
  });

  it('a body that is not a complete JSON array is invalid_response naming the route, not retried', async () => {
    const before = gets();
    t.sim.faults.malformedNext('GET services', 1);
    const err = await caught(streamingClient().listServicesMapped((s) => s));
    expect(err).toBeInstanceOf(CoolifyError);
    expect(err).toMatchObject({ kind: 'invalid_response', method: 'GET', path: 'services' });
    expect((err as Error).message).toBe('Coolify GET services returned an unexpected response: the body is not a JSON array');
    expect(gets() - before).toBe(1);
    expect(reports.map((r) => r.status)).toEqual([200]);
  });

  it('an element of the wrong shape is invalid_response naming the element and field', async () => {
    t.sim.faults.failNext('GET services', 1, { status: 200, body: [{ uuid: 'a', environment_id: 1, status: 'exited' }, { uuid: 42 }] });
    const err = await caught(t.client.listServicesMapped((s) => s));
    expect(err).toMatchObject({ kind: 'invalid_response', message: 'Coolify GET services returned an unexpected response: services[1].uuid is not a string' });
  });

  it('what map throws reaches the caller unchanged, and is not retried', async () => {
    const before = gets();
    const boom = new Error('map failed');
    const err = await caught(
      streamingClient().listServicesMapped((s: CoolifyService) => {
        if (s.name === 'stack-3') throw boom;
        return s;
      }),
    );
    expect(err).toBe(boom);
    expect(gets() - before).toBe(1);
    expect(reports.map((r) => r.status)).toEqual([200]);
  });

  it('5xx is retried like any idempotent GET', async () => {
    t.sim.faults.failNext('GET services', 2);
    expect(await streamingClient().listServicesMapped((s) => s.uuid)).toHaveLength(40);
    expect(reports.map((r) => r.status)).toEqual([500, 500, 200]);
  });

  it('the send gate stops the call before anything is sent', async () => {
    const before = gets();
    const refused = new Error('not leading');
    const client = streamingClient({
      beforeSend: () => {
        throw refused;
      },
    });
    expect(await caught(client.listServicesMapped((s) => s))).toBe(refused);
    expect(gets() - before).toBe(0);
  });
});
