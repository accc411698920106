/**
 * Properties over random tenant values:
 * - whatever string a param holds, the decision either refuses it naming the param (never quoting
 *   it), or the rendered compose has exactly the structure it has with a plain value and the
 *   container receives the string unchanged;
 * - through every shipped template, the deployed form per the model (deployed-form.ts) has no host
 *   mount, no host namespace, no shared- or magic-variable reference, no interpolation the policy
 *   has not judged, and every container has pids_limit and memswap_limit.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { decideStack } from '../../../src/templates/decide-stack.js';
import { modelDeployment } from '../../../src/templates/deployed-form.js';
import type { TemplateCatalog } from '../../../src/templates/template-catalog.js';
import type { StackApply, StackDecision } from '../../../src/templates/types.js';
import { composeInterpolated, input, loadFixtureCatalog, loadShippedCatalog, PROBE_SECRET, stack, tenant } from './fixtures.js';

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
  '{{team.', '{{ team.OPERATOR_SECRET }}', '{{server.', '{{ project.', '{{environment.X}}', 'team.X}}', '{', '{{{',
  '$SERVICE_URL_BOT', '${SERVICE_FQDN_BOT_8080}', 'SERVICE_URL_', '$$SERVICE_URL_APP', '${X:-host}', '${X-${Y:-host}}', '$HOME',
  "a' FOO=bar", '[1]', '{"a":1}', '/var/run', '../', '~/',
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

/** A refusal names the param and one of the policy's reasons, and never quotes the value. */
const REASONS = /shared-variable|magic variable|read by Coolify as a variable reference|label is interpolated|\.env|reads as a reference|NUL character|does not match the pattern|is required/;

function expectRefusal(decision: StackDecision, who: RegExp, value: string): void {
  if (decision.kind !== 'error') throw new Error('expected a refusal');
  expect(decision.message).toMatch(who);
  expect(decision.message).toMatch(REASONS);
  if (value.length >= 12) expect(decision.message).not.toContain(value);
}

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

  it(`keeps the structure and the value, or refuses naming the param, for ${RUNS} random strings (seed ${SEED})`, () => {
    const next = prng(SEED);
    let accepted = 0;
    for (let run = 0; run < RUNS; run++) {
      const value = randomValue(next);
      const decision = render(catalog, value);
      if (decision.kind !== 'apply') {
        expectRefusal(decision, /param VALUE/, value);
        // Only values that would reach Coolify's or Compose's rewrites are refused.
        expect(/\{\{|\$/.test(value)).toBe(true);
        continue;
      }
      accepted++;
      const doc = load(decision.composeYaml) as { services: { app: { environment: Record<string, string> } } };
      // Same tree as the plain render, with the sentinel replaced by the Compose-escaped value.
      const expected = replaceDeep(plainDoc, SENTINEL, () => value.replace(/\$/g, '$$$$'));
      expect({ run, value, doc }).toEqual({ run, value, doc: expected });
      expect(composeInterpolated(doc.services.app.environment.MAP_VALUE!)).toBe(value);
      expect(decision.composeYaml).not.toContain(PROBE_SECRET);
    }
    // Both branches are exercised: the fragments make roughly half the values hazardous.
    expect(accepted).toBeGreaterThan(RUNS / 5);
    expect(accepted).toBeLessThan(RUNS - RUNS / 10);
  });

  it('refuses the two strings no container can receive, without quoting them', () => {
    for (const value of ['nul\u0000byte', 'lone\udc00surrogate']) {
      const decision = render(catalog, value);
      expect(decision).toEqual({ kind: 'error', message: 'param VALUE contains a NUL character or invalid Unicode' });
    }
  });
});

// ── The deployed form of every shipped template ──

const SHARED_SHAPE = /\{\{\s*(team|project|environment|server)\s*\./i;
/** Coolify's magic-variable scan (hazards §3), case-insensitive. */
const MAGIC_SCAN = /\$\{?SERVICE_(URL|FQDN)_/i;

/** Sample params per shipped template; the param under test is replaced by a random value. */
const SHIPPED_PARAMS: Record<string, Record<string, unknown>> = {
  'telegram-bot': { TELEGRAM_BOT_TOKEN: '123456789:AAHexampleexampleexampleexample12345' },
  'openclaw-agent': { AUTH_PASSWORD: 'correct-horse-battery', OPENCLAW_GATEWAY_TOKEN: '0123456789abcdef0123456789abcdef' },
  'base-llm': { LITELLM_MASTER_KEY: 'sk-sample0123456789abcdef' },
};

function walk(node: unknown, visit: (text: string, inEnv: boolean) => void, inEnv = false): void {
  if (typeof node === 'string') visit(node, inEnv);
  else if (Array.isArray(node)) node.forEach((n) => walk(n, visit, inEnv));
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) walk(v, visit, inEnv || k === 'environment');
  }
}

/** The deployed-form properties, checked on the model and, independently, on the compose text. */
function expectSafeDeployment(decision: StackApply): void {
  const compose = load(decision.composeYaml) as Record<string, unknown>;
  const deployed = modelDeployment(compose, decision.env);
  expect(deployed.findings).toEqual([]);
  const envKeys = new Set(decision.env.map((e) => e.key));
  for (const c of deployed.containers) {
    expect(c.mounts.filter((m) => m.type === 'bind')).toEqual([]);
    for (const ns of [c.pid, c.ipc, c.networkMode]) expect(ns === 'host' || (ns ?? '').startsWith('container:')).toBe(false);
    expect(typeof c.pidsLimit === 'number' && Number.isInteger(c.pidsLimit) && c.pidsLimit > 0).toBe(true);
    expect(c.memswapLimit).toBe(c.memLimit);
    for (const [key, value] of c.environment) {
      expect(key).not.toMatch(/^SERVICE_(URL|FQDN)_/i);
      expect(value).not.toMatch(SHARED_SHAPE);
    }
  }
  walk(compose, (text, inEnv) => {
    expect(text).not.toMatch(SHARED_SHAPE);
    expect(text).not.toMatch(MAGIC_SCAN);
    if (inEnv) expect(text.includes('{{')).toBe(false);
    // Judged interpolation only: after Compose's `$$`, a `$` may only start `${NAME}` of a variable
    // the daemon sets, and only in an environment value.
    const rest = text.replace(/\$\$/g, '').replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (ref, name: string) => (inEnv && envKeys.has(name) ? '' : ref));
    expect(rest.includes('$')).toBe(false);
  });
  for (const e of decision.env) {
    expect(e.value.includes("'") || e.value.startsWith('$') || e.value.includes('{{') || /[\r\n]/.test(e.value)).toBe(false);
  }
}

describe('the deployed form of every shipped template under random tenant values', () => {
  const SEED = 20261204;
  const RUNS = 150;
  let shipped: TemplateCatalog;
  beforeAll(async () => {
    shipped = await loadShippedCatalog();
  });

  it(`has no host access, shared or magic variable, or unjudged interpolation (${RUNS} runs per string param, seed ${SEED})`, () => {
    const next = prng(SEED);
    let accepted = 0;
    let refused = 0;
    expect(shipped.names()).toEqual(['base-llm', 'openclaw-agent', 'telegram-bot']);
    for (const name of shipped.names()) {
      const template = shipped.get(name)!;
      const targets = [...template.params.filter((p) => p.type === 'string').map((p) => p.name), 'router_api_key'];
      for (const target of targets) {
        for (let run = 0; run < RUNS; run++) {
          // Long enough for AUTH_PASSWORD's 12-character minimum most of the time.
          const value = `${randomValue(next)}${next() < 0.5 ? 'padding-text' : ''}`;
          const params = { ...SHIPPED_PARAMS[name], ...(target === 'router_api_key' ? {} : { [target]: value }) };
          const decision = decideStack(
            shipped,
            input({
              tenant: tenant(target === 'router_api_key' ? { routerApiKey: value } : {}),
              stack: stack({ template: name, params }),
            }),
          );
          if (decision.kind === 'error') {
            refused++;
            expectRefusal(decision, target === 'router_api_key' ? /the tenant's router_api_key/ : new RegExp(`param ${target}\\b`), value);
          } else {
            accepted++;
            expectSafeDeployment(decision);
          }
        }
      }
    }
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});
