/**
 * The PocketBase records the daemon reads and the daemon-owned fields it writes (SPEC §2).
 * Field names are camelCase here; `src/pocketbase/records.ts` maps them to and from the
 * snake_case PocketBase fields. Dates are epoch milliseconds (null when empty).
 *
 * A record that fails validation is not dropped: it is returned with `problems` filled in, so the
 * reconciler can put a clear error on the record it came from while every other record goes on.
 */

export const TENANT_STATUSES = ['active', 'suspended', 'deleted'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

export const TENANT_SYNC_STATUSES = ['pending', 'ready', 'suspended', 'deleting', 'deleted', 'error'] as const;
export type TenantSyncStatus = (typeof TENANT_SYNC_STATUSES)[number];

export const STACK_DESIRED_STATUSES = ['running', 'stopped', 'deleted'] as const;
export type StackDesiredStatus = (typeof STACK_DESIRED_STATUSES)[number];

export const STACK_STATUSES = [
  'pending',
  'deploying',
  'running',
  'degraded',
  'stopped',
  'suspended',
  'deleting',
  'error',
] as const;
export type StackStatus = (typeof STACK_STATUSES)[number];

export const EVENT_OUTCOMES = ['ok', 'error'] as const;
export type EventOutcome = (typeof EVENT_OUTCOMES)[number];

export interface Plan {
  id: string;
  name: string;
  maxStacks: number;
  /** Cores per container. */
  cpuLimit: number;
  /** MiB per container. */
  memoryMb: number;
  allowedTemplates: string[];
  /** Process limit per container; 0 when empty (the policy's default applies). */
  pidsLimit: number;
  /** Retention of a requested deletion in days (fractions allowed); 0 when empty: DELETE_RETENTION_SECONDS. */
  deleteRetentionDays: number;
  created: number;
  updated: number;
  problems: string[];
}

export interface Tenant {
  id: string;
  name: string;
  slug: string;
  domain: string;
  status: TenantStatus;
  planId: string;
  /** Secret: register with the Redactor before logging anything about this tenant. */
  routerApiKey: string;
  coolifyServerUuid: string;
  /** Observed only: nothing is changed in Coolify for the tenant or its stacks. */
  paused: boolean;
  // daemon-owned
  coolifyProjectUuid: string;
  syncStatus: TenantSyncStatus | '';
  syncMessage: string;
  syncedAt: number | null;
  created: number;
  updated: number;
  problems: string[];
}

export interface Stack {
  id: string;
  tenantId: string;
  name: string;
  template: string;
  params: Record<string, unknown>;
  domains: string[];
  desiredStatus: StackDesiredStatus;
  /** Observed only: nothing is changed in Coolify for the stack. */
  paused: boolean;
  /** A time later than `restartedAt` asks for one restart (epoch ms). */
  restartRequestedAt: number | null;
  // daemon-owned
  status: StackStatus | '';
  statusMessage: string;
  coolifyServiceUuid: string;
  templateVersion: string;
  appliedHash: string;
  observedAt: number | null;
  deleteAfter: number | null;
  /** The `restartRequestedAt` last carried out (epoch ms). */
  restartedAt: number | null;
  created: number;
  updated: number;
  problems: string[];
}

/** Daemon-owned tenant fields; a patch writes only the keys present. */
export interface TenantStatusPatch {
  coolifyProjectUuid?: string;
  syncStatus?: TenantSyncStatus;
  syncMessage?: string;
  syncedAt?: number | null;
}

/** Daemon-owned stack fields; a patch writes only the keys present. */
export interface StackStatusPatch {
  status?: StackStatus;
  statusMessage?: string;
  coolifyServiceUuid?: string;
  templateVersion?: string;
  appliedHash?: string;
  observedAt?: number | null;
  deleteAfter?: number | null;
  restartedAt?: number | null;
}

export interface ReconcileEvent {
  /** `tenant:<id>` or `stack:<id>`. */
  subject: string;
  action: string;
  outcome: EventOutcome;
  message: string;
  coolifyUuid: string;
}

/** Reconcile keys: the only thing the queue carries. */
export type ReconcileKey = `tenant:${string}` | `stack:${string}`;
