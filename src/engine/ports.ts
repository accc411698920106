/**
 * What the reconcilers need from their collaborators, stated narrowly so each side can be
 * replaced (a real PocketBase store, a templates catalog) without the reconcilers knowing how.
 * The real implementations live in src/pocketbase, src/templates and src/queue.
 */
import type {
  Plan,
  ReconcileEvent,
  ReconcileKey,
  Stack,
  StackStatusPatch,
  Tenant,
  TenantStatusPatch,
} from '../pocketbase/types.js';
import type { StackDecision, StackDecisionInput } from '../templates/types.js';

export interface StorePort {
  getPlan(id: string): Promise<Plan | null>;
  getTenant(id: string): Promise<Tenant | null>;
  getStack(id: string): Promise<Stack | null>;
  listPlans(): Promise<Plan[]>;
  listTenants(): Promise<Tenant[]>;
  listStacks(): Promise<Stack[]>;
  listStacksOfTenant(tenantId: string): Promise<Stack[]>;
  updateTenant(id: string, patch: TenantStatusPatch): Promise<{ updated: number } | null>;
  /** The record as saved (its new `updated`), or null when it is gone. */
  updateStack(id: string, patch: StackStatusPatch): Promise<{ updated: number } | null>;
  /** 404 counts as success. */
  deleteStack(id: string): Promise<unknown>;
  addEvent(event: ReconcileEvent): Promise<unknown>;
  /** Deletes up to `max` reconcile_events older than `olderThanMs` (ms ago); returns how many. */
  pruneEvents(olderThanMs: number, options?: { max?: number; signal?: AbortSignal }): Promise<number>;
}

/** Template policy: pure functions over the loaded catalog. */
export interface PolicyPort {
  decide(input: StackDecisionInput): StackDecision;
  /** Digest of every input `decide` reads: equal digests, equal decisions (the decision cache's key). */
  decisionKey(input: StackDecisionInput): string;
  /** Host → owning stack id, oldest claim first, over every tenant's stacks. */
  hostOwners(entries: { tenant: Tenant; stack: Stack }[]): ReadonlyMap<string, string>;
  /** Compose texts equal as parsed structures, ignoring what Coolify rewrites. */
  composeEquals(a: string, b: string): boolean;
  /** Digest equal for two texts exactly when `composeEquals` holds; undefined for unparseable text. */
  composeDigest(text: string): string | undefined;
  /** Names of the template's params marked `secret` (empty for an unknown template). */
  secretParams(templateName: string): string[];
}

export type Priority = 'high' | 'low';

export interface EnqueuePort {
  (key: ReconcileKey, priority?: Priority): void;
}
