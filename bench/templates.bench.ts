/**
 * Cost of the policy gate per stack: `decideStack` (render, harden, validate, hash) for each shipped
 * template, and `composeEquals` (the drift comparison) on its output. Pure CPU, no I/O; each figure is
 * the median of several timed batches.
 *
 * Run: `npm run build && node dist/bench/templates.bench.js`.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plan, Stack, Tenant } from '../src/pocketbase/types.js';
import { projectRoot } from '../src/pocketbase/server-process.js';
import { composeEquals, decideStack, loadTemplateCatalog } from '../src/templates/index.js';
import type { StackDecisionInput } from '../src/templates/types.js';
import { median } from './stats.js';

export interface TemplatesBenchResult {
  template: string;
  /** Median microseconds for one decideStack call. */
  decideMicros: number;
  /** Median microseconds for one composeEquals call on two renders of the same stack. */
  compareMicros: number;
}

const SAMPLE_PARAMS: Record<string, Record<string, unknown>> = {
  'telegram-bot': { TELEGRAM_BOT_TOKEN: '123456789:AAHbenchTokenbenchTokenbenchToken12' },
  'openclaw-agent': { AUTH_PASSWORD: 'bench-password-123', OPENCLAW_GATEWAY_TOKEN: '0123456789abcdef0123456789abcdef' },
  'base-llm': { LITELLM_MASTER_KEY: 'sk-bench0123456789abcdef' },
};

function records(template: string, params: Record<string, unknown>): StackDecisionInput {
  const tenant: Tenant = {
    id: 'benchtenant0001', name: 'Bench', slug: 'bench', domain: 'bench.cloudfreedom.test', status: 'active',
    planId: 'benchplan000001', routerApiKey: 'rk-bench-0123456789', coolifyServerUuid: '', paused: false, coolifyProjectUuid: '',
    syncStatus: '', syncMessage: '', syncedAt: null, created: 0, updated: 0, problems: [],
  };
  const plan: Plan = {
    id: tenant.planId, name: 'bench', maxStacks: 10, cpuLimit: 2, memoryMb: 4096,
    allowedTemplates: Object.keys(SAMPLE_PARAMS), pidsLimit: 0, deleteRetentionDays: 0, created: 0, updated: 0, problems: [],
  };
  const stack: Stack = {
    id: 'benchstack00001', tenantId: tenant.id, name: 'bench', template, params, domains: [], desiredStatus: 'running',
    paused: false, restartRequestedAt: null, status: '', statusMessage: '', coolifyServiceUuid: '', templateVersion: '', appliedHash: '', observedAt: null,
    deleteAfter: null, restartedAt: null, created: 0, updated: 0, problems: [],
  };
  return { tenant, plan, stack, tenantStacks: [stack], hostOwners: new Map(), routerBaseUrl: 'https://router.cloudfreedom.test' };
}

/** Median per-call time in µs over `batches` batches of `perBatch` calls. */
function timeCalls(fn: () => void, perBatch: number, batches: number): number {
  for (let i = 0; i < perBatch; i++) fn(); // warm-up
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < perBatch; i++) fn();
    samples.push(((performance.now() - t0) * 1000) / perBatch);
  }
  return Math.round(median(samples) * 10) / 10;
}

export async function runTemplatesBench(options: { perBatch?: number; batches?: number } = {}): Promise<TemplatesBenchResult[]> {
  const perBatch = options.perBatch ?? 200;
  const batches = options.batches ?? 7;
  const catalog = await loadTemplateCatalog(join(projectRoot(), 'templates'));
  if (catalog.problems.length) throw new Error(`shipped templates have problems: ${JSON.stringify(catalog.problems)}`);
  const results: TemplatesBenchResult[] = [];
  for (const [template, params] of Object.entries(SAMPLE_PARAMS)) {
    const input = records(template, params);
    const first = decideStack(catalog, input);
    if (first.kind !== 'apply') throw new Error(`${template}: ${first.message}`);
    const again = decideStack(catalog, input);
    if (again.kind !== 'apply') throw new Error(`${template}: ${again.message}`);
    results.push({
      template,
      decideMicros: timeCalls(() => void decideStack(catalog, input), perBatch, batches),
      compareMicros: timeCalls(() => void composeEquals(first.composeYaml, again.composeYaml), perBatch, batches),
    });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(JSON.stringify(await runTemplatesBench()) + '\n');
}
