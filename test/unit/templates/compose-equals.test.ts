import { beforeAll, describe, expect, it } from '@jest/globals';
import { dump, load } from 'js-yaml';
import { composeDigest, composeEquals } from '../../../src/templates/compose-equals.js';
import { decideStack } from '../../../src/templates/decide-stack.js';
import { input, loadFixtureCatalog } from './fixtures.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML in assertions

let ours: string;
beforeAll(async () => {
  const decision = decideStack(await loadFixtureCatalog(), input());
  if (decision.kind !== 'apply') throw new Error(decision.message);
  ours = decision.composeYaml;
});

/** What Coolify does to a stored compose: parse, rewrite container_name, default restart, re-dump. */
function asCoolifyStoresIt(text: string): string {
  const doc = load(text) as Doc;
  for (const [name, service] of Object.entries(doc.services as Record<string, Doc>)) {
    service.container_name = `${name}-k0s8w4gc4wkkg0wgsw4g0ks8`;
    service.restart ??= 'unless-stopped';
  }
  const reordered = Object.fromEntries(Object.entries(doc).reverse());
  return `# stored by Coolify\n${dump(reordered, { indent: 4, flowLevel: 3 })}`;
}

describe('composeEquals', () => {
  it('ignores formatting, comments, key order, container_name and a defaulted restart', () => {
    expect(composeEquals(ours, ours)).toBe(true);
    expect(composeEquals(ours, asCoolifyStoresIt(ours))).toBe(true);
    const noRestart = load(ours) as Doc;
    delete noRestart.services.app.restart;
    expect(composeEquals(dump(noRestart), asCoolifyStoresIt(dump(noRestart)))).toBe(true);
  });

  it('treats null, empty list and empty mapping alike (Symfony YAML prints [] as {})', () => {
    expect(composeEquals('services:\n  a:\n    image: x\nvolumes:\n  data:\n', 'services:\n  a:\n    image: x\nvolumes:\n  data: {}\n')).toBe(true);
    expect(composeEquals('services:\n  a:\n    image: x\n    tmpfs: []\n', 'services:\n  a:\n    image: x\n    tmpfs: {}\n')).toBe(true);
  });

  it('sees a hand edit in Coolify', () => {
    const edited = load(ours) as Doc;
    edited.services.app.privileged = true;
    expect(composeEquals(ours, dump(edited))).toBe(false);
    const env = load(ours) as Doc;
    env.services.app.environment.MAP_VALUE = 'changed';
    expect(composeEquals(ours, dump(env))).toBe(false);
    const restart = load(ours) as Doc;
    restart.services.app.restart = 'always';
    expect(composeEquals(ours, dump(restart))).toBe(false);
    const order = load(ours) as Doc;
    order.services.app.command.reverse();
    expect(composeEquals(ours, dump(order))).toBe(false);
  });

  it('equals nothing when a side does not parse', () => {
    expect(composeEquals(ours, 'services: [')).toBe(false);
    expect(composeEquals('services: [', 'services: [')).toBe(false);
  });
});

describe('composeDigest', () => {
  it('is equal exactly when composeEquals holds', () => {
    const edited = load(ours) as Doc;
    edited.services.app.privileged = true;
    const pairs: [string, string][] = [
      [ours, asCoolifyStoresIt(ours)],
      ['services:\n  a:\n    image: x\n    tmpfs: []\n', 'services:\n  a:\n    image: x\n    tmpfs: {}\n'],
      [ours, dump(edited)],
    ];
    for (const [a, b] of pairs) expect(composeDigest(a) === composeDigest(b)).toBe(composeEquals(a, b));
    expect(composeDigest('services: [')).toBeUndefined();
  });
});
