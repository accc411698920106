import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateTemplates } from '../../../src/commands/templates.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

async function run(dir: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await validateTemplates(dir, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('templates validate', () => {
  it('passes on the three shipped templates', async () => {
    const result = await run(`${root}templates`);
    expect(result.err).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.out.join('\n')).toMatch(/ok {3}base-llm 1\.1\.0/);
    expect(result.out.join('\n')).toMatch(/ok {3}openclaw-agent/);
    expect(result.out.join('\n')).toMatch(/ok {3}telegram-bot/);
  });

  describe('refuses a template that would be deployed with host access or a generated route', () => {
    let dir: string;
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    // Each template is otherwise valid; its one hazard is the line given.
    const HAZARDS: [string, string, RegExp][] = [
      ['one-part-volume', '    volumes:\n      - /var/run', /FAIL one-part-volume\/compose\.yaml: services\.app\.volumes\[0\]: a one-part volume '\/var\/run' is deployed by Coolify as a bind mount/],
      ['pid-default', '    pid: "${X:-host}"', /FAIL pid-default\/compose\.yaml: services\.app\.pid: \$\{X\} is not a secret param/],
      ['fqdn-key', '    environment:\n      SERVICE_FQDN_X: "1"', /FAIL fqdn-key\/compose\.yaml: services\.app\.environment\.SERVICE_FQDN_X: the environment key .* makes Coolify route this service under a generated host/],
      ['label-dollar', '    labels:\n      note: "costs 5$$"', /FAIL label-dollar\/compose\.yaml: services\.app\.labels\.note: a \$ in a label is interpolated by Compose/],
    ];

    it('one FAIL line per template, exit code 1', async () => {
      dir = await mkdtemp(join(tmpdir(), 'cf-templates-'));
      for (const [name, hazard] of HAZARDS) {
        await mkdir(join(dir, name));
        await writeFile(join(dir, name, 'template.yaml'), `name: ${name}\nversion: 1.0.0\ndescription: hazard\n`);
        await writeFile(join(dir, name, 'compose.yaml'), `services:\n  app:\n    image: alpine:3.20\n${hazard}\n`);
      }
      const result = await run(dir);
      expect(result.code).toBe(1);
      const err = result.err.join('\n');
      for (const [, , expected] of HAZARDS) expect(err).toMatch(expected);
      expect(result.out).toEqual([]);
      expect(err).toMatch(/4 problems in /);
    });
  });
});
