/**
 * Records created the way an admin creates them: through a separate superuser client, with
 * PocketBase field names (snake_case). Names are unique per call so tests can share a server.
 */
import type PocketBase from 'pocketbase';

export type RawRecord = Record<string, unknown> & { id: string };

let counter = 0;
/** A slug that matches the SPEC pattern and is unique within this process. */
export function uniqueName(prefix = 't'): string {
  counter++;
  return `${prefix}-${process.pid.toString(36)}-${counter.toString(36)}`.slice(0, 32).replace(/-+$/, '');
}

export async function createPlan(pb: PocketBase, fields: Record<string, unknown> = {}): Promise<RawRecord> {
  return (await pb.collection('plans').create({
    name: uniqueName('plan'),
    max_stacks: 5,
    cpu_limit: 1,
    memory_mb: 1024,
    allowed_templates: ['telegram-bot'],
    ...fields,
  })) as RawRecord;
}

/** `fields.plan` is required (a plan id). */
export async function createTenant(pb: PocketBase, fields: Record<string, unknown> & { plan: string }): Promise<RawRecord> {
  const slug = uniqueName('tn');
  return (await pb.collection('tenants').create({
    name: `Tenant ${slug}`,
    slug,
    domain: `${slug}.cloudfreedom.test`,
    status: 'active',
    router_api_key: `rk-${slug}-secret`,
    ...fields,
  })) as RawRecord;
}

/** `fields.tenant_id` is required (a tenant id). */
export async function createStack(pb: PocketBase, fields: Record<string, unknown> & { tenant_id: string }): Promise<RawRecord> {
  return (await pb.collection('stacks').create({
    name: uniqueName('st'),
    template: 'telegram-bot',
    params: { BOT_NAME: 'Test Bot' },
    domains: [],
    desired_status: 'running',
    ...fields,
  })) as RawRecord;
}

/** A plan, a tenant on it and one stack of that tenant. */
export async function createTenantWithStack(
  pb: PocketBase,
  fields: { plan?: Record<string, unknown>; tenant?: Record<string, unknown>; stack?: Record<string, unknown> } = {},
): Promise<{ plan: RawRecord; tenant: RawRecord; stack: RawRecord }> {
  const plan = await createPlan(pb, fields.plan);
  const tenant = await createTenant(pb, { ...fields.tenant, plan: plan.id });
  const stack = await createStack(pb, { ...fields.stack, tenant_id: tenant.id });
  return { plan, tenant, stack };
}

/**
 * Saves a whole record back as the admin UI does: every field of `copy` is written, including
 * daemon-owned fields, which may be stale. `changes` are applied on top.
 */
export async function adminSave(
  pb: PocketBase,
  collection: 'plans' | 'tenants' | 'stacks',
  copy: RawRecord,
  changes: Record<string, unknown> = {},
): Promise<RawRecord> {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(copy)) {
    if (['id', 'collectionId', 'collectionName', 'created', 'updated', 'expand'].includes(k)) continue;
    body[k] = v;
  }
  return (await pb.collection(collection).update(copy.id, { ...body, ...changes })) as RawRecord;
}
