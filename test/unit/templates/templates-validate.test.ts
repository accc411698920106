import { describe, expect, it } from '@jest/globals';
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
});
