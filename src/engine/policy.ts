/** The template catalog and policy functions behind the reconcilers' PolicyPort. */
import type { Config } from '../config.js';
import type { Redactor } from '../logging/redactor.js';
import type { Stack, Tenant } from '../pocketbase/types.js';
import { claimHosts, composeDigest, composeEquals, decideStack, decisionInputsDigest, type TemplateCatalog } from '../templates/index.js';
import type { PolicyPort } from './ports.js';

/** `hostTemplate`: DEFAULT_HOST_TEMPLATE (default `{stack}.{domain}`). */
export function catalogPolicy(catalog: TemplateCatalog, options: { hostTemplate?: string } = {}): PolicyPort {
  const { hostTemplate } = options;
  return {
    decide: (input) => decideStack(catalog, input, hostTemplate),
    decisionKey: (input) => decisionInputsDigest(catalog, input, hostTemplate),
    hostOwners: (entries) => claimHosts(catalog, entries, hostTemplate),
    composeEquals,
    composeDigest,
    secretParams: (name) => (catalog.get(name)?.params ?? []).filter((p) => p.secret).map((p) => p.name),
  };
}

/** The policy the daemon and `plan` both decide with: the catalog with the configured host template. */
export function configPolicy(catalog: TemplateCatalog, config: Pick<Config, 'defaultHostTemplate'>): PolicyPort {
  return catalogPolicy(catalog, { hostTemplate: config.defaultHostTemplate });
}

/**
 * Tracks the secrets a stack's records carry (the tenant's router key, the template's secret
 * params) so they are masked before anything about the records is logged. Tracked, not added:
 * the redactor forgets them once resyncs stop seeing them (rotated keys, deleted stacks).
 */
export function trackRecordSecrets(redactor: Redactor, policy: PolicyPort, tenant: Tenant | undefined, stack: Stack): void {
  if (tenant) redactor.track(tenant.routerApiKey);
  for (const name of policy.secretParams(stack.template)) {
    const v = stack.params[name];
    if (typeof v === 'string' || typeof v === 'number') redactor.track(String(v));
  }
}
