/**
 * A large world for the scale benchmarks: N tenants with M stacks each, seeded into PocketBase and,
 * optionally, into the Coolify simulator as services that already match what the daemon would
 * deploy (the "PocketBase restored, daemon fields empty" adoption case).
 *
 * PocketBase: creating 12,000 records one API call at a time takes minutes, so the records go in
 * through a migration-time SQL batch instead: `startPocketBase` is pointed at a copy of the
 * project's migrations plus one generated migration that inserts every row with multi-row
 * `INSERT`s inside the migration's transaction (a few seconds for 10,000 stacks). Record ids are
 * generated here (15 lower-case alphanumerics, PocketBase's pattern), so the simulator's services
 * can carry the same markers.
 *
 * Simulator: seeded through its hand-edit interface (no HTTP: 10,000 creates over the API take
 * minutes): a project per tenant, a service per stack with the decision's compose and urls parsed
 * and stored as the API would, its env vars set, running; so what it holds is what Coolify would
 * hold after the daemon converged.
 */
import { copyFile, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProjectMarker, formatServiceMarker } from '../src/coolify/markers.js';
import type { CoolifySim } from '../src/coolify-sim/index.js';
import { catalogPolicy } from '../src/engine/policy.js';
import { formatPbDate, parsePlan, parseStack, parseTenant } from '../src/pocketbase/records.js';
import { projectRoot } from '../src/pocketbase/server-process.js';
import type { Plan, Stack, Tenant } from '../src/pocketbase/types.js';
import { loadTemplateCatalog } from '../src/templates/index.js';
import { MANAGED_ENV_VAR, managedEnvValue } from '../reconcilers/managed-env.js';

export const BENCH_BOT_TOKEN = '123456789:AAHbenchTokenbenchTokenbenchToken12';
export const ROUTER_BASE_URL = 'https://router.cloudfreedom.test';

export interface World {
  plan: Plan;
  tenants: Tenant[];
  stacks: Stack[];
}

/** Deterministic 15-character record id from a prefix letter and a number. */
function recordId(prefix: string, n: number): string {
  return prefix + n.toString(36).padStart(14, '0');
}

/** `tenants` tenants with `perTenant` running telegram-bot stacks each; all daemon fields empty. */
export function buildWorld(tenants: number, perTenant: number): World {
  const at = formatPbDate(Date.UTC(2026, 0, 1));
  const plan = parsePlan({
    id: recordId('p', 0),
    name: 'bench',
    max_stacks: perTenant,
    cpu_limit: 1,
    memory_mb: 1024,
    allowed_templates: ['telegram-bot'],
    created: at,
    updated: at,
  });
  const ts: Tenant[] = [];
  const ss: Stack[] = [];
  for (let t = 0; t < tenants; t++) {
    const tenant = parseTenant({
      id: recordId('t', t),
      name: `Bench ${t}`,
      slug: `bench-${t}`,
      domain: `bench-${t}.cloudfreedom.test`,
      status: 'active',
      plan: plan.id,
      router_api_key: `rk-bench-${t}-0123456789abcdef`,
      created: at,
      updated: at,
    });
    ts.push(tenant);
    for (let i = 0; i < perTenant; i++) {
      const n = t * perTenant + i;
      ss.push(
        parseStack({
          id: recordId('s', n),
          tenant_id: tenant.id,
          name: `s-${i}`,
          template: 'telegram-bot',
          params: { TELEGRAM_BOT_TOKEN: BENCH_BOT_TOKEN },
          domains: [],
          desired_status: 'running',
          created: at,
          updated: at,
        }),
      );
    }
  }
  return { plan, tenants: ts, stacks: ss };
}

const q = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`);

/** JS source of a migration that inserts the world's rows (multi-row INSERTs of 500). */
function seedMigration(world: World): string {
  const at = formatPbDate(Date.UTC(2026, 0, 1));
  const statements: string[] = [];
  const insert = (table: string, columns: string[], rows: (string | number)[][]) => {
    for (let i = 0; i < rows.length; i += 500) {
      const values = rows.slice(i, i + 500).map((r) => `(${r.map(q).join(',')})`);
      statements.push(`INSERT INTO ${table} (${columns.join(',')}) VALUES ${values.join(',')}`);
    }
  };
  const p = world.plan;
  insert('plans', ['id', 'name', 'max_stacks', 'cpu_limit', 'memory_mb', 'allowed_templates', 'created', 'updated'], [
    [p.id, p.name, p.maxStacks, p.cpuLimit, p.memoryMb, JSON.stringify(p.allowedTemplates), at, at],
  ]);
  insert(
    'tenants',
    ['id', 'name', 'slug', 'domain', 'status', 'plan', 'router_api_key', 'created', 'updated'],
    world.tenants.map((t) => [t.id, t.name, t.slug, t.domain, t.status, t.planId, t.routerApiKey, at, at]),
  );
  insert(
    'stacks',
    ['id', 'tenant_id', 'name', 'template', 'params', 'domains', 'desired_status', 'created', 'updated'],
    world.stacks.map((s) => [s.id, s.tenantId, s.name, s.template, JSON.stringify(s.params), '[]', s.desiredStatus, at, at]),
  );
  return `migrate((app) => {\n${statements.map((s) => `  app.db().newQuery(${JSON.stringify(s)}).execute();`).join('\n')}\n});\n`;
}

/** A migrations folder holding the project's migrations and one that seeds `world`. */
export async function seededMigrationsDir(world: World): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cf-bench-migrations-'));
  const source = join(projectRoot(), 'pocketbase', 'pb_migrations');
  for (const f of await readdir(source)) await copyFile(join(source, f), join(dir, f));
  // Named after every real migration so it runs last.
  await writeFile(join(dir, '2999999999_bench_seed.js'), seedMigration(world));
  return dir;
}

/**
 * Puts into the simulator, for every stack, the service the daemon would have made and started
 * (compose, urls, env vars and the managed-keys list), in a project per tenant with our markers.
 */
export async function seedMatchingServices(sim: CoolifySim, world: World): Promise<void> {
  const catalog = await loadTemplateCatalog(join(projectRoot(), 'templates'));
  const policy = catalogPolicy(catalog);
  const stacksOf = new Map<string, Stack[]>();
  for (const s of world.stacks) stacksOf.set(s.tenantId, [...(stacksOf.get(s.tenantId) ?? []), s]);
  const tenantsById = new Map(world.tenants.map((t) => [t.id, t]));
  const entries = world.stacks.map((s) => ({ tenant: tenantsById.get(s.tenantId)!, stack: s }));
  const hostOwners = policy.hostOwners(entries);
  for (const tenant of world.tenants) {
    const project = sim.edits.createForeignProject({ name: `cf-tenant-${tenant.slug}`, description: formatProjectMarker({ tenantId: tenant.id }) });
    const tenantStacks = stacksOf.get(tenant.id) ?? [];
    for (const stack of tenantStacks) {
      const decision = policy.decide({ tenant, plan: world.plan, stack, tenantStacks, hostOwners, routerBaseUrl: ROUTER_BASE_URL });
      if (decision.kind !== 'apply') throw new Error(`bench world: ${decision.message}`);
      const { uuid } = sim.edits.createForeignService({
        projectUuid: project.uuid,
        name: `${tenant.slug}-${stack.name}`,
        description: formatServiceMarker({ stackId: stack.id, tenantId: tenant.id }),
        composeYaml: decision.composeYaml,
        urls: Object.fromEntries(decision.urls.flatMap((u) => (u.url ? [[u.name, u.url]] : []))),
      });
      for (const v of decision.env) sim.edits.setEnv(uuid, v.key, v.value);
      sim.edits.setEnv(uuid, MANAGED_ENV_VAR, managedEnvValue(decision.env.map((v) => v.key)));
      sim.edits.setStatus(uuid, 'running:healthy');
    }
  }
}
