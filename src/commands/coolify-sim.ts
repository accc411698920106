import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { Ability } from '../coolify-sim/auth.js';
import { startCoolifySim } from '../coolify-sim/index.js';

const ABILITIES: readonly Ability[] = ['read', 'write', 'write:sensitive', 'deploy', 'read:sensitive', 'root'];

function integer(label: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${label} must be an integer >= ${min}`);
    return n;
  };
}

function abilities(value: string): Ability[] {
  const list = value.split(',').map((a) => a.trim()).filter(Boolean);
  for (const a of list) {
    if (!ABILITIES.includes(a as Ability)) throw new InvalidArgumentError(`unknown ability ${a}; known: ${ABILITIES.join(', ')}`);
  }
  return list as Ability[];
}

/**
 * `cf-reconciler coolify-sim`: the simulator as a standalone process for demos and manual testing.
 * The first stdout line is JSON `{url, serverUuid, destinationUuid, token?}` (the token only when it
 * was generated, since the caller already knows one it passed); the process runs until SIGINT/SIGTERM.
 */
export function registerCoolifySimCommand(program: Command): void {
  program
    .command('coolify-sim')
    .description('run the Coolify API simulator on 127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', integer('--port', 0), 0)
    .option('--token <token>', 'bearer token to accept (default: a generated one, printed)')
    .option('--abilities <list>', 'comma-separated abilities of the token', abilities, ['root'] as Ability[])
    .option('--lag-ms <ms>', 'delay of queued jobs (start, stop, delete)', integer('--lag-ms', 0), 500)
    .option('--rate-limit <n>', 'requests per minute per user', integer('--rate-limit', 1), 200)
    .option('--destinations <n>', 'destinations on the server', integer('--destinations', 1), 1)
    .action(async (opts: { port: number; token?: string; abilities: Ability[]; lagMs: number; rateLimit: number; destinations: number }) => {
      const sim = await startCoolifySim({
        port: opts.port,
        abilities: opts.abilities,
        lagMs: opts.lagMs,
        rateLimit: { limit: opts.rateLimit },
        destinations: opts.destinations,
        // Nobody reads the log of a standalone sim; keep memory flat over a long demo.
        requestLogLimit: 10_000,
        ...(opts.token ? { token: opts.token } : {}),
      });
      const banner: Record<string, string> = { url: sim.url, serverUuid: sim.serverUuid, destinationUuid: sim.destinationUuid };
      if (!opts.token) banner.token = sim.token;
      process.stdout.write(`${JSON.stringify(banner)}\n`);
      const stop = () => {
        void sim.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
