import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The standalone simulator as `npm run coolify-sim` runs it: the compiled command in a child
 * process (`npm test` builds dist/ first). It is mounted on a bare commander program here so the
 * test does not depend on how src/cli.ts wires its subcommands.
 */
function startStandalone(args: string[]) {
  const script = `
    import { Command } from 'commander';
    import { registerCoolifySimCommand } from './dist/src/commands/coolify-sim.js';
    const program = new Command().name('cf-reconciler');
    registerCoolifySimCommand(program);
    await program.parseAsync(process.argv);`;
  return spawn(process.execPath, ['--input-type=module', '-e', script, 'cf-reconciler', 'coolify-sim', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('standalone coolify-sim command', () => {
  it('prints {url, serverUuid, destinationUuid, token} first, serves the API on 127.0.0.1, exits 0 on SIGTERM', async () => {
    const child = startStandalone(['--port', '0', '--lag-ms', '0']);
    try {
      const lines = createInterface({ input: child.stdout });
      const [first] = (await once(lines, 'line')) as [string];
      const banner = JSON.parse(first) as { url: string; serverUuid: string; destinationUuid: string; token: string };
      expect(banner.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(banner.serverUuid).toMatch(/^[a-z0-9]{24}$/);
      expect(banner.destinationUuid).toMatch(/^[a-z0-9]{24}$/);
      expect(banner.token).toMatch(/^1\|/);
      const res = await fetch(`${banner.url}/api/v1/servers`, { headers: { Authorization: `Bearer ${banner.token}`, Accept: 'application/json' } });
      expect(((await res.json()) as { uuid: string }[]).map((s) => s.uuid)).toEqual([banner.serverUuid]);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('uses a given token and does not echo it', async () => {
    const child = startStandalone(['--token', '7|given-token', '--rate-limit', '5']);
    try {
      const [first] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const banner = JSON.parse(first) as Record<string, string>;
      expect(banner).not.toHaveProperty('token');
      const ok = await fetch(`${banner.url}/api/v1/projects`, { headers: { Authorization: 'Bearer 7|given-token', Accept: 'application/json' } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-ratelimit-limit')).toBe('5');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('rejects a bad option with a clear message', async () => {
    const child = startStandalone(['--rate-limit', '0']);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(stderr).toContain('--rate-limit must be an integer >= 1');
  });
});
