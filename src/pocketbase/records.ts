/**
 * Converts PocketBase JSON records (snake_case, SPEC §2) into the typed Plan / Tenant / Stack of
 * `types.ts`, and daemon-field patches back into PocketBase bodies.
 *
 * Parsing never throws for a bad record: every field is checked on its own and a malformed value is
 * replaced by a neutral default while a sentence naming the field goes into `problems`. The
 * reconciler must not act on a record with problems; it reports them on that record instead.
 */
import { createHash } from 'node:crypto';
import {
  STACK_DESIRED_STATUSES,
  STACK_STATUSES,
  TENANT_STATUSES,
  TENANT_SYNC_STATUSES,
  type Plan,
  type Stack,
  type StackStatusPatch,
  type Tenant,
  type TenantStatusPatch,
} from './types.js';

export type CollectionName = 'plans' | 'tenants' | 'stacks' | 'reconcile_events';

/** PocketBase datetime text, UTC with milliseconds: "2006-01-02 15:04:05.000Z". */
const PB_DATE = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)Z$/;

/** PocketBase date text → epoch ms; "" or null → null; anything else → undefined (malformed). */
export function parsePbDate(value: unknown): number | null | undefined {
  if (value === '' || value === null || value === undefined) return null;
  if (typeof value !== 'string') return undefined;
  const m = PB_DATE.exec(value);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}Z`);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Epoch ms → PocketBase date text; null → "" (which clears a date field). */
export function formatPbDate(ms: number | null): string {
  if (ms === null) return '';
  return new Date(ms).toISOString().replace('T', ' ');
}

/** Reads one record's fields, collecting problems instead of throwing. */
class FieldReader {
  readonly problems: string[] = [];
  readonly #raw: Record<string, unknown>;

  constructor(raw: unknown, what: string) {
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
      this.#raw = raw as Record<string, unknown>;
    } else {
      this.#raw = {};
      this.problems.push(`${what} is not a JSON object`);
    }
  }

  /** Text field. PocketBase always sends a string ("" when empty); null/missing also read as "". */
  text(name: string): string {
    const v = this.#raw[name];
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    this.problems.push(`field ${name} must be text, got ${describe(v)}`);
    return '';
  }

  number(name: string): number {
    const v = this.#raw[name];
    if (v === undefined || v === null) return 0;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    this.problems.push(`field ${name} must be a number, got ${describe(v)}`);
    return 0;
  }

  /**
   * A select value that must be one of `allowed`; `fallback` is used (with a problem) otherwise.
   * A database the daemon was installed into may have values of its own (e.g. a tenant status
   * `inactive`): the problem names the value and what to set instead.
   */
  choice<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.#raw[name];
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    const what = typeof v === 'string' && SELECT_VALUE.test(v) ? `is "${v}", which cf-reconciler does not know` : `is ${describe(v)}`;
    this.problems.push(`field ${name} ${what}: set it to one of ${allowed.join(', ')}`);
    return fallback;
  }

  /** Bool field; empty (null or missing, e.g. a field not added yet) reads as false. */
  bool(name: string): boolean {
    const v = this.#raw[name];
    if (v === undefined || v === null) return false;
    if (typeof v === 'boolean') return v;
    this.problems.push(`field ${name} must be true or false, got ${describe(v)}`);
    return false;
  }

  /** A text field the daemon cannot do without: empty is a problem saying what to fill in. */
  requiredText(name: string, what: string): string {
    const v = this.text(name);
    if (v === '' && !this.problems.some((p) => p.startsWith(`field ${name} `))) this.problems.push(`field ${name} is empty: ${what}`);
    return v;
  }

  /** A select value that may also be empty (daemon fields not written yet). */
  optionalChoice<T extends string>(name: string, allowed: readonly T[]): T | '' {
    const v = this.#raw[name];
    if (v === undefined || v === null || v === '') return '';
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.problems.push(`field ${name} must be empty or one of ${allowed.join(', ')}, got ${describe(v)}`);
    return '';
  }

  date(name: string): number | null {
    const ms = parsePbDate(this.#raw[name]);
    if (ms !== undefined) return ms;
    this.problems.push(`field ${name} must be a date, got ${describe(this.#raw[name])}`);
    return null;
  }

  /** `created`/`updated`: always set by PocketBase; 0 when missing or unreadable. */
  stamp(name: string): number {
    const ms = parsePbDate(this.#raw[name]);
    if (typeof ms === 'number') return ms;
    if (ms === undefined) this.problems.push(`field ${name} must be a date, got ${describe(this.#raw[name])}`);
    return 0;
  }

  /** JSON field holding an object; empty (null) reads as {}. */
  jsonObject(name: string): Record<string, unknown> {
    const v = this.#raw[name];
    if (v === undefined || v === null) return {};
    if (typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    this.problems.push(`field ${name} must be a JSON object (e.g. {"KEY": "value"}), got ${describe(v)}`);
    return {};
  }

  /** JSON field holding an array of strings; empty (null) reads as []. */
  jsonStringArray(name: string): string[] {
    const v = this.#raw[name];
    if (v === undefined || v === null) return [];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    this.problems.push(`field ${name} must be a JSON array of strings (e.g. ["a", "b"]), got ${describe(v)}`);
    return [];
  }
}

/** Select-like values are shown in problems; anything else is only described (it may be a secret). */
const SELECT_VALUE = /^[A-Za-z0-9_-]{1,32}$/;

/** Tenant slugs and stack names go into Coolify names and host names (SPEC §2). */
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const SLUG_RULE = 'lower-case letters, digits and dashes, at most 32, not starting or ending with a dash';

/** A short description of a bad value for problem text. Values are not echoed: they may hold secrets. */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty array' : 'an array';
  if (typeof v === 'string') return v === '' ? 'an empty string' : 'a string';
  return `a ${typeof v}`;
}

export function parsePlan(raw: unknown): Plan {
  const r = new FieldReader(raw, 'plan record');
  const plan: Plan = {
    id: r.text('id'),
    name: r.text('name'),
    maxStacks: r.number('max_stacks'),
    cpuLimit: r.number('cpu_limit'),
    memoryMb: r.number('memory_mb'),
    allowedTemplates: r.jsonStringArray('allowed_templates'),
    pidsLimit: r.number('pids_limit'),
    deleteRetentionDays: r.number('delete_retention_days'),
    created: r.stamp('created'),
    updated: r.stamp('updated'),
    problems: r.problems,
  };
  if (!Number.isInteger(plan.pidsLimit) || plan.pidsLimit < 0) r.problems.push('field pids_limit must be a whole number >= 0 (empty or 0: 512)');
  if (!(plan.deleteRetentionDays >= 0)) r.problems.push('field delete_retention_days must be a number of days >= 0 (empty or 0: the default retention)');
  if (!Number.isInteger(plan.maxStacks) || plan.maxStacks < 0) r.problems.push('field max_stacks must be a whole number >= 0');
  if (!(plan.cpuLimit > 0)) r.problems.push('field cpu_limit must be greater than 0');
  if (!Number.isInteger(plan.memoryMb) || plan.memoryMb <= 0) r.problems.push('field memory_mb must be a whole number > 0');
  return plan;
}

export function parseTenant(raw: unknown): Tenant {
  const r = new FieldReader(raw, 'tenant record');
  const tenant: Tenant = {
    id: r.text('id'),
    name: r.text('name'),
    slug: r.requiredText('slug', `set a unique slug (${SLUG_RULE})`),
    domain: r.text('domain'),
    // A tenant whose status cannot be read is treated as suspended: the safe state (nothing new runs).
    status: r.choice('status', TENANT_STATUSES, 'suspended'),
    planId: r.requiredText('plan', "choose the tenant's plan"),
    routerApiKey: r.text('router_api_key'),
    coolifyServerUuid: r.text('coolify_server_uuid'),
    paused: r.bool('paused'),
    coolifyProjectUuid: r.text('coolify_project_uuid'),
    syncStatus: r.optionalChoice('sync_status', TENANT_SYNC_STATUSES),
    syncMessage: r.text('sync_message'),
    syncedAt: r.date('synced_at'),
    created: r.stamp('created'),
    updated: r.stamp('updated'),
    problems: r.problems,
  };
  if (tenant.slug !== '' && !SLUG.test(tenant.slug)) r.problems.push(`field slug must be ${SLUG_RULE}; change it`);
  return tenant;
}

export function parseStack(raw: unknown): Stack {
  const r = new FieldReader(raw, 'stack record');
  const stack: Stack = {
    id: r.text('id'),
    tenantId: r.requiredText('tenant_id', "choose the stack's tenant"),
    name: r.requiredText('name', `set a name (${SLUG_RULE})`),
    template: r.requiredText('template', 'set a template name'),
    params: r.jsonObject('params'),
    domains: r.jsonStringArray('domains'),
    // Unreadable desired state reads as stopped: never start something we do not understand.
    desiredStatus: r.choice('desired_status', STACK_DESIRED_STATUSES, 'stopped'),
    paused: r.bool('paused'),
    restartRequestedAt: r.date('restart_requested_at'),
    status: r.optionalChoice('status', STACK_STATUSES),
    statusMessage: r.text('status_message'),
    coolifyServiceUuid: r.text('coolify_service_uuid'),
    templateVersion: r.text('template_version'),
    appliedHash: r.text('applied_hash'),
    observedAt: r.date('observed_at'),
    deleteAfter: r.date('delete_after'),
    restartedAt: r.date('restarted_at'),
    created: r.stamp('created'),
    updated: r.stamp('updated'),
    problems: r.problems,
  };
  if (stack.name !== '' && !SLUG.test(stack.name)) r.problems.push(`field name must be ${SLUG_RULE}; change it`);
  return stack;
}

/** camelCase daemon field → PocketBase field, and whether it is a date (epoch ms ↔ PB text). */
const TENANT_DAEMON_FIELDS = {
  coolifyProjectUuid: { pb: 'coolify_project_uuid', date: false },
  syncStatus: { pb: 'sync_status', date: false },
  syncMessage: { pb: 'sync_message', date: false },
  syncedAt: { pb: 'synced_at', date: true },
} as const satisfies Record<keyof TenantStatusPatch, { pb: string; date: boolean }>;

const STACK_DAEMON_FIELDS = {
  status: { pb: 'status', date: false },
  statusMessage: { pb: 'status_message', date: false },
  coolifyServiceUuid: { pb: 'coolify_service_uuid', date: false },
  templateVersion: { pb: 'template_version', date: false },
  appliedHash: { pb: 'applied_hash', date: false },
  observedAt: { pb: 'observed_at', date: true },
  deleteAfter: { pb: 'delete_after', date: true },
  restartedAt: { pb: 'restarted_at', date: true },
} as const satisfies Record<keyof StackStatusPatch, { pb: string; date: boolean }>;

export const TENANT_DAEMON_KEYS = Object.keys(TENANT_DAEMON_FIELDS) as (keyof TenantStatusPatch)[];
export const STACK_DAEMON_KEYS = Object.keys(STACK_DAEMON_FIELDS) as (keyof StackStatusPatch)[];

function patchBody(patch: object, fields: Record<string, { pb: string; date: boolean }>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    const f = fields[key];
    // Unknown keys and explicit undefined are skipped: a patch writes only daemon fields it names.
    if (!f || value === undefined) continue;
    body[f.pb] = f.date ? formatPbDate(value as number | null) : value;
  }
  return body;
}

/** The PocketBase body for a tenant patch: only daemon-owned fields present in `patch`. */
export function tenantPatchToBody(patch: TenantStatusPatch): Record<string, unknown> {
  return patchBody(patch, TENANT_DAEMON_FIELDS);
}

/** The PocketBase body for a stack patch: only daemon-owned fields present in `patch`. */
export function stackPatchToBody(patch: StackStatusPatch): Record<string, unknown> {
  return patchBody(patch, STACK_DAEMON_FIELDS);
}

/** JSON with object keys sorted, so equal values always give equal text (fingerprints). */
export function stableStringify(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

/** PocketBase fields people own, per collection: a change to any of them is worth a reconcile. */
export const ADMIN_FIELDS: Record<'plans' | 'tenants' | 'stacks', readonly string[]> = {
  plans: ['name', 'max_stacks', 'cpu_limit', 'memory_mb', 'allowed_templates', 'pids_limit', 'delete_retention_days'],
  tenants: ['name', 'slug', 'domain', 'status', 'plan', 'router_api_key', 'coolify_server_uuid', 'paused'],
  stacks: ['tenant_id', 'name', 'template', 'params', 'domains', 'desired_status', 'paused', 'restart_requested_at'],
};

/**
 * Fingerprint of the admin-owned fields of a raw PocketBase record (REST and realtime send the same
 * JSON): equal fingerprints mean no admin change. Taken from the raw values, not the parsed ones, so
 * a malformed value edited into another malformed value still counts as a change. Hashed so the
 * router key is not kept in memory as text.
 */
export function adminFingerprint(collection: 'plans' | 'tenants' | 'stacks', raw: Record<string, unknown>): string {
  const picked: Record<string, unknown> = {};
  for (const f of ADMIN_FIELDS[collection]) picked[f] = raw[f] ?? null;
  return createHash('sha256').update(stableStringify(picked)).digest('base64url');
}
