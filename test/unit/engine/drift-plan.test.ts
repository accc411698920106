/**
 * The drift comparison and the orphan guard, pure: real templates and policy, hand-built
 * listings of both sides.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import type { InventorySnapshot, ManagedService } from '../../../src/coolify/inventory.js';
import { formatServiceMarker, withMarkerTokens } from '../../../src/coolify/markers.js';
import { planDrift, type DriftInput } from '../../../src/engine/drift-plan.js';
import { catalogPolicy } from '../../../src/engine/policy.js';
import type { PolicyPort } from '../../../src/engine/ports.js';
import type { Plan, Stack, Tenant } from '../../../src/pocketbase/types.js';
import { projectRoot } from '../../../src/pocketbase/server-process.js';
import { loadTemplateCatalog } from '../../../src/templates/index.js';

const NOW = Date.UTC(2026, 0, 1);
let policy: PolicyPort;

beforeAll(async () => {
  policy = catalogPolicy(await loadTemplateCatalog(join(projectRoot(), 'templates')));
});

const plan: Plan = {
  id: 'plan1', name: 'starter', maxStacks: 50, cpuLimit: 1, memoryMb: 1024,
  allowedTemplates: ['telegram-bot'], pidsLimit: 0, deleteRetentionDays: 0, created: NOW - 1000, updated: NOW - 1000, problems: [],
};
const tenant: Tenant = {
  id: 'tenant1', name: 'T', slug: 'acme', domain: 'acme.example.com', status: 'active', planId: 'plan1',
  routerApiKey: 'rk-secret-1', coolifyServerUuid: '', paused: false, coolifyProjectUuid: 'proj1', syncStatus: 'ready',
  syncMessage: '', syncedAt: NOW, created: NOW - 1000, updated: NOW - 1000, problems: [],
};

function stack(id: string, over: Partial<Stack> = {}): Stack {
  return {
    id, tenantId: 'tenant1', name: `s-${id}`, template: 'telegram-bot',
    params: { TELEGRAM_BOT_TOKEN: '123456789:AAHsecretBotTokenValue0123456789abc' }, domains: [],
    desiredStatus: 'running', paused: false, restartRequestedAt: null, status: 'running', statusMessage: '', coolifyServiceUuid: `svc-${id}`,
    templateVersion: '1.0.0', appliedHash: '', observedAt: NOW, deleteAfter: null, restartedAt: null,
    created: NOW - 500, updated: NOW - 500, problems: [], ...over,
  };
}

/** A stack and the service it converged to. */
function converged(id: string, over: Partial<Stack> = {}): { stack: Stack; service: ManagedService } {
  const s = stack(id, over);
  const decision = policy.decide({ tenant, plan, stack: s, tenantStacks: [s], hostOwners: new Map(), routerBaseUrl: 'https://r' });
  if (decision.kind !== 'apply') throw new Error(decision.message);
  s.appliedHash = decision.hash;
  return {
    stack: s,
    service: {
      uuid: s.coolifyServiceUuid, name: `acme-${s.name}`, description: formatServiceMarker({ stackId: id, tenantId: 'tenant1' }),
      environmentId: 1, status: 'running:healthy', composeDigest: policy.composeDigest(decision.composeYaml),
      marker: { tenantId: 'tenant1', stackId: id, extra: {} }, projectUuid: 'proj1', environmentName: 'production',
    },
  };
}

function byStack(services: ManagedService[]): Map<string, ManagedService[]> {
  const map = new Map<string, ManagedService[]>();
  for (const s of services) map.set(s.marker.stackId, [...(map.get(s.marker.stackId) ?? []), s]);
  return map;
}

function input(stacks: Stack[], services: ManagedService[]): DriftInput {
  const inventory: InventorySnapshot = {
    projectsByTenant: new Map([['tenant1', [{ uuid: 'proj1', name: 'cf-tenant-acme', description: '', marker: { tenantId: 'tenant1', extra: {} } }]]]),
    servicesByStack: byStack(services),
    duplicateTenants: [], duplicateStacks: [], foreign: { projects: 0, services: 0 }, observedAt: NOW,
  };
  return { plans: [plan], tenants: [tenant], stacks, inventory, policy, routerBaseUrl: 'https://r', deleteRetentionMs: 60_000, now: NOW };
}

describe('planDrift', () => {
  it('gives the event loop a turn between stacks when its pause point asks for one', async () => {
    const pairs = ['a', 'b', 'c'].map((id) => converged(id));
    let turns = 0;
    let served = false;
    setImmediate(() => (served = true));
    const plan = await planDrift({
      ...input(pairs.map((p) => p.stack), pairs.map((p) => p.service)),
      pause: () => {
        turns++;
        return new Promise<void>((resolve) => setImmediate(resolve));
      },
    });
    expect(turns).toBe(3);
    expect(served).toBe(true);
    expect([...plan.keys]).toEqual([]);
  });

  it('finds nothing to do in a converged system', async () => {
    const pairs = ['a', 'b', 'c'].map((id) => converged(id));
    const plan = await planDrift(input(pairs.map((p) => p.stack), pairs.map((p) => p.service)));
    expect([...plan.keys]).toEqual([]);
    expect(plan.refusal).toBeUndefined();
    expect(plan.envTargets.map((t) => t.stackId).sort()).toEqual(['a', 'b', 'c']);
  });

  it('marks each kind of drift', async () => {
    const crashed = converged('crashed');
    crashed.service.status = 'exited';
    const edited = converged('edited');
    edited.service.composeDigest = policy.composeDigest('services:\n  bot:\n    image: evil:1\n');
    const missing = converged('missing');
    const stale = converged('stale');
    stale.stack.coolifyServiceUuid = '';
    const stopped = converged('stopped', { desiredStatus: 'stopped' });
    const keys = (await planDrift(input(
      [crashed.stack, edited.stack, missing.stack, stale.stack, stopped.stack],
      [crashed.service, edited.service, stale.service, stopped.service],
    ))).keys;
    expect(keys.get('stack:crashed')).toMatch(/should run but is exited/);
    expect(keys.get('stack:edited')).toMatch(/compose edited/);
    expect(keys.get('stack:missing')).toMatch(/service missing/);
    expect(keys.get('stack:stale')).toMatch(/uuid differs/);
    expect(keys.get('stack:stopped')).toMatch(/should be stopped/);
  });

  it('leaves a scheduled deletion alone until it is due', async () => {
    const d = converged('d', { desiredStatus: 'deleted', status: 'deleting' });
    d.service.status = 'exited';
    d.service.description = withMarkerTokens(d.service.description, {
      'delete-after': new Date(NOW + 1000).toISOString(),
      'delete-seen': new Date(d.stack.updated).toISOString(),
    });
    d.stack.deleteAfter = NOW + 1000;
    expect((await planDrift(input([d.stack], [d.service]))).keys.size).toBe(0);
    expect((await planDrift({ ...input([d.stack], [d.service]), now: NOW + 1000 })).keys.get('stack:d')).toMatch(/due/);
  });

  it('sends a pending deletion whose record changed since the daemon last wrote it to its reconciler', async () => {
    const d = converged('d2', { desiredStatus: 'deleted', status: 'deleting', deleteAfter: NOW + 1000 });
    d.service.status = 'exited';
    const deadline = new Date(NOW + 1000).toISOString();
    d.service.description = withMarkerTokens(d.service.description, { 'delete-after': deadline, 'delete-seen': new Date(d.stack.updated - 1).toISOString() });
    expect((await planDrift(input([d.stack], [d.service]))).keys.get('stack:d2')).toMatch(/record changed/);
    // Without a delete-seen token nothing is known about the record: also sent.
    d.service.description = withMarkerTokens(d.service.description, { 'delete-seen': undefined });
    expect((await planDrift(input([d.stack], [d.service]))).keys.get('stack:d2')).toMatch(/record changed/);
  });

  it('sends an invalid stack whose service still carries a deletion deadline to its reconciler', async () => {
    const { stack: s, service } = converged('inv');
    s.template = 'not-a-template';
    const decision = policy.decide({ tenant, plan, stack: s, tenantStacks: [s], hostOwners: new Map(), routerBaseUrl: 'https://r' });
    if (decision.kind !== 'error') throw new Error('expected an invalid stack');
    // Already showing its error: without a token nothing differs.
    s.status = 'error';
    s.statusMessage = decision.message;
    expect((await planDrift(input([s], [service]))).keys.size).toBe(0);
    const stale = { ...service, description: withMarkerTokens(service.description, { 'delete-after': new Date(NOW - 1000).toISOString() }) };
    expect((await planDrift(input([s], [stale]))).keys.get('stack:inv')).toMatch(/stale deletion token/);
  });

  it('reports duplicates next to an intact stored uuid and sends them to the reconciler only while a copy needs retiring', async () => {
    const { stack: s, service } = converged('dup');
    const copy: ManagedService = { ...service, uuid: 'svc-copy', status: 'running:healthy', createdAt: NOW - 10_000 };
    // Older and running, but the stored uuid keeps the original as the stack's service.
    const fresh = await planDrift(input([s], [copy, service]));
    expect(fresh.duplicateStacks).toEqual(['dup']);
    expect(fresh.keys.get('stack:dup')).toBe('duplicate services');
    expect(fresh.envTargets.map((t) => t.serviceUuid)).toEqual([service.uuid]);

    const retired = { ...copy, status: 'exited', description: withMarkerTokens(copy.description, { 'orphaned-at': new Date(NOW - 1000).toISOString() }) };
    const waiting = await planDrift(input([s], [service, retired]));
    expect(waiting.duplicateStacks).toEqual(['dup']);
    expect(waiting.keys.size).toBe(0);
    expect((await planDrift({ ...input([s], [service, retired]), now: NOW + 60_000 })).keys.get('stack:dup')).toBe('duplicate services');
    expect((await planDrift(input([s], [service]))).duplicateStacks).toEqual([]);
  });

  it('leaves a stack whose request Coolify rejected alone until the record or its inputs change', async () => {
    const refusedUpdate = (token: string) => {
      const { stack: s, service } = converged('rej');
      // The record now asks for something else than what was applied, and Coolify refused the PATCH.
      s.params = { ...s.params, TELEGRAM_BOT_TOKEN: token };
      s.status = 'error';
      s.statusMessage = 'Coolify rejected the update of the service: docker_compose_raw is invalid';
      const decision = policy.decide({ tenant, plan, stack: s, tenantStacks: [s], hostOwners: new Map(), routerBaseUrl: 'https://r' });
      if (decision.kind !== 'apply') throw new Error(decision.message);
      return { s, service, hash: decision.hash };
    };
    const { s, service, hash } = refusedUpdate('987654321:AAHanotherBotTokenValue0123456789xyz');
    expect(hash).not.toBe(s.appliedHash);
    const rejected = new Map([['rej', hash]]);
    const waiting = await planDrift({ ...input([s], [service]), rejected });
    expect(waiting.keys.size).toBe(0);
    expect(waiting.envTargets).toEqual([]);

    // Without the memory of that rejection (a restart), it is tried once more.
    expect((await planDrift(input([s], [service]))).keys.get('stack:rej')).toBe('applied hash differs');
    // The record changed since (another token): a different request, so it is sent.
    const changed = refusedUpdate('111111111:AAHyetAnotherBotTokenValue012345678');
    expect((await planDrift({ ...input([changed.s], [changed.service]), rejected })).keys.get('stack:rej')).toBe('applied hash differs');
    // Something rewrote the status: the record no longer says why it waits, so it is looked at.
    const rewritten = { ...s, status: 'running' as const, statusMessage: '' };
    expect((await planDrift({ ...input([rewritten], [service]), rejected })).keys.get('stack:rej')).toBe('applied hash differs');

    // A refused create: no service, same decision, nothing to do until a change.
    const created = { ...s, coolifyServiceUuid: '', statusMessage: 'Coolify rejected the service: domain already in use: a.example' };
    expect((await planDrift({ ...input([created], []), rejected })).keys.size).toBe(0);
    expect((await planDrift(input([created], []))).keys.get('stack:rej')).toBe('service missing');
  });

  it('acts on a few new orphans but refuses when more than a fifth would become orphans', async () => {
    const pairs = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => converged(id));
    const services = pairs.map((p) => p.service);
    const one = await planDrift(input(pairs.slice(1).map((p) => p.stack), services));
    expect(one.refusal).toBeUndefined();
    expect(one.orphanKeys).toEqual(['stack:a']);

    const two = await planDrift(input(pairs.slice(2).map((p) => p.stack), services));
    expect(two.refusal?.guard).toBe('orphan-ratio');
    expect(two.orphanKeys).toEqual([]);
    expect(two.newOrphans.sort()).toEqual(['a', 'b']);
  });

  it('does not count orphans already marked as new ones', async () => {
    const pairs = ['a', 'b', 'c'].map((id) => converged(id));
    for (const p of pairs.slice(0, 2)) {
      p.service.description = withMarkerTokens(p.service.description, { 'orphaned-at': new Date(NOW - 10).toISOString() });
      p.service.status = 'exited';
    }
    const plan = await planDrift(input([pairs[2]!.stack], pairs.map((p) => p.service)));
    expect(plan.refusal).toBeUndefined();
    expect(plan.orphans.sort()).toEqual(['a', 'b']);
    // Stopped and not yet due: nothing to do for them now.
    expect(plan.orphanKeys).toEqual([]);
  });

  it('counts orphans marked within the window as new, so marking cannot launder a burst', async () => {
    const pairs = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => converged(id));
    for (const p of pairs.slice(0, 2)) {
      p.service.description = withMarkerTokens(p.service.description, { 'orphaned-at': new Date(NOW - 10_000).toISOString() });
      p.service.status = 'exited';
    }
    const base = input(pairs.slice(2).map((p) => p.stack), pairs.map((p) => p.service));
    const recent = await planDrift({ ...base, orphanWindowMs: 60_000 });
    expect(recent.refusal?.guard).toBe('orphan-ratio');
    expect(recent.newOrphans.sort()).toEqual(['a', 'b']);
    expect(recent.orphanKeys).toEqual([]);

    // Once the window has passed they are old orphans and the guard lets their retention run.
    const later = await planDrift({ ...base, orphanWindowMs: 5_000 });
    expect(later.refusal).toBeUndefined();
    expect(later.newOrphans).toEqual([]);
  });

  it('judges new orphans against live services only: services already retiring cannot dilute the guard', async () => {
    // 10 live stacks, and 20 orphans retiring for an hour (stopped, marked before the window).
    const live = Array.from({ length: 10 }, (_, i) => converged(`live${i}`));
    const retiring = Array.from({ length: 20 }, (_, i) => {
      const p = converged(`old${i}`);
      p.service.description = withMarkerTokens(p.service.description, { 'orphaned-at': new Date(NOW - 3_600_000).toISOString() });
      p.service.status = 'exited';
      return p;
    });
    const services = [...live, ...retiring].map((p) => p.service);
    // A restore loses 3 of the 10 live stacks: 3 of 30 managed services, but 3 of 10 live ones.
    const plan = await planDrift({ ...input(live.slice(3).map((p) => p.stack), services), orphanWindowMs: 60_000 });
    expect(plan.managedServices).toBe(30);
    expect(plan.liveServices).toBe(10);
    expect(plan.refusal?.guard).toBe('orphan-ratio');
    expect(plan.refusal?.message).toContain('3 of 10 live managed services');
    expect(plan.orphanKeys).toEqual([]);
    // Losing one of the ten stays within a fifth.
    expect((await planDrift({ ...input(live.slice(1).map((p) => p.stack), services), orphanWindowMs: 60_000 })).refusal).toBeUndefined();
  });

  it('refuses outright when PocketBase returns no stacks while managed services exist', async () => {
    const pairs = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => converged(id));
    for (const p of pairs) p.service.description = withMarkerTokens(p.service.description, { 'orphaned-at': new Date(NOW).toISOString() });
    const plan = await planDrift(input([], pairs.map((p) => p.service)));
    expect(plan.refusal?.guard).toBe('empty-stacks');
    expect(plan.orphanKeys).toEqual([]);
  });
});

describe('planDrift: paused stacks and restart requests', () => {
  it('leaves a paused stack alone whatever Coolify shows; only a status that does not tell the truth is corrected', async () => {
    const p = converged('paused', { paused: true, status: 'running', statusMessage: 'paused: cf-reconciler changes nothing in Coolify for this stack; clear paused on the stack to resume' });
    p.service.composeDigest = policy.composeDigest('services:\n  bot:\n    image: debug:1\n');
    const plan = await planDrift(input([p.stack], [p.service]));
    expect([...plan.keys]).toEqual([]);
    expect(plan.envTargets).toEqual([]);
    p.service.status = 'exited';
    expect((await planDrift(input([p.stack], [p.service]))).keys.get('stack:paused')).toMatch(/paused, status not observed/);
  });

  it('sends a stack with a due restart request, or a restarted_at behind the service, to its reconciler', async () => {
    const r = converged('restart', { restartRequestedAt: NOW - 10 });
    expect((await planDrift(input([r.stack], [r.service]))).keys.get('stack:restart')).toBe('restart requested');
    // Carried out: the service carries the request, the record has it as restarted_at.
    r.service.description = withMarkerTokens(r.service.description, { restarted: new Date(NOW - 10).toISOString() });
    r.stack.restartedAt = NOW - 10;
    expect((await planDrift(input([r.stack], [r.service]))).keys.size).toBe(0);
    // A stale admin save wrote back an empty restarted_at: corrected, and no restart is due.
    r.stack.restartedAt = null;
    expect((await planDrift(input([r.stack], [r.service]))).keys.get('stack:restart')).toBe('restarted_at differs from the service');
  });
});
