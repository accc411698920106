import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { CoolifyClient, type CoolifyResponseInfo } from '../../../src/coolify/client.js';
import { startSimWithClient, type SimWithClient } from '../../helpers/coolify-sim.js';

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createTcpServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * `health()` answers "is Coolify up" as a boolean: false for an unreachable host, a silent one and
 * any answer other than 200 `OK`, never an exception (a probe has nothing else to report).
 */
describe('CoolifyClient.health (GET /api/health)', () => {
  let t: SimWithClient;
  beforeEach(async () => {
    t = await startSimWithClient({ client: { timeoutMs: 300 } });
  });
  afterEach(async () => {
    await t.close();
    expect(t.contractProblems()).toEqual([]);
  });

  const client = (baseUrl: string, onResponse?: (i: CoolifyResponseInfo) => void) =>
    t.newClient({ baseUrl, timeoutMs: 300, ...(onResponse ? { onResponse } : {}) });

  it('is true against a running simulator, outside the per-user throttle budget', async () => {
    // Held for a minute as after a 429: a probe that queued behind the limiter would not answer.
    t.limiter.pauseUntil(Date.now() + 60_000);
    const seen: string[] = [];
    expect(await client(t.sim.url, (i) => seen.push(`${i.method} ${i.route} ${i.status}`)).health()).toBe(true);
    expect(t.sim.requestLog.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual(['GET /api/health 200']);
    expect(seen).toEqual(['GET health 200']);
  });

  it('is false when nothing listens on the port', async () => {
    const seen: string[] = [];
    expect(await client(`http://127.0.0.1:${await closedPort()}`, (i) => seen.push(String(i.status))).health()).toBe(false);
    expect(seen).toEqual(['network']);
  });

  it('is false when the base URL points at something that is not Coolify (404)', async () => {
    expect(await client(`${t.sim.url}/not-coolify`).health()).toBe(false);
    expect(t.sim.requestLog.map((e) => `${e.path} ${e.status}`)).toEqual(['/not-coolify/api/health 404']);
  });

  it('is false when the host accepts the connection but never answers (timeout)', async () => {
    const sockets = new Set<Socket>();
    const silent = createTcpServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const seen: string[] = [];
      const { port } = silent.address() as AddressInfo;
      expect(await client(`http://127.0.0.1:${port}`, (i) => seen.push(String(i.status))).health()).toBe(false);
      expect(seen).toEqual(['timeout']);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('sends no token, and is false for a 200 whose body is not OK', async () => {
    const heard: IncomingHttpHeaders[] = [];
    const impostor = createHttpServer((req, res) => {
      heard.push(req.headers);
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>welcome</html>');
    });
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = impostor.address() as AddressInfo;
      const probe = new CoolifyClient({ baseUrl: `http://127.0.0.1:${port}`, token: '5|never-sent', limiter: t.limiter, timeoutMs: 300 });
      expect(await probe.health()).toBe(false);
      expect(heard).toHaveLength(1);
      expect(heard[0]?.authorization).toBeUndefined();
    } finally {
      impostor.closeAllConnections();
      await new Promise<void>((r) => impostor.close(() => r()));
    }
  });
});
