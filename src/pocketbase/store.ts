/**
 * Typed reads and daemon-field writes against PocketBase. Every filter is built with `pb.filter`
 * (values bound, never concatenated). The store also remembers, per record, the daemon-field values
 * it last wrote, so the change feed can tell the daemon's own writes from an admin's stale save.
 */
import type PocketBase from 'pocketbase';
import { ClientResponseError } from 'pocketbase';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging/logger.js';
import type { Redactor } from '../logging/redactor.js';
import {
  formatPbDate,
  parsePbDate,
  parsePlan,
  parseStack,
  parseTenant,
  stackPatchToBody,
  tenantPatchToBody,
  STACK_DAEMON_KEYS,
  TENANT_DAEMON_KEYS,
} from './records.js';
import {
  EVENT_OUTCOMES,
  type EventOutcome,
  type Plan,
  type ReconcileEvent,
  type Stack,
  type StackStatusPatch,
  type Tenant,
  type TenantStatusPatch,
} from './types.js';

export interface PocketBaseStoreOptions {
  pb: PocketBase;
  logger: Logger;
  clock: Clock;
  /** When given, event messages are masked once more before they are stored (defence in depth). */
  redactor?: Redactor;
}

/** A stored reconcile event, as read back. */
export interface StoredReconcileEvent extends ReconcileEvent {
  id: string;
  /** Epoch ms. */
  created: number;
}

/** PocketBase's maximum page size; one request per 1000 records. */
const BATCH = 1000;
/** Stable order for offset paging (records created during a listing are caught by the next event or resync). */
const SORT = 'id';

type WrittenTenant = Partial<Record<keyof TenantStatusPatch, unknown>>;
type WrittenStack = Partial<Record<keyof StackStatusPatch, unknown>>;

export class PocketBaseStore {
  readonly pb: PocketBase;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #redactor: Redactor | undefined;
  /** Per record id: daemon-field values (camelCase, dates as epoch ms or null) the daemon last wrote. */
  readonly #writtenTenants = new Map<string, WrittenTenant>();
  readonly #writtenStacks = new Map<string, WrittenStack>();

  constructor(options: PocketBaseStoreOptions) {
    this.pb = options.pb;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#redactor = options.redactor;
  }

  async getPlan(id: string): Promise<Plan | null> {
    const raw = await this.#getOne('plans', id);
    return raw ? parsePlan(raw) : null;
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const raw = await this.#getOne('tenants', id);
    return raw ? parseTenant(raw) : null;
  }

  async getStack(id: string): Promise<Stack | null> {
    const raw = await this.#getOne('stacks', id);
    return raw ? parseStack(raw) : null;
  }

  async listPlans(): Promise<Plan[]> {
    return (await this.#list('plans')).map(parsePlan);
  }

  async listTenants(): Promise<Tenant[]> {
    return (await this.#list('tenants')).map(parseTenant);
  }

  async listStacks(): Promise<Stack[]> {
    return (await this.#list('stacks')).map(parseStack);
  }

  async listStacksOfTenant(tenantId: string): Promise<Stack[]> {
    return (await this.#list('stacks', this.pb.filter('tenant_id = {:tenantId}', { tenantId }))).map(parseStack);
  }

  async listTenantsOfPlan(planId: string): Promise<Tenant[]> {
    return (await this.#list('tenants', this.pb.filter('plan = {:planId}', { planId }))).map(parseTenant);
  }

  /** Raw PocketBase records of a collection, all of them, in `id` order (the change feed fingerprints these). */
  async listRaw(collection: 'plans' | 'tenants' | 'stacks'): Promise<Record<string, unknown>[]> {
    return this.#list(collection);
  }

  /** Every stack whose tenant is on `planId`, in one request (relation traversal in the filter). */
  async listStacksOfPlan(planId: string): Promise<Stack[]> {
    return (await this.#list('stacks', this.pb.filter('tenant_id.plan = {:planId}', { planId }))).map(parseStack);
  }

  /**
   * Writes only the daemon-owned fields present in `patch`. Returns the record as saved, or null
   * when it no longer exists.
   */
  async updateTenant(id: string, patch: TenantStatusPatch): Promise<Tenant | null> {
    const body = tenantPatchToBody(patch);
    const raw = await this.#update('tenants', id, body, this.#writtenTenants, patch, TENANT_DAEMON_KEYS);
    return raw ? parseTenant(raw) : null;
  }

  /** As updateTenant, for stacks. */
  async updateStack(id: string, patch: StackStatusPatch): Promise<Stack | null> {
    const body = stackPatchToBody(patch);
    const raw = await this.#update('stacks', id, body, this.#writtenStacks, patch, STACK_DAEMON_KEYS);
    return raw ? parseStack(raw) : null;
  }

  /** Deletes a stack record; one that is already gone counts as deleted. */
  async deleteStack(id: string): Promise<void> {
    try {
      await this.pb.collection('stacks').delete(id);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    this.#writtenStacks.delete(id);
  }

  async addEvent(event: ReconcileEvent): Promise<void> {
    const mask = (s: string) => (this.#redactor ? this.#redactor.redact(s) : s);
    await this.pb.collection('reconcile_events').create({
      subject: event.subject,
      action: event.action,
      outcome: event.outcome,
      message: mask(event.message),
      coolify_uuid: event.coolifyUuid,
    });
  }

  /**
   * Deletes reconcile events created more than `olderThanMs` milliseconds before `clock.now()`,
   * at most `max` of them (default: all), stopping early when `signal` aborts. Returns how many
   * were deleted. Deletes one by one (the batch API is off by default).
   */
  async pruneEvents(olderThanMs: number, options: { max?: number; signal?: AbortSignal } = {}): Promise<number> {
    const cutoff = new Date(this.#clock.now() - olderThanMs);
    const filter = this.pb.filter('created < {:cutoff}', { cutoff });
    const max = options.max ?? Infinity;
    let deleted = 0;
    while (deleted < max && !options.signal?.aborted) {
      const page = await this.pb
        .collection('reconcile_events')
        .getList(1, 200, { filter, sort: 'created,id', fields: 'id', skipTotal: true });
      if (page.items.length === 0) break;
      for (const item of page.items) {
        if (deleted >= max || options.signal?.aborted) break;
        try {
          await this.pb.collection('reconcile_events').delete(item.id);
          deleted++;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      if (page.items.length < 200) break;
    }
    if (deleted > 0) this.#logger.info('pruned reconcile events', { deleted, olderThan: formatPbDate(cutoff.getTime()) });
    return deleted;
  }

  /** Events oldest first, optionally of one subject (`tenant:<id>` / `stack:<id>`). */
  async listEvents(options: { subject?: string } = {}): Promise<StoredReconcileEvent[]> {
    const filter = options.subject === undefined ? undefined : this.pb.filter('subject = {:subject}', { subject: options.subject });
    const items = await this.pb
      .collection('reconcile_events')
      .getFullList({ batch: BATCH, sort: 'created,id', ...(filter ? { filter } : {}) });
    return items.map((r) => {
      const raw = r as unknown as Record<string, unknown>;
      const outcome = EVENT_OUTCOMES.includes(raw.outcome as EventOutcome) ? (raw.outcome as EventOutcome) : 'error';
      return {
        id: String(raw.id),
        subject: String(raw.subject ?? ''),
        action: String(raw.action ?? ''),
        outcome,
        message: String(raw.message ?? ''),
        coolifyUuid: String(raw.coolify_uuid ?? ''),
        created: parsePbDate(raw.created) ?? 0,
      };
    });
  }

  /**
   * Daemon-field values (camelCase; dates as epoch ms or null) this process last wrote for a record,
   * or undefined if it has written none. Used by the change feed to spot stale admin copies.
   */
  lastWritten(collection: 'tenants' | 'stacks', id: string): Readonly<Record<string, unknown>> | undefined {
    return (collection === 'tenants' ? this.#writtenTenants : this.#writtenStacks).get(id);
  }

  /** Forgets what was written for a record (it was deleted). */
  forget(collection: 'tenants' | 'stacks', id: string): void {
    (collection === 'tenants' ? this.#writtenTenants : this.#writtenStacks).delete(id);
  }

  async #getOne(collection: 'plans' | 'tenants' | 'stacks', id: string): Promise<Record<string, unknown> | null> {
    if (!id) return null;
    try {
      return (await this.pb.collection(collection).getOne(id)) as unknown as Record<string, unknown>;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async #list(collection: 'plans' | 'tenants' | 'stacks', filter?: string): Promise<Record<string, unknown>[]> {
    const items = await this.pb
      .collection(collection)
      .getFullList({ batch: BATCH, sort: SORT, ...(filter === undefined ? {} : { filter }) });
    return items as unknown as Record<string, unknown>[];
  }

  async #update<K extends string>(
    collection: 'tenants' | 'stacks',
    id: string,
    body: Record<string, unknown>,
    memory: Map<string, Partial<Record<K, unknown>>>,
    patch: Partial<Record<K, unknown>>,
    keys: readonly K[],
  ): Promise<Record<string, unknown> | null> {
    if (!id) return null;
    // Remember before sending: the realtime event of this very write can arrive before the HTTP reply.
    const previous = memory.get(id);
    const next: Partial<Record<K, unknown>> = { ...previous };
    for (const k of keys) if (patch[k] !== undefined) next[k] = patch[k];
    memory.set(id, next);
    try {
      if (Object.keys(body).length === 0) return await this.#getOne(collection, id);
      return (await this.pb.collection(collection).update(id, body)) as unknown as Record<string, unknown>;
    } catch (e) {
      if (previous) memory.set(id, previous);
      else memory.delete(id);
      if (isNotFound(e)) return null;
      throw e;
    }
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ClientResponseError && e.status === 404;
}
