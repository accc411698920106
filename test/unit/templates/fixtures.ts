/** Record factories and catalogs shared by the templates tests. */
import { fileURLToPath } from 'node:url';
import type { Plan, Stack, Tenant } from '../../../src/pocketbase/types.js';
import type { StackDecisionInput } from '../../../src/templates/types.js';
import { loadTemplateCatalog, type TemplateCatalog } from '../../../src/templates/template-catalog.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SHIPPED_DIR = `${ROOT}templates`;
export const FIXTURE_CATALOG_DIR = `${ROOT}test/fixtures/templates/catalog`;
export const PRIVILEGED_ONLY_DIR = `${ROOT}test/fixtures/templates/privileged-only`;

export const ROUTER_URL = 'https://router.cloudfreedom.test/v1';
export const ROUTER_KEY = 'rk-tenant-acme-0f9e8d7c6b5a';
export const PROBE_SECRET = 'Sup3rSecretProbeValue';

export function tenant(overrides: Partial<Tenant> = {}): Tenant {
  return {
    id: 'tenantacme00001',
    name: 'Acme',
    slug: 'acme',
    domain: 'acme.cloudfreedom.de',
    status: 'active',
    planId: 'planstarter0001',
    routerApiKey: ROUTER_KEY,
    coolifyServerUuid: '',
    paused: false,
    coolifyProjectUuid: '',
    syncStatus: '',
    syncMessage: '',
    syncedAt: null,
    created: 1_000,
    updated: 1_000,
    problems: [],
    ...overrides,
  };
}

export function plan(overrides: Partial<Plan> = {}): Plan {
  return {
    id: 'planstarter0001',
    name: 'starter',
    maxStacks: 5,
    cpuLimit: 2,
    memoryMb: 1024,
    allowedTemplates: ['probe', 'telegram-bot', 'openclaw-agent', 'base-llm'],
    pidsLimit: 0,
    deleteRetentionDays: 0,
    created: 1_000,
    updated: 1_000,
    problems: [],
    ...overrides,
  };
}

export function stack(overrides: Partial<Stack> = {}): Stack {
  return {
    id: 'stackprobe00001',
    tenantId: 'tenantacme00001',
    name: 'probe1',
    template: 'probe',
    params: { VALUE: 'hello', PROBE_SECRET },
    domains: [],
    desiredStatus: 'running',
    paused: false,
    restartRequestedAt: null,
    status: '',
    statusMessage: '',
    coolifyServiceUuid: '',
    templateVersion: '',
    appliedHash: '',
    observedAt: null,
    deleteAfter: null,
    restartedAt: null,
    created: 2_000,
    updated: 2_000,
    problems: [],
    ...overrides,
  };
}

export function input(overrides: Partial<StackDecisionInput> = {}): StackDecisionInput {
  const s = overrides.stack ?? stack();
  return {
    tenant: tenant(),
    plan: plan(),
    stack: s,
    tenantStacks: [s],
    hostOwners: new Map(),
    routerBaseUrl: ROUTER_URL,
    ...overrides,
  };
}

let fixtureCatalog: Promise<TemplateCatalog> | undefined;
let shippedCatalog: Promise<TemplateCatalog> | undefined;

export function loadFixtureCatalog(): Promise<TemplateCatalog> {
  fixtureCatalog ??= loadTemplateCatalog(FIXTURE_CATALOG_DIR);
  return fixtureCatalog;
}

export function loadShippedCatalog(): Promise<TemplateCatalog> {
  shippedCatalog ??= loadTemplateCatalog(SHIPPED_DIR);
  return shippedCatalog;
}

/** Compose reads `$$` as a literal `$`: what a container receives from a rendered value. */
export function composeInterpolated(value: string): string {
  return value.replace(/\$\$/g, '$');
}
