/**
 * DEFAULT_HOST_TEMPLATE (SPEC §4): default hosts made from it belong to the stack by construction
 * (no domain check), subject to the older-stack rule; without `{domain}` it serves tenants that
 * have no domain; with `{domain}` such a tenant gets no default host.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { decideStack } from '../../../src/templates/decide-stack.js';
import { claimHosts, hostTemplateProblem, stackHosts } from '../../../src/templates/hosts.js';
import type { TemplateCatalog } from '../../../src/templates/template-catalog.js';
import { input, loadFixtureCatalog, stack, tenant } from './fixtures.js';

const FLAT = '{stack}-{tenant}.apps.example.test';

let catalog: TemplateCatalog;
beforeAll(async () => {
  catalog = await loadFixtureCatalog();
});

describe('hostTemplateProblem', () => {
  it.each(['{stack}.{domain}', FLAT, '{stack}.{tenant}.example.test', '{stack}.apps.example.test'])('accepts %s', (t) => {
    expect(hostTemplateProblem(t)).toBeUndefined();
  });

  it.each([
    ['{tenant}.example.test', /must contain \{stack\}/],
    ['{stack}.{name}.example.test', /unknown placeholder \{name\}/],
    ['{stack}_{tenant}.example.test', /valid lower-case host name/],
    ['{stack}', /valid lower-case host name/],
  ])('refuses %s', (t, message) => {
    expect(hostTemplateProblem(t)).toMatch(message);
  });
});

describe('flat hosts from {stack}-{tenant}.apps.example.test', () => {
  it('gives the first ingress entry <stack>-<tenant> and further ones <stack>-<service>-<tenant>', () => {
    expect(stackHosts(catalog, tenant(), stack(), FLAT)).toEqual(['probe1-acme.apps.example.test', 'probe1-sidecar-acme.apps.example.test']);
    const decision = decideStack(catalog, input(), FLAT);
    expect(decision.kind === 'apply' && decision.hosts).toEqual(['probe1-acme.apps.example.test', 'probe1-sidecar-acme.apps.example.test']);
  });

  it('serves a tenant without a domain', () => {
    const noDomain = tenant({ domain: '' });
    const decision = decideStack(catalog, input({ tenant: noDomain }), FLAT);
    expect(decision.kind === 'apply' && decision.hosts).toEqual(['probe1-acme.apps.example.test', 'probe1-sidecar-acme.apps.example.test']);
    // Hosts named by hand still need a tenant domain.
    const named = stack({ domains: ['x.apps.example.test'] });
    expect(decideStack(catalog, input({ tenant: noDomain, stack: named, tenantStacks: [named] }), FLAT)).toEqual({
      kind: 'error',
      message: 'the tenant has no domain, so this stack cannot have domains',
    });
  });

  it('gives a colliding host to the older stack and an error to the younger one', () => {
    // tenant "a-b" stack "c" and tenant "b" stack "c-a" both make c-a-b.apps.example.test.
    const ab = tenant({ id: 'tenantab0000001', slug: 'a-b', domain: '' });
    const b = tenant({ id: 'tenantb00000001', slug: 'b', domain: '' });
    const older = stack({ id: 'stackolder00001', tenantId: ab.id, name: 'c', created: 1_000 });
    const younger = stack({ id: 'stackyoung00001', tenantId: b.id, name: 'c-a', created: 2_000 });
    const owners = claimHosts(catalog, [{ tenant: b, stack: younger }, { tenant: ab, stack: older }], FLAT);
    expect(owners.get('c-a-b.apps.example.test')).toBe('stackolder00001');
    expect(decideStack(catalog, input({ tenant: ab, stack: older, tenantStacks: [older], hostOwners: owners }), FLAT).kind).toBe('apply');
    expect(decideStack(catalog, input({ tenant: b, stack: younger, tenantStacks: [younger], hostOwners: owners }), FLAT)).toEqual({
      kind: 'error',
      message: 'domain c-a-b.apps.example.test is already used by stack stackolder00001',
    });
  });
});

describe('templates with {domain}', () => {
  it('the default {stack}.{domain} gives a tenant without a domain no host, and claims none', () => {
    const noDomain = tenant({ domain: '' });
    const decision = decideStack(catalog, input({ tenant: noDomain }));
    expect(decision.kind === 'apply' && decision.hosts).toEqual([]);
    expect(stackHosts(catalog, noDomain, stack())).toEqual([]);
  });

  it('hosts made from the template need not be under the tenant domain', () => {
    const decision = decideStack(catalog, input(), '{stack}.{tenant}.apps.example.test');
    expect(decision.kind === 'apply' && decision.hosts).toEqual(['probe1.acme.apps.example.test', 'probe1-sidecar.acme.apps.example.test']);
  });
});
