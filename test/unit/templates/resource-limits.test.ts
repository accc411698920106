import { describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { hardenCompose, parseCpus, parseMemoryMb } from '../../../src/templates/harden-compose.js';
import { templateFromSources } from '../../../src/templates/template-catalog.js';

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
