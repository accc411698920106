/**
 * The decision cache never serves a stale decision: whatever input of `decideStack` changes (any
 * field of the stack, tenant or plan records, the tenant's other stacks, host owners, settings,
 * the template), a changed decision comes with a changed key, and the cache then decides again.
 * Renders are counted through the policy port the cache is given.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { DecisionCache, type DecisionSummary } from '../../../src/engine/decision-cache.js';
import { envFingerprint } from '../../../src/engine/env-check.js';
import { catalogPolicy } from '../../../src/engine/policy.js';
import type { PolicyPort } from '../../../src/engine/ports.js';
import type { Plan, Stack, Tenant } from '../../../src/pocketbase/types.js';
import type { TemplateDefinition } from '../../../src/templates/template-definition.js';
import type { TemplateCatalog } from '../../../src/templates/template-catalog.js';
import type { StackDecisionInput } from '../../../src/templates/types.js';
import { input, loadFixtureCatalog, plan, stack, tenant } from '../templates/fixtures.js';

/** The policy with its decisions counted. */
function counting(policy: PolicyPort): { policy: PolicyPort; decisions: () => number } {
  let n = 0;
  return {
    policy: {
      ...policy,
      decide: (i) => {
        n++;
        return policy.decide(i);
      },
    },
    decisions: () => n,
  };
}

/** What the cache should hold for a decision made now, from scratch. */
function fresh(policy: PolicyPort, i: StackDecisionInput): DecisionSummary {
  const d = policy.decide(i);
  return d.kind === 'error'
    ? { kind: 'error', message: d.message }
    : { kind: 'apply', hash: d.hash, composeDigest: policy.composeDigest(d.composeYaml), env: envFingerprint(d.env) };
}

const summaryOf = (s: DecisionSummary): DecisionSummary =>
  s.kind === 'error' ? { kind: 'error', message: s.message } : { kind: 'apply', hash: s.hash, composeDigest: s.composeDigest, env: s.env };

/** A different value of the same shape, for any record field. */
function otherValue(value: unknown): unknown[] {
  if (typeof value === 'string') return [`${value}x`, '', value.toUpperCase(), ` ${value}`];
  if (typeof value === 'number') return [value + 1, 0, value * 1000];
  if (typeof value === 'boolean') return [!value];
  if (value === null) return [1];
  if (Array.isArray(value)) return [[], [...value, 'x'], value.slice(1), ['broken']];
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return [{}, ...Object.keys(o).flatMap((k) => otherValue(o[k]).map((v) => ({ ...o, [k]: v }))), { ...o, EXTRA: 'x' }];
  }
  return [];
}

/** Valid values of the enumerated fields (a made-up string only tests the malformed case). */
const ENUMS: Record<string, unknown[]> = { desiredStatus: ['running', 'stopped', 'deleted'], status: ['active', 'suspended', 'deleted'] };

/** Every input with one record field changed, plus changes of the context the decision reads. */
function mutations(base: StackDecisionInput, other: Stack): [string, StackDecisionInput][] {
  const out: [string, StackDecisionInput][] = [];
  const valuesFor = (k: string, v: unknown) => [...otherValue(v), ...(ENUMS[k] ?? []).filter((e) => e !== v)];
  for (const [k, v] of Object.entries(base.stack)) {
    for (const w of valuesFor(k, v)) {
      const s = { ...base.stack, [k]: w } as Stack;
      out.push([`stack.${k}`, { ...base, stack: s, tenantStacks: [s, other] }]);
    }
  }
  for (const [k, v] of Object.entries(base.tenant)) {
    for (const w of valuesFor(k, v)) out.push([`tenant.${k}`, { ...base, tenant: { ...base.tenant, [k]: w } as Tenant }]);
  }
  for (const [k, v] of Object.entries(base.plan)) {
    for (const w of otherValue(v)) out.push([`plan.${k}`, { ...base, plan: { ...base.plan, [k]: w } as Plan }]);
  }
  for (const [k, v] of Object.entries(other)) {
    for (const w of valuesFor(k, v)) out.push([`other stack.${k}`, { ...base, tenantStacks: [base.stack, { ...other, [k]: w } as Stack] }]);
  }
  out.push(['no other stack', { ...base, tenantStacks: [base.stack] }]);
  out.push(['router base url', { ...base, routerBaseUrl: `${base.routerBaseUrl}/v2` }]);
  out.push(['host claimed by another stack', { ...base, hostOwners: new Map([['probe1.acme.cloudfreedom.de', other.id]]) }]);
  out.push(['second host claimed', { ...base, hostOwners: new Map([['probe1-sidecar.acme.cloudfreedom.de', other.id]]) }]);
  out.push(['own claim', { ...base, hostOwners: new Map([['probe1.acme.cloudfreedom.de', base.stack.id]]) }]);
  return out;
}

let catalog: TemplateCatalog;
beforeAll(async () => {
  catalog = await loadFixtureCatalog();
});

describe('decision keys', () => {
  it('change whenever the decision changes, for a change of any input', () => {
    const policy = catalogPolicy(catalog);
    const other = stack({ id: 'stackolder00001', name: 'older', created: 1_500 });
    const changed = new Set<string>();
    // Within the quota and one over it (the stack is the younger of two), so quota inputs count too.
    for (const maxStacks of [2, 1]) {
      const base = input({ plan: plan({ maxStacks }), tenantStacks: [stack(), other] });
      const baseDecision = JSON.stringify(policy.decide(base));
      const baseKey = policy.decisionKey(base);
      for (const [what, m] of mutations(base, other)) {
        const decision = JSON.stringify(policy.decide(m));
        if (decision === baseDecision) continue;
        changed.add(what);
        expect({ what, key: policy.decisionKey(m) }).not.toEqual({ what, key: baseKey });
      }
    }
    // The kinds of change the cache must notice all did change the decision here.
    for (const what of ['stack.params', 'stack.domains', 'stack.name', 'stack.id', 'stack.template', 'stack.desiredStatus', 'stack.created', 'stack.problems']) {
      expect(changed).toContain(what);
    }
    for (const what of ['tenant.routerApiKey', 'tenant.domain', 'tenant.slug', 'tenant.problems']) expect(changed).toContain(what);
    for (const what of ['plan.memoryMb', 'plan.cpuLimit', 'plan.pidsLimit', 'plan.maxStacks', 'plan.allowedTemplates', 'plan.name', 'plan.problems']) {
      expect(changed).toContain(what);
    }
    for (const what of ['other stack.created', 'other stack.desiredStatus', 'router base url', 'host claimed by another stack', 'second host claimed']) {
      expect(changed).toContain(what);
    }
  });

  it('change with the host template and with the template itself, even under the same name and version', () => {
    const probe = catalog.get('probe')!;
    let current: TemplateDefinition = probe;
    const reloadable: TemplateCatalog = { ...catalog, get: (name) => (name === 'probe' ? current : catalog.get(name)) };
    const policy = catalogPolicy(reloadable);
    const i = input();
    const key = policy.decisionKey(i);
    expect(catalogPolicy(reloadable, { hostTemplate: '{stack}-{tenant}.{domain}' }).decisionKey(i)).not.toBe(key);
    current = { ...probe, version: '0.2.0' };
    expect(policy.decisionKey(i)).not.toBe(key);
    current = { ...probe };
    expect(policy.decisionKey(i)).not.toBe(key);
    current = probe;
    expect(policy.decisionKey(i)).toBe(key);
  });

  it('stay the same for fields the decision does not read (daemon fields, status, timestamps)', () => {
    const policy = catalogPolicy(catalog);
    const i = input();
    const same: StackDecisionInput = {
      ...i,
      stack: { ...i.stack, status: 'running', statusMessage: 'x', appliedHash: 'h', coolifyServiceUuid: 'u', updated: 9, observedAt: 9, paused: true },
      tenant: { ...i.tenant, status: 'suspended', syncStatus: 'ready', name: 'Other', updated: 9, coolifyProjectUuid: 'p' },
      plan: { ...i.plan, deleteRetentionDays: 3, updated: 9 },
    };
    expect(policy.decisionKey(same)).toBe(policy.decisionKey(i));
  });
});

describe('DecisionCache', () => {
  it('decides an unchanged stack once, and again as soon as any input changes', () => {
    const uncounted = catalogPolicy(catalog);
    const { policy, decisions } = counting(uncounted);
    const cache = new DecisionCache(policy);
    const i = input();
    const first = cache.decide(i);
    expect(first.kind).toBe('apply');
    // Fresh copies of the same records (a new listing) are the same inputs.
    for (let n = 0; n < 3; n++) cache.decide({ ...i, stack: { ...i.stack, params: { ...i.stack.params } }, tenant: { ...i.tenant } });
    expect(decisions()).toBe(1);

    const changes: StackDecisionInput[] = [
      { ...i, stack: { ...i.stack, params: { ...i.stack.params, VALUE: 'changed' } } },
      { ...i, tenant: tenant({ routerApiKey: 'rk-rotated-0000000000' }) },
      { ...i, plan: plan({ pidsLimit: 100 }) },
      { ...i, hostOwners: new Map([['probe1.acme.cloudfreedom.de', 'stackolder00001']]) },
    ];
    for (const changed of changes) {
      // From the original inputs remembered (decided again: only the last decision is kept) ...
      expect(summaryOf(cache.decide(i))).toEqual(summaryOf(first));
      const before = decisions();
      // ... to one changed input: decided afresh, never the remembered decision.
      const got = cache.decide(changed);
      expect(decisions()).toBe(before + 1);
      expect(summaryOf(got)).toEqual(fresh(uncounted, changed));
      expect(summaryOf(got)).not.toEqual(summaryOf(first));
    }
  });

  it('keeps digests, not the compose or env values, and forgets stacks no longer listed', () => {
    const cache = new DecisionCache(catalogPolicy(catalog));
    const a = input();
    const b = input({ stack: stack({ id: 'stackprobe00002', name: 'probe2' }) });
    const kept = cache.decide(a);
    cache.decide(b);
    expect(cache.size).toBe(2);
    expect(JSON.stringify(kept)).not.toContain('Sup3rSecretProbeValue');
    expect(JSON.stringify(kept)).not.toContain('services');
    cache.retain(new Set([b.stack.id]));
    expect(cache.size).toBe(1);
  });
});
