import { describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The README's "A session by hand" block, run as written with bash against the standalone
 * simulator (the compiled CLI, on a free port instead of 8787). A trailing comment on a command is
 * the output it must print; a parenthesised note at the end of the comment is commentary, not
 * output. Lines without such a comment (assignments, narration) run but are not compared.
 */
const README_PORT = '127.0.0.1:8787';

function sessionBlock(): string {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const at = readme.indexOf('A session by hand');
  if (at < 0) throw new Error('README.md has no "A session by hand" section');
  const open = readme.indexOf('```sh\n', at);
  const close = readme.indexOf('\n```', open + 6);
  if (open < 0 || close < 0) throw new Error('README.md: no ```sh block after "A session by hand"');
  return readme.slice(open + 6, close + 1);
}

interface Check {
  line: string;
  expected: string;
}

/** Wraps each command that has an expected-output comment in numbered markers on stdout. */
function instrument(block: string): { script: string; checks: Check[] } {
  const lines = block.split('\n');
  const checks: Check[] = [];
  const before = new Map<number, number>();
  const after = new Map<number, number>();
  lines.forEach((line, i) => {
    if (line.trimStart().startsWith('#')) return;
    const m = /^(.*\S)\s{2,}#\s+(.+?)\s*$/.exec(line);
    if (!m?.[2]) return;
    let start = i;
    while (start > 0 && (lines[start - 1] ?? '').endsWith('\\')) start--;
    before.set(start, checks.length);
    after.set(i, checks.length);
    checks.push({ line: line.trim(), expected: m[2].replace(/\s*\([^)]*\)$/, '') });
  });
  const out: string[] = [];
  lines.forEach((line, i) => {
    const n = before.get(i);
    if (n !== undefined) out.push(`printf '\\n@@check ${n}@@\\n'`);
    out.push(line);
    if (after.has(i)) out.push(`printf '\\n@@end@@\\n'`);
  });
  return { script: out.join('\n'), checks };
}

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

const block = sessionBlock();
// jq is needed only while the block pipes into it; a block that parses JSON with node runs anywhere.
const missing = ['bash', 'curl', ...(/\|\s*jq\b/.test(block) ? ['jq'] : [])].filter((c) => !has(c));
const runIt = missing.length === 0 ? it : it.skip;
const skipped = missing.length === 0 ? '' : ` (skipped: ${missing.join(', ')} not installed)`;

describe('README curl session against the standalone simulator', () => {
  runIt(`prints every output its comments promise${skipped}`, async () => {
    const sim = spawn(process.execPath, ['dist/src/cli.js', 'coolify-sim', '--port', '0', '--token', '1|dev-token'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [banner] = (await once(createInterface({ input: sim.stdout }), 'line')) as [string];
      const { url } = JSON.parse(banner) as { url: string };
      expect(block.split(README_PORT)).toHaveLength(2);
      const { script, checks } = instrument(block.replace(README_PORT, new URL(url).host));
      // Fewer would mean the comment convention drifted and most of the session went unchecked.
      expect(checks.length).toBeGreaterThanOrEqual(12);

      const shell = spawn('bash', ['-c', script], {
        // The session may use node (it is what runs this project); put this one first on PATH.
        env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      shell.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      shell.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      await once(shell, 'close');

      const seen = checks.map((c, n) => {
        const segment = new RegExp(`@@check ${n}@@\\n([\\s\\S]*?)\\n@@end@@`).exec(stdout);
        return { command: c.line, output: segment?.[1]?.trim() ?? '<no output captured>' };
      });
      expect({ stderr, seen }).toEqual({ stderr: '', seen: checks.map((c) => ({ command: c.line, output: c.expected })) });
    } finally {
      sim.kill('SIGTERM');
      if (sim.exitCode === null) await once(sim, 'exit');
    }
  }, 30_000);
});
