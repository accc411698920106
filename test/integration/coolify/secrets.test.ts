import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import winston from 'winston';
import Transport from 'winston-transport';
import { systemClock } from '../../../src/clock.js';
import { CoolifyClient } from '../../../src/coolify/client.js';
import { RateLimiter } from '../../../src/coolify/rate-limiter.js';
import { createLogger } from '../../../src/logging/logger.js';
import { Redactor } from '../../../src/logging/redactor.js';
import { startSimWithClient, type SimWithClient } from '../../helpers/coolify-sim.js';

class Capture extends Transport {
  lines: string[] = [];
  override log(info: Record<symbol | string, unknown>, next: () => void): void {
    this.lines.push(String(info[Symbol.for('message')]));
    next();
  }
}

const TOKEN = '42|s3cr3t-TOKEN-value-that-must-never-leak';

describe('the Coolify token never appears in errors or logs', () => {
  let t: SimWithClient;
  beforeEach(async () => {
    t = await startSimWithClient({ sim: { token: TOKEN } });
  });
  afterEach(async () => {
    await t.close();
  });

  it('across every failure path, even with an empty redactor', async () => {
    const capture = new Capture();
    // Nothing registered: the client itself must not put the token anywhere.
    const logger = createLogger({ level: 'debug', redactor: new Redactor(), transports: [capture as winston.transport] });
    const client = new CoolifyClient({ baseUrl: t.sim.url, token: TOKEN, limiter: t.limiter, logger, timeoutMs: 200, maxRetries: 1 });
    const wrongToken = new CoolifyClient({ baseUrl: t.sim.url, token: `${TOKEN}x`, limiter: t.limiter, logger });
    // Its own limiter: the 120 s pause of its 429 must not hold the other calls.
    const limited = new CoolifyClient({
      baseUrl: t.sim.url, token: TOKEN, logger, deadlineMs: 1_000,
      limiter: new RateLimiter({ limit: 10, clock: systemClock }),
    });

    t.sim.faults.failNext('GET projects', 5);
    t.sim.faults.delayNext('GET services', 1_000, 5);
    t.sim.faults.dropNext('GET servers', 5);
    t.sim.faults.malformedNext('GET version', 1);
    const attempts = [
      client.listProjects(),
      client.listServices(),
      client.listServers(),
      client.version(),
      client.getService('nope'),
      client.createProject({ name: 'x', description: 'bad: colon' }),
      wrongToken.listProjects(),
    ];
    const errors = (await Promise.allSettled(attempts)).map((r) => (r.status === 'rejected' ? r.reason : undefined));
    t.sim.faults.rateLimitNext(1, 120);
    errors.push(await limited.createProject({ name: 'xyz', description: '' }).catch((e: unknown) => e));
    expect(errors.every((e) => e instanceof Error)).toBe(true);

    const secretPart = TOKEN.split('|')[1] ?? '';
    const rendered = [
      ...errors.flatMap((e: Error) => [e.message, e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 8, showHidden: true })]),
      ...capture.lines,
    ].join('\n');
    expect(capture.lines.length).toBeGreaterThan(5);
    expect(rendered).not.toContain(secretPart);
    expect(rendered).not.toContain('Bearer');
  });
});
