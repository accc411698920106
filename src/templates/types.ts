/**
 * The contract between the templates module and the stack reconciler: given a stack and its
 * context, either an apply (what Coolify should hold) or an error an admin can act on.
 */
import type { Plan, Stack, Tenant } from '../pocketbase/types.js';
import type { CoolifyUrl } from '../coolify/types.js';

export interface StackEnvVar {
  key: string;
  value: string;
  /** Secret params and the router key: the value must never reach logs, events or messages. */
  secret: boolean;
}

export interface StackApply {
  kind: 'apply';
  templateName: string;
  templateVersion: string;
  /** Rendered, hardened compose as YAML text (what is sent to Coolify). */
  composeYaml: string;
  /** Env vars the service must carry: router variables and secret params. */
  env: StackEnvVar[];
  /** Coolify `urls` for the ingress services, in template order. */
  urls: CoolifyUrl[];
  /** Public hosts claimed by this stack, in ingress order. */
  hosts: string[];
  /** Stable hash over compose, env and urls (hex sha256). */
  hash: string;
}

export interface StackInvalid {
  kind: 'error';
  /** Plain words, no secret values. */
  message: string;
}

export type StackDecision = StackApply | StackInvalid;

export interface StackDecisionInput {
  tenant: Tenant;
  plan: Plan;
  stack: Stack;
  /** Every stack of the tenant (including `stack`), for the max_stacks quota. */
  tenantStacks: Stack[];
  /** Host → id of the stack that owns it (oldest claim first), across all tenants. */
  hostOwners: ReadonlyMap<string, string>;
  routerBaseUrl: string;
}
