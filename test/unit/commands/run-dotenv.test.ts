/**
 * `run` loads `.env` before reading the config: values come from the file, a variable already set
 * in the environment wins, and a missing file is not an error. `process.loadEnvFile` writes the
 * real process environment, which jest's sandbox does not show, so each case runs in a child
 * process of the compiled code (built by `npm test`'s pretest).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../../../src/pocketbase/server-process.js';

const dist = (...parts: string[]) => join(projectRoot(), 'dist', 'src', ...parts);

function runNode(args: string[], options: { cwd: string; env: Record<string, string> }): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: { PATH: process.env.PATH ?? '', ...options.env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('.env loading', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  async function dirWithEnv(text: string | undefined): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'cf-dotenv-'));
    dirs.push(dir);
    if (text !== undefined) await writeFile(join(dir, '.env'), text);
    return dir;
  }

  /** Calls loadDotEnv(path) in a fresh process and returns the named variables afterwards. */
  async function loadIn(dir: string, path: string, env: Record<string, string>, names: string[]): Promise<Record<string, string | null>> {
    const script = [
      `import { loadDotEnv } from ${JSON.stringify(pathToFileURL(dist('commands', 'run.js')).href)};`,
      `loadDotEnv(${JSON.stringify(path)});`,
      `const names = ${JSON.stringify(names)};`,
      'process.stdout.write(JSON.stringify(Object.fromEntries(names.map((n) => [n, process.env[n] ?? null]))));',
    ].join('\n');
    const { code, out } = await runNode(['--input-type=module', '-e', script], { cwd: dir, env });
    expect([code, out]).toEqual([0, expect.any(String)]);
    return JSON.parse(out) as Record<string, string | null>;
  }

  it('sets variables from the file and keeps the ones already in the environment', async () => {
    const dir = await dirWithEnv('# a comment\nFROM_FILE=from-file\nALREADY_SET=from-file\nQUOTED="two words"\n');
    const values = await loadIn(dir, join(dir, '.env'), { ALREADY_SET: 'from-environment' }, ['FROM_FILE', 'ALREADY_SET', 'QUOTED']);
    expect(values).toEqual({ FROM_FILE: 'from-file', ALREADY_SET: 'from-environment', QUOTED: 'two words' });
  });

  it('reads .env from the working directory by default, and a missing file is not an error', async () => {
    const withFile = await dirWithEnv('FROM_FILE=default-path\n');
    expect(await loadIn(withFile, '.env', {}, ['FROM_FILE'])).toEqual({ FROM_FILE: 'default-path' });
    const without = await dirWithEnv(undefined);
    expect(await loadIn(without, '.env', { KEPT: 'yes' }, ['FROM_FILE', 'KEPT'])).toEqual({ FROM_FILE: null, KEPT: 'yes' });
  });

  it('`run` reads its config from .env in the working directory, the environment winning', async () => {
    const dir = await dirWithEnv('RESYNC_INTERVAL_SECONDS=abc\nRECONCILE_CONCURRENCY=4\nLOG_LEVEL=bogus\n');
    const { code, out } = await runNode([dist('cli.js'), 'run'], { cwd: dir, env: { RECONCILE_CONCURRENCY: 'xyz', LOG_LEVEL: 'info' } });
    expect(code).toBe(2);
    // The file's malformed value is reported: it was loaded.
    expect(out).toContain('RESYNC_INTERVAL_SECONDS must be an integer');
    expect(out).toContain('"abc"');
    // The environment's values beat the file's, whether bad (reported) or good (the file's bad one is not).
    expect(out).toContain('RECONCILE_CONCURRENCY must be an integer between 1 and 64, got "xyz"');
    expect(out).not.toContain('LOG_LEVEL');
  });
});
