/**
 * Starts the Coolify simulator and a real CoolifyClient pointed at it over loopback HTTP. Every
 * exchange of that client (and of clients made with `newClient`) is recorded, so a test suite can
 * check each one against the corrected OpenAPI spec (`contractProblems()` in an afterEach).
 */
import { systemClock, type Clock } from '../../src/clock.js';
import { CoolifyClient, type CoolifyClientOptions } from '../../src/coolify/client.js';
import { RateLimiter } from '../../src/coolify/rate-limiter.js';
import { startCoolifySim, type CoolifySim, type CoolifySimOptions } from '../../src/coolify-sim/index.js';
import { ContractValidator, recordingFetch, type Exchange } from '../contract/openapi.js';

export interface SimWithClient {
  sim: CoolifySim;
  client: CoolifyClient;
  limiter: RateLimiter;
  /** Exchanges recorded since the last `contractProblems()`. */
  exchanges: Exchange[];
  /** Another client on this simulator (same limiter, recorded); options override the defaults. */
  newClient(overrides?: Partial<CoolifyClientOptions>): CoolifyClient;
  /** What in the recorded exchanges contradicts the spec plus overlay, one line per problem; empties the record. */
  contractProblems(): string[];
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

/** Compiling the spec takes a while; one validator serves every simulator of a test file. */
let sharedValidator: ContractValidator | undefined;
function validator(): ContractValidator {
  sharedValidator ??= new ContractValidator();
  return sharedValidator;
}

export async function startSimWithClient(options: SimWithClientOptions = {}): Promise<SimWithClient> {
  const sim = await startCoolifySim({ lagMs: 20, ...options.sim });
  const clock = options.clock ?? systemClock;
  const limiter = new RateLimiter({ limit: options.limit ?? 600, windowMs: options.windowMs ?? 60_000, clock });
  const exchanges: Exchange[] = [];
  const newClient = (overrides: Partial<CoolifyClientOptions> = {}) =>
    new CoolifyClient({
      baseUrl: sim.url,
      token: sim.token,
      limiter,
      clock,
      timeoutMs: 5_000,
      deadlineMs: 20_000,
      fetch: recordingFetch(exchanges),
      ...options.client,
      ...overrides,
    });
  return {
    sim,
    client: newClient(),
    limiter,
    exchanges,
    newClient,
    contractProblems: () => {
      const problems = exchanges.flatMap((x) => validator().validate(x));
      exchanges.length = 0;
      return problems;
    },
    close: () => sim.close(),
  };
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
