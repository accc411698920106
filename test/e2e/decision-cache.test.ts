/**
 * Decisions remembered between resyncs (src/engine/decision-cache.ts), against a real PocketBase
 * and the simulator: a converged resync renders nothing the second time, and a changed input of
 * every kind (a param, a tenant field, a plan field, a host claim, the template) is decided again
 * and shows up as drift; a stale decision is never served. Renders are counted through the
 * policy port the daemon and the resync are given.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../../src/clock.js';
import { CoolifyInventory } from '../../src/coolify/inventory.js';
import { SharedCoolifyView } from '../../src/coolify/shared-view.js';
import { Audit } from '../../src/engine/audit.js';
import { DriftResync } from '../../src/engine/drift.js';
import { configPolicy } from '../../src/engine/policy.js';
import type { PolicyPort } from '../../src/engine/ports.js';
import { PocketBaseStore } from '../../src/pocketbase/store.js';
import { projectRoot } from '../../src/pocketbase/server-process.js';
import type { ReconcileKey } from '../../src/pocketbase/types.js';
import { loadTemplateCatalog, type TemplateCatalog } from '../../src/templates/index.js';
import { templateFromSources } from '../../src/templates/template-catalog.js';
import type { TemplateDefinition } from '../../src/templates/template-definition.js';
import { createPlan, createStack, createTenant, type RawRecord } from '../helpers/pb-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { BOT_TOKEN, startHarness, type Harness } from './harness.js';

const OPENCLAW = { AUTH_PASSWORD: 'a-long-password-123', OPENCLAW_GATEWAY_TOKEN: '0123456789abcdef0123456789abcdef' };

describe('decisions remembered between resyncs', () => {
  let h: Harness;
  let decisions = 0;
  /** The catalog's telegram-bot template, replaceable as a reload would replace it. */
  let telegram: TemplateDefinition | undefined;
  let policy: PolicyPort;
  let plan: RawRecord;
  let tenantA: RawRecord;
  let tenantB: RawRecord;
  const ids: Record<'a1' | 'a2' | 'b1' | 'x' | 'y', string> = { a1: '', a2: '', b1: '', x: '', y: '' };

  beforeAll(async () => {
    h = await startHarness({
      startDaemon: false,
      env: { RESYNC_INTERVAL_SECONDS: '3600', COOLIFY_RATE_LIMIT_PER_MINUTE: '100000' },
      sim: { lagMs: 0, rateLimit: { limit: 100_000 } },
      deps: { envChecksPerMinute: 0 },
    });
    const catalog = await loadTemplateCatalog(join(projectRoot(), 'templates'));
    const reloadable: TemplateCatalog = { ...catalog, get: (name) => (name === 'telegram-bot' ? (telegram ?? catalog.get(name)) : catalog.get(name)) };
    const real = configPolicy(reloadable, h.config);
    policy = {
      ...real,
      decide: (input) => {
        decisions++;
        return real.decide(input);
      },
    };
    plan = await createPlan(h.admin, { max_stacks: 3, cpu_limit: 2, memory_mb: 4096, allowed_templates: ['telegram-bot', 'openclaw-agent'] });
    tenantA = await createTenant(h.admin, { plan: plan.id });
    tenantB = await createTenant(h.admin, { plan: plan.id });
    const bot = { template: 'telegram-bot', params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } };
    ids.a1 = (await createStack(h.admin, { tenant_id: tenantA.id, ...bot })).id;
    ids.b1 = (await createStack(h.admin, { tenant_id: tenantB.id, ...bot })).id;
    // Two stacks of tenant B asking for the same host: the older one owns it, the other is refused.
    const host = `agent.${String(tenantB.domain)}`;
    ids.x = (await createStack(h.admin, { tenant_id: tenantB.id, template: 'openclaw-agent', params: OPENCLAW, domains: [host] })).id;
    ids.y = (await createStack(h.admin, { tenant_id: tenantB.id, template: 'openclaw-agent', params: OPENCLAW, domains: [host] })).id;
    ids.a2 = (await createStack(h.admin, { tenant_id: tenantA.id, ...bot })).id;
    await h.start({ policy });
  }, 60_000);
  afterAll(async () => {
    await h.cleanup();
  });

  it('renders nothing in a converged resync, and again exactly what a changed input touches', async () => {
    for (const id of [ids.a1, ids.a2, ids.b1, ids.x]) await h.waitStack(id, (r) => r.status === 'running', 60_000, `${id} running`);
    const refused = await h.waitStack(ids.y, (r) => r.status === 'error', 60_000);
    expect(refused.status_message).toContain(`is already used by stack ${ids.x}`);

    // The daemon: once converged, a resync decides nothing (every stack's inputs are as last time).
    const daemon = h.daemon!;
    await waitFor(async () => {
      await daemon.queue.onIdle();
      return (await daemon.resync())?.keys.size === 0 && daemon.queue.delayed + daemon.queue.depth + daemon.queue.inFlight === 0;
    }, 60_000, { what: 'converged and quiet', intervalMs: 100 });
    const before = decisions;
    expect((await daemon.resync())?.keys.size).toBe(0);
    expect(decisions - before).toBe(0);
    await h.stopDaemon();

    // From here on, a resync of its own with nothing acting on what it finds, so every change made
    // below stays drift until a resync sees it.
    const enqueued: ReconcileKey[] = [];
    const store = new PocketBaseStore({ pb: h.admin, logger: h.logger, clock: systemClock, redactor: h.redactor });
    const drift = new DriftResync({
      store,
      inventory: new SharedCoolifyView(new CoolifyInventory(h.coolify, { now: () => Date.now(), composeDigest: policy.composeDigest }), () => Date.now()),
      policy,
      clock: systemClock,
      logger: h.logger,
      redactor: h.redactor,
      audit: new Audit(store, h.redactor, h.logger),
      enqueue: (key) => enqueued.push(key),
      intervalMs: 3_600_000,
      routerBaseUrl: h.config.routerBaseUrl,
      deleteRetentionMs: h.config.deleteRetentionSeconds * 1000,
    });
    /** One resync: how many stacks it decided and which keys differ, with why. */
    const resync = async (): Promise<{ decided: number; keys: Record<string, string> }> => {
      const from = decisions;
      const plan = await drift.run();
      return { decided: decisions - from, keys: Object.fromEntries(plan!.keys) };
    };
    const stackKey = (id: string) => `stack:${id}`;

    expect(await resync()).toEqual({ decided: 5, keys: {} });
    expect(await resync()).toEqual({ decided: 0, keys: {} });

    // A param.
    await h.admin.collection('stacks').update(ids.a1, { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN, BOT_NAME: 'Renamed Bot' } });
    expect(await resync()).toEqual({ decided: 1, keys: { [stackKey(ids.a1)]: 'applied hash differs' } });
    expect(await resync()).toEqual({ decided: 0, keys: { [stackKey(ids.a1)]: 'applied hash differs' } });

    // A tenant field (the router key reaches the env, so the hash).
    await h.admin.collection('tenants').update(tenantA.id, { router_api_key: 'rk-rotated-key-for-a' });
    const rotated = await resync();
    expect(rotated.decided).toBe(2);
    expect(rotated.keys).toEqual({ [stackKey(ids.a1)]: 'applied hash differs', [stackKey(ids.a2)]: 'applied hash differs' });

    // A plan field (the process limit reaches every compose of the plan).
    await h.admin.collection('plans').update(plan.id, { pids_limit: 100 });
    const limited = await resync();
    expect(limited.decided).toBe(5);
    expect(Object.keys(limited.keys).sort()).toEqual([ids.a1, ids.a2, ids.b1, ids.x].map(stackKey).sort());
    // The refused stack is still refused: its message is the one it shows, so it is no drift.
    expect(limited.keys[stackKey(ids.y)]).toBeUndefined();

    // A host claim: the older stack lets the host go; only the other stack's host owner changed.
    await h.admin.collection('stacks').update(ids.x, { domains: [] });
    const released = await resync();
    expect(released.decided).toBe(2);
    expect(released.keys[stackKey(ids.y)]).toBe('service missing');

    // The template: a new version with another compose, as a reload of the catalog would bring.
    const dir = join(projectRoot(), 'templates', 'telegram-bot');
    const manifest = (await readFile(join(dir, 'template.yaml'), 'utf8')).replace('version: 1.0.0', 'version: 1.0.1');
    const compose = (await readFile(join(dir, 'compose.yaml'), 'utf8')).replace(/^(\s+)image:/m, '$1stop_grace_period: 20s\n$1image:');
    const loaded = templateFromSources('telegram-bot', manifest, compose);
    expect(loaded.problems).toEqual([]);
    telegram = loaded.template;
    const reloaded = await resync();
    expect(reloaded.decided).toBe(3);
    expect(Object.keys(reloaded.keys).sort()).toEqual([ids.a1, ids.a2, ids.b1, ids.x, ids.y].map(stackKey).sort());
    expect(await resync()).toMatchObject({ decided: 0 });
    expect(enqueued.length).toBeGreaterThan(0);
  }, 180_000);
});
