/**
 * `cf-reconciler demo`: the compiled CLI starts PocketBase from the pinned binary, the simulator and
 * the daemon, and prints the admin UI address and credentials. With `--exit-after-converge` it exits
 * 0 once the sample stack runs in Coolify; left running, the test itself checks the demo's own
 * simulator and PocketBase over HTTP.
 */
import { describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMarker } from '../../src/coolify/markers.js';
import { createPocketBaseClient } from '../../src/pocketbase/client.js';
import { projectRoot } from '../../src/pocketbase/server-process.js';
import { waitFor } from '../helpers/wait.js';

function spawnDemo(cwd: string, args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli.js'), 'demo', '--log-level', 'warn', ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => out, exited };
}

describe('npm run demo', () => {
  it('--exit-after-converge exits 0 only after the sample stack runs in Coolify, naming its service', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'cf-demo-test-'));
    try {
      const { output, exited } = spawnDemo(cwd, ['--exit-after-converge', '--timeout', '60']);
      const code = await exited;
      const out = output();
      expect(out).toMatch(/PocketBase admin UI : http:\/\/127\.0\.0\.1:\d+\/_\//);
      expect(out).toMatch(/password {12}: \S+/);
      const stackId = /sample stack {8}: stacks\/(\w+)/.exec(out)?.[1];
      expect(stackId).toBeDefined();
      expect(out).toMatch(new RegExp(`demo: Coolify service [a-z0-9]{24} of stacks/${stackId} is running`));
      expect(out).toContain('demo: the sample stack is running');
      expect(code).toBe(0);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  }, 90_000);

  it('runs the sample stack in its own simulator, as the test sees it over HTTP, and stops on SIGTERM', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'cf-demo-test-'));
    const { child, output, exited } = spawnDemo(cwd, []);
    try {
      await waitFor(() => output().includes('Press Ctrl-C to stop.'), 60_000, { what: 'the demo banner' });
      const out = output();
      const [, simUrl, token] = /Coolify simulator {3}: (http:\/\/127\.0\.0\.1:\d+)\/api\/v1 \(bearer token (\S+)\)/.exec(out) ?? [];
      const [, pbUrl] = /PocketBase admin UI : (http:\/\/127\.0\.0\.1:\d+)\/_\//.exec(out) ?? [];
      const [, email] = /login {15}: (\S+)/.exec(out) ?? [];
      const [, password] = /password {12}: (\S+)/.exec(out) ?? [];
      const [, stackId] = /sample stack {8}: stacks\/(\w+)/.exec(out) ?? [];
      if (!simUrl || !token || !pbUrl || !email || !password || !stackId) throw new Error(`banner incomplete:\n${out}`);

      const services = async () => {
        const res = await fetch(`${simUrl}/api/v1/services`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } });
        return (await res.json()) as { uuid: string; description: string | null; status: string }[];
      };
      const running = await waitFor(
        async () => (await services()).find((s) => parseMarker(s.description)?.stackId === stackId && s.status.startsWith('running')),
        60_000,
        { what: 'the sample stack running in the demo simulator' },
      );
      expect((await services()).filter((s) => parseMarker(s.description)?.stackId === stackId)).toHaveLength(1);
      const pb = createPocketBaseClient(pbUrl);
      await pb.collection('_superusers').authWithPassword(email, password);
      const record = await waitFor(async () => {
        const r = await pb.collection('stacks').getOne(stackId);
        return r.status === 'running' ? r : undefined;
      }, 30_000, { what: 'the sample stack record running' });
      expect(record.coolify_service_uuid).toBe(running.uuid);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(cwd, { recursive: true, force: true });
    }
  }, 120_000);
});
