import { beforeAll, describe, expect, it } from '@jest/globals';
import { decideStack } from '../../../src/templates/decide-stack.js';
import { claimHosts, stackHosts } from '../../../src/templates/hosts.js';
import type { TemplateCatalog } from '../../../src/templates/template-catalog.js';
import { input, loadFixtureCatalog, stack, tenant } from './fixtures.js';

let catalog: TemplateCatalog;
beforeAll(async () => {
  catalog = await loadFixtureCatalog();
});

const acme = tenant();
const globex = tenant({ id: 'tenantglobex001', slug: 'globex', domain: 'globex.cloudfreedom.de' });

describe('stackHosts', () => {
  it('lists the hosts a stack may claim: its domains, then defaults', () => {
    expect(stackHosts(catalog, acme, stack())).toEqual(['probe1.acme.cloudfreedom.de', 'probe1-sidecar.acme.cloudfreedom.de']);
    expect(stackHosts(catalog, acme, stack({ domains: ['WWW.acme.cloudfreedom.de'] }))).toEqual([
      'www.acme.cloudfreedom.de',
      'probe1-sidecar.acme.cloudfreedom.de',
    ]);
  });

  it('claims nothing outside the tenant domain, for an unknown template, or without a domain', () => {
    expect(stackHosts(catalog, globex, stack({ domains: ['probe1.acme.cloudfreedom.de', 'bad host'] }))).toEqual([]);
    expect(stackHosts(catalog, acme, stack({ template: 'nope' }))).toEqual([]);
    expect(stackHosts(catalog, tenant({ domain: '' }), stack())).toEqual([]);
  });
});

describe('claimHosts', () => {
  const older = stack({ id: 'stackolder00001', name: 'web', created: 1_000, domains: ['shop.acme.cloudfreedom.de'] });
  const newer = stack({ id: 'stacknewer00001', name: 'web2', created: 5_000, domains: ['shop.acme.cloudfreedom.de'] });
  const hijack = stack({ id: 'stackhijack0001', tenantId: globex.id, name: 'evil', created: 10, domains: ['shop.acme.cloudfreedom.de'] });

  it('gives a contested host to the oldest stack whatever the input order', () => {
    const a = claimHosts(catalog, [
      { tenant: acme, stack: newer },
      { tenant: acme, stack: older },
    ]);
    const b = claimHosts(catalog, [
      { tenant: acme, stack: older },
      { tenant: acme, stack: newer },
    ]);
    expect(a.get('shop.acme.cloudfreedom.de')).toBe('stackolder00001');
    expect([...a]).toEqual([...b]);
    expect(a.get('web2-sidecar.acme.cloudfreedom.de')).toBe('stacknewer00001');
  });

  it('breaks a tie on created by id', () => {
    const x = stack({ id: 'b-stack', created: 7, domains: ['tie.acme.cloudfreedom.de'] });
    const y = stack({ id: 'a-stack', created: 7, domains: ['tie.acme.cloudfreedom.de'] });
    expect(claimHosts(catalog, [{ tenant: acme, stack: x }, { tenant: acme, stack: y }]).get('tie.acme.cloudfreedom.de')).toBe('a-stack');
  });

  it('lets an older hijack attempt from another tenant claim nothing, so the rightful stack deploys', () => {
    const owners = claimHosts(catalog, [
      { tenant: globex, stack: hijack },
      { tenant: acme, stack: older },
    ]);
    expect(owners.get('shop.acme.cloudfreedom.de')).toBe('stackolder00001');
    const rightful = decideStack(catalog, input({ stack: older, tenantStacks: [older], hostOwners: owners }));
    expect(rightful.kind).toBe('apply');
    const attempt = decideStack(catalog, input({ tenant: globex, stack: hijack, tenantStacks: [hijack], hostOwners: owners }));
    expect(attempt).toEqual({ kind: 'error', message: "domain shop.acme.cloudfreedom.de is outside the tenant's domain globex.cloudfreedom.de" });
  });

  it('makes the newer stack of a contested host fail with the owner named', () => {
    const owners = claimHosts(catalog, [
      { tenant: acme, stack: older },
      { tenant: acme, stack: newer },
    ]);
    const decision = decideStack(catalog, input({ stack: newer, tenantStacks: [older, newer], hostOwners: owners }));
    expect(decision).toEqual({ kind: 'error', message: 'domain shop.acme.cloudfreedom.de is already used by stack stackolder00001' });
  });

  it('lets no stack on its way out claim a host: desired deleted, or its tenant deleted', () => {
    const leaving = { ...older, desiredStatus: 'deleted' as const };
    const owners = claimHosts(catalog, [
      { tenant: acme, stack: leaving },
      { tenant: acme, stack: newer },
    ]);
    expect(owners.get('shop.acme.cloudfreedom.de')).toBe('stacknewer00001');
    expect([...owners.values()]).not.toContain('stackolder00001');
    expect(decideStack(catalog, input({ stack: newer, tenantStacks: [leaving, newer], hostOwners: owners })).kind).toBe('apply');

    const goneTenant = claimHosts(catalog, [
      { tenant: { ...acme, status: 'deleted' as const }, stack: older },
      { tenant: acme, stack: newer },
    ]);
    expect(goneTenant.get('shop.acme.cloudfreedom.de')).toBe('stacknewer00001');
  });

  it('keeps the claim of an older stack that is invalid for another reason (a bad param)', () => {
    const broken = { ...older, params: { ...older.params, NOT_A_PARAM: 'x' } };
    const owners = claimHosts(catalog, [
      { tenant: acme, stack: broken },
      { tenant: acme, stack: newer },
    ]);
    expect(owners.get('shop.acme.cloudfreedom.de')).toBe('stackolder00001');
  });
});
