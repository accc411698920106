import { describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { hardenCompose, parseCpus, parseMemoryMb } from '../../../src/templates/harden-compose.js';
import { decideStack } from '../../../src/templates/decide-stack.js';
import { templateFromSources } from '../../../src/templates/template-catalog.js';
import { parsePlan } from '../../../src/pocketbase/records.js';
import { input, loadShippedCatalog, plan, stack } from './fixtures.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML in assertions

describe('compose resource units', () => {
  it.each([
    [536870912, 512],
    ['512m', 512],
    ['512M', 512],
    ['512MiB', 512],
    ['1g', 1024],
    ['1.5G', 1536],
    ['2048k', 2],
    ['1048576b', 1],
  ])('memory %p is %p MiB', (value, mb) => {
    expect(parseMemoryMb(value)).toBe(mb);
  });

  it.each([['lots'], [-1], ['0'], [''], [null], ['12q']])('memory %p is refused', (value) => {
    expect(parseMemoryMb(value)).toBeUndefined();
  });

  it('reads CPU counts as numbers or numeric strings', () => {
    expect(parseCpus(0.5)).toBe(0.5);
    expect(parseCpus('1.25')).toBe(1.25);
    expect(parseCpus('0')).toBeUndefined();
    expect(parseCpus('half')).toBeUndefined();
  });
});

describe('limits written into the compose', () => {
  const manifest = 'name: t\nversion: 1.0.0\ndescription: t\nresources:\n  a: { memory_mb: 900 }\n';
  const compose = 'services:\n  a:\n    image: alpine:3.20\n    mem_limit: 1g\n    cpus: 4\n  b:\n    image: alpine:3.20\n    deploy:\n      resources:\n        limits: { memory: 300M }\n      restart_policy: { condition: on-failure }\n';
  const template = templateFromSources('t', manifest, compose).template!;

  function harden(cpus: number, memoryMb: number): Doc {
    const result = hardenCompose(template.compose, { template, ceiling: { cpus, memoryMb, pids: 512 }, labels: { tenant: 'x', stack: 'y', template: 't' } });
    expect(result.problems).toEqual([]);
    return load(JSON.stringify(result.compose)) as Doc;
  }

  it('never exceeds the plan ceiling and keeps both limit forms equal', () => {
    const doc = harden(0.75, 512);
    expect(doc.services.a).toMatchObject({ cpus: 0.75, mem_limit: '512m', deploy: { resources: { limits: { cpus: '0.75', memory: '512M' } } } });
    expect(doc.services.b).toMatchObject({ cpus: 0.75, mem_limit: '300m' });
    expect(doc.services.b.deploy.restart_policy).toEqual({ condition: 'on-failure' });
  });

  it('keeps the lower template default and compose values under a generous plan', () => {
    const doc = harden(8, 4096);
    expect(doc.services.a.mem_limit).toBe('900m');
    expect(doc.services.a.cpus).toBe(4);
    expect(doc.services.b.mem_limit).toBe('300m');
    expect(doc.services.b.cpus).toBe(8);
  });

  it('rounds CPU shares down so a third of a core stays under the ceiling', () => {
    expect(harden(1 / 3, 512).services.a.cpus).toBe(0.333);
  });

  it('refuses a memory ceiling below what Docker can run', () => {
    const result = hardenCompose(template.compose, { template, ceiling: { cpus: 1, memoryMb: 4, pids: 512 }, labels: { tenant: 'x', stack: 'y', template: 't' } });
    expect(result.problems).toContain("services.a: memory limit 4 MiB is below Docker's minimum of 6 MiB");
  });
});

describe('process and swap limits on every container', () => {
  const PARAMS: Record<string, Record<string, unknown>> = {
    'telegram-bot': { TELEGRAM_BOT_TOKEN: '123456789:AAHexampleexampleexampleexample12345' },
    'openclaw-agent': { AUTH_PASSWORD: 'correct-horse-battery', OPENCLAW_GATEWAY_TOKEN: '0123456789abcdef0123456789abcdef' },
    'base-llm': { LITELLM_MASTER_KEY: 'sk-sample0123456789abcdef' },
  };

  async function services(template: string, pidsLimit: number): Promise<Doc[]> {
    const decision = decideStack(await loadShippedCatalog(), input({ plan: plan({ pidsLimit }), stack: stack({ template, params: PARAMS[template] }) }));
    if (decision.kind !== 'apply') throw new Error(decision.message);
    return Object.values((load(decision.composeYaml) as Doc).services);
  }

  it.each(Object.keys(PARAMS))('%s: the plan\'s pids_limit (empty: 512) and memswap_limit equal to the memory limit', async (template) => {
    for (const [pids, expected] of [[0, 512], [64, 64], [4096, 4096]]) {
      for (const svc of await services(template, pids!)) {
        expect(svc.pids_limit).toBe(expected);
        expect(svc.memswap_limit).toBe(svc.mem_limit);
        expect(svc.deploy.resources.limits.memory.toLowerCase()).toBe(svc.mem_limit);
      }
    }
  });

  it('reads pids_limit from the plan record: empty is 0, a negative or fractional value is a problem', () => {
    const base = { id: 'p1', name: 'starter', max_stacks: 1, cpu_limit: 1, memory_mb: 256, allowed_templates: [], created: '2026-01-01 00:00:00.000Z', updated: '2026-01-01 00:00:00.000Z' };
    expect(parsePlan(base)).toMatchObject({ pidsLimit: 0, problems: [] });
    expect(parsePlan({ ...base, pids_limit: 0 })).toMatchObject({ pidsLimit: 0, problems: [] });
    expect(parsePlan({ ...base, pids_limit: 200 })).toMatchObject({ pidsLimit: 200, problems: [] });
    expect(parsePlan({ ...base, pids_limit: -1 }).problems).toEqual([expect.stringMatching(/^field pids_limit must be a whole number >= 0/)]);
    expect(parsePlan({ ...base, pids_limit: 1.5 }).problems).toEqual([expect.stringMatching(/^field pids_limit must be a whole number >= 0/)]);
  });
});
