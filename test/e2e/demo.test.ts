/**
 * `cf-reconciler demo --exit-after-converge`: the compiled CLI starts PocketBase from the pinned
 * binary, the simulator and the daemon, prints the admin UI address and credentials, and exits 0
 * once the sample stack is running.
 */
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/pocketbase/server-process.js';

describe('npm run demo', () => {
  it('brings the sample stack to running and exits cleanly', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'cf-demo-test-'));
    try {
      const child = spawn(
        process.execPath,
        [join(projectRoot(), 'dist', 'src', 'cli.js'), 'demo', '--exit-after-converge', '--timeout', '60', '--log-level', 'warn'],
        { cwd, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(out).toMatch(/PocketBase admin UI : http:\/\/127\.0\.0\.1:\d+\/_\//);
      expect(out).toMatch(/password {12}: \S+/);
      expect(out).toContain('demo: the sample stack is running');
      expect(code).toBe(0);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  }, 90_000);
});
