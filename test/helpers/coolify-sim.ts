/**
 * Starts the Coolify simulator and a real CoolifyClient pointed at it over loopback HTTP.
 */
import { systemClock, type Clock } from '../../src/clock.js';
import { CoolifyClient, type CoolifyClientOptions } from '../../src/coolify/client.js';
import { RateLimiter } from '../../src/coolify/rate-limiter.js';
import { startCoolifySim, type CoolifySim, type CoolifySimOptions } from '../../src/coolify-sim/index.js';

export interface SimWithClient {
  sim: CoolifySim;
  client: CoolifyClient;
  limiter: RateLimiter;
  close(): Promise<void>;
}

export interface SimWithClientOptions {
  sim?: CoolifySimOptions;
  client?: Partial<Omit<CoolifyClientOptions, 'baseUrl' | 'limiter'>>;
  /** Client-side limit per window; default 600 so ordinary tests never wait on it. */
  limit?: number;
  windowMs?: number;
  clock?: Clock;
}

export async function startSimWithClient(options: SimWithClientOptions = {}): Promise<SimWithClient> {
  const sim = await startCoolifySim({ lagMs: 20, ...options.sim });
  const clock = options.clock ?? systemClock;
  const limiter = new RateLimiter({ limit: options.limit ?? 600, windowMs: options.windowMs ?? 60_000, clock });
  const client = new CoolifyClient({
    baseUrl: sim.url,
    token: sim.token,
    limiter,
    clock,
    timeoutMs: 5_000,
    deadlineMs: 20_000,
    ...options.client,
  });
  return { sim, client, limiter, close: () => sim.close() };
}

/** A small valid compose file. */
export const SIMPLE_COMPOSE = `services:
  web:
    image: nginx:alpine
    environment:
      GREETING: hello
`;

/** Polls `check` until it returns a value other than undefined, on real time. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
