/**
 * Property: whatever string a param holds, the rendered compose has exactly the structure it has
 * with a plain value, and the container receives the string unchanged.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { decideStack } from '../../../src/templates/decide-stack.js';
import type { TemplateCatalog } from '../../../src/templates/template-catalog.js';
import type { StackDecision } from '../../../src/templates/types.js';
import { composeInterpolated, input, loadFixtureCatalog, PROBE_SECRET, stack } from './fixtures.js';

/** mulberry32: small, seeded, good enough to spread cases; the seed makes failures reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FRAGMENTS = [
  '{{', '}}', '{{params.VALUE}}', '{{tenant.slug}}', '${', '}', '$', '$$', '${CLOUDFREEDOM_API_KEY}', '$PROBE_SECRET',
  '&a', '*a', '!!str', '!', '%YAML', '---', '...', '#', ': ', '- ', '? ', '|', '>', '[', ']', '{', '}', ',', '"', "'", '\\',
  '\n', '\r', '\t', '\v', '\f', '\b', '\u0001', '\u001b', '\u007f', '\u0085', '\u00a0', '\u2028', '\u2029', '\ufeff',
  'privileged: true', '\n  x: 1', 'true', 'no', '~', 'null', '0x1F', '0o17', '1e3', '2001-12-14', '<<', '  ',
  'é', 'ß', '中文', '😀', '\u{1F600}\u200d', 'a', 'Z', '0', '9', '_', '-', '.', '/', ':', '@', '=',
];

function randomValue(next: () => number): string {
  const parts: string[] = [];
  const length = Math.floor(next() * 12);
  for (let i = 0; i < length; i++) {
    if (next() < 0.7) parts.push(FRAGMENTS[Math.floor(next() * FRAGMENTS.length)]!);
    else {
      // any BMP code point outside the surrogate range, NUL excluded (refused as a param value)
      let code = 1 + Math.floor(next() * 0xfffe);
      if (code >= 0xd800 && code <= 0xdfff) code -= 0x800;
      parts.push(String.fromCharCode(code));
    }
  }
  return parts.join('');
}

function replaceDeep(node: unknown, from: string, to: (s: string) => string): unknown {
  if (typeof node === 'string') return node.split(from).join(to(from));
  if (Array.isArray(node)) return node.map((n) => replaceDeep(n, from, to));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, replaceDeep(v, from, to)]));
  }
  return node;
}

const SENTINEL = 'S3NT1NEL';

function render(catalog: TemplateCatalog, value: string): StackDecision {
  return decideStack(catalog, input({ stack: stack({ params: { VALUE: value, PROBE_SECRET } }) }));
}

let catalog: TemplateCatalog;
let plainDoc: unknown;
beforeAll(async () => {
  catalog = await loadFixtureCatalog();
  const plain = render(catalog, SENTINEL);
  if (plain.kind !== 'apply') throw new Error(plain.message);
  plainDoc = load(plain.composeYaml);
});

describe('rendering random strings', () => {
  const SEED = 20261126;
  const RUNS = 300;

  it(`keeps the structure and the value for ${RUNS} random strings (seed ${SEED})`, () => {
    const next = prng(SEED);
    for (let run = 0; run < RUNS; run++) {
      const value = randomValue(next);
      const decision = render(catalog, value);
      if (decision.kind !== 'apply') throw new Error(`run ${run}: refused ${JSON.stringify(value)}: ${decision.message}`);
      const doc = load(decision.composeYaml) as { services: { app: { environment: Record<string, string> } } };
      // Same tree as the plain render, with the sentinel replaced by the Compose-escaped value.
      const expected = replaceDeep(plainDoc, SENTINEL, () => value.replace(/\$/g, '$$$$'));
      expect({ run, value, doc }).toEqual({ run, value, doc: expected });
      expect(composeInterpolated(doc.services.app.environment.MAP_VALUE!)).toBe(value);
      expect(decision.composeYaml).not.toContain(PROBE_SECRET);
    }
  });

  it('refuses the two strings no container can receive, without quoting them', () => {
    for (const value of ['nul\u0000byte', 'lone\udc00surrogate']) {
      const decision = render(catalog, value);
      expect(decision).toEqual({ kind: 'error', message: 'param VALUE contains a NUL character or invalid Unicode' });
    }
  });
});
