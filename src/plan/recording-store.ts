/**
 * A read-only PocketBase store for `plan`: reads go to PocketBase; status writes, record deletions
 * and audit events are recorded instead of made. Later reads in the same pass see the recorded
 * writes (a tenant's planned project uuid reaches its stacks), as the daemon's later steps would.
 */
import type { StorePort } from '../engine/ports.js';
import type { Plan, ReconcileEvent, Stack, StackStatusPatch, Tenant, TenantStatusPatch } from '../pocketbase/types.js';

export type RecordWrite =
  | { kind: 'tenant'; id: string; patch: TenantStatusPatch; before: Tenant | undefined }
  | { kind: 'stack'; id: string; patch: StackStatusPatch; before: Stack | undefined }
  | { kind: 'delete_stack'; id: string };

export class RecordingStore implements StorePort {
  readonly #inner: StorePort;
  readonly #onWrite: (write: RecordWrite) => void;
  readonly #onEvent: (event: ReconcileEvent) => void;
  readonly #now: () => number;
  readonly #tenantPatches = new Map<string, TenantStatusPatch>();
  readonly #stackPatches = new Map<string, StackStatusPatch>();
  readonly #deletedStacks = new Set<string>();

  constructor(options: {
    inner: StorePort;
    onWrite: (write: RecordWrite) => void;
    onEvent: (event: ReconcileEvent) => void;
    /** Epoch ms; what PocketBase would put in a written record's `updated`. */
    now: () => number;
  }) {
    this.#inner = options.inner;
    this.#onWrite = options.onWrite;
    this.#onEvent = options.onEvent;
    this.#now = options.now;
  }

  #tenant(t: Tenant | null): Tenant | null {
    const patch = t ? this.#tenantPatches.get(t.id) : undefined;
    return t && patch ? { ...t, ...patch } : t;
  }

  #stack(s: Stack | null): Stack | null {
    if (!s || this.#deletedStacks.has(s.id)) return null;
    const patch = this.#stackPatches.get(s.id);
    return patch ? { ...s, ...patch } : s;
  }

  getPlan(id: string): Promise<Plan | null> {
    return this.#inner.getPlan(id);
  }

  async getTenant(id: string): Promise<Tenant | null> {
    return this.#tenant(await this.#inner.getTenant(id));
  }

  async getStack(id: string): Promise<Stack | null> {
    return this.#stack(await this.#inner.getStack(id));
  }

  listPlans(): Promise<Plan[]> {
    return this.#inner.listPlans();
  }

  async listTenants(): Promise<Tenant[]> {
    return (await this.#inner.listTenants()).map((t) => this.#tenant(t) as Tenant);
  }

  async listStacks(): Promise<Stack[]> {
    return (await this.#inner.listStacks()).flatMap((s) => this.#stack(s) ?? []);
  }

  async listStacksOfTenant(tenantId: string): Promise<Stack[]> {
    return (await this.#inner.listStacksOfTenant(tenantId)).flatMap((s) => this.#stack(s) ?? []);
  }

  async updateTenant(id: string, patch: TenantStatusPatch): Promise<{ updated: number } | null> {
    const before = (await this.getTenant(id)) ?? undefined;
    this.#tenantPatches.set(id, { ...this.#tenantPatches.get(id), ...patch });
    this.#onWrite({ kind: 'tenant', id, patch, before });
    return before ? { updated: this.#now() } : null;
  }

  async updateStack(id: string, patch: StackStatusPatch): Promise<{ updated: number } | null> {
    const before = (await this.getStack(id)) ?? undefined;
    if (!before) return null;
    this.#stackPatches.set(id, { ...this.#stackPatches.get(id), ...patch });
    this.#onWrite({ kind: 'stack', id, patch, before });
    return { updated: this.#now() };
  }

  deleteStack(id: string): Promise<unknown> {
    this.#deletedStacks.add(id);
    this.#onWrite({ kind: 'delete_stack', id });
    return Promise.resolve(undefined);
  }

  addEvent(event: ReconcileEvent): Promise<unknown> {
    this.#onEvent(event);
    return Promise.resolve(undefined);
  }

  /** Pruning old events is housekeeping, not a decision: nothing to plan. */
  pruneEvents(): Promise<number> {
    return Promise.resolve(0);
  }
}
