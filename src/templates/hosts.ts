/**
 * Public host names of stacks: validation against the tenant's domain, the default names
 * (SPEC §4), and the claim map that decides which stack owns a host when two want it.
 */
import type { Stack, Tenant } from '../pocketbase/types.js';
import type { TemplateManifest } from './template-definition.js';

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
/** Lower-case DNS name with at least two labels; the last one has a letter, so IPs never match. */
const HOSTNAME = new RegExp(`^(?=.{1,253}$)(?:${LABEL}\\.)+(?=[a-z0-9-]*[a-z])${LABEL}$`);

export function isHostname(value: string): boolean {
  return HOSTNAME.test(value);
}

/** Host names compare case-insensitively; records may carry any case. */
export function normaliseHost(value: string): string {
  return value.toLowerCase();
}

/** The domain itself or any subdomain of it. */
export function isWithinDomain(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/** The tenant's domain, normalised, or undefined when it has none or it is malformed. */
export function tenantDomain(tenant: Tenant): string | undefined {
  const domain = normaliseHost(tenant.domain.trim());
  return domain !== '' && isHostname(domain) ? domain : undefined;
}

/** First ingress entry: `<stack>.<domain>`; each further one: `<stack>-<service>.<domain>`. */
export function defaultHost(manifest: TemplateManifest, index: number, stackName: string, domain: string): string {
  const entry = manifest.ingress[index];
  if (index === 0 || !entry) return `${stackName}.${domain}`;
  return `${stackName}-${entry.service}.${domain}`;
}

/**
 * Hosts a stack asks for, one per ingress entry: its `domains` in order, then defaults for
 * ingress entries beyond them. Without a tenant domain there are no defaults.
 */
export function requestedHosts(manifest: TemplateManifest, tenant: Tenant, stack: Stack): string[] {
  const domain = tenantDomain(tenant);
  const hosts = stack.domains.map((d) => (typeof d === 'string' ? normaliseHost(d) : ''));
  if (domain === undefined) return hosts;
  for (let i = hosts.length; i < manifest.ingress.length; i++) hosts.push(defaultHost(manifest, i, stack.name, domain));
  return hosts;
}

/** Something `stackHosts` can look templates up in (a TemplateCatalog satisfies it). */
export interface ManifestLookup {
  get(name: string): TemplateManifest | undefined;
}

/**
 * The hosts a stack may legitimately claim: well-formed, inside its tenant's domain, first
 * occurrence only. A hijack attempt (a host of another tenant's domain) claims nothing, so it
 * can never block the rightful stack.
 */
export function stackHosts(catalog: ManifestLookup, tenant: Tenant, stack: Stack): string[] {
  const manifest = catalog.get(stack.template);
  const domain = tenantDomain(tenant);
  if (!manifest || domain === undefined) return [];
  const hosts = requestedHosts(manifest, tenant, stack).slice(0, manifest.ingress.length);
  return [...new Set(hosts.filter((h) => isHostname(h) && isWithinDomain(h, domain)))];
}

/**
 * Host → id of the stack that owns it. Older stacks claim first (created, then id), so the
 * result does not depend on the order of `entries`.
 *
 * Stacks on their way out (desired deleted, or their tenant deleted) claim nothing: a deletion
 * waits out a retention of days, and its hosts are free for a live stack at once. Stacks invalid
 * for other reasons (a bad param, over quota) keep their claim on purpose: validity depends on
 * the other stacks, so claiming only for valid ones would make ownership circular, and an admin
 * fixing a param should not find the host taken meanwhile.
 */
export function claimHosts(catalog: ManifestLookup, entries: readonly { tenant: Tenant; stack: Stack }[]): Map<string, string> {
  const live = entries.filter(({ tenant, stack }) => stack.desiredStatus !== 'deleted' && tenant.status !== 'deleted');
  const ordered = [...live].sort((a, b) => a.stack.created - b.stack.created || (a.stack.id < b.stack.id ? -1 : a.stack.id > b.stack.id ? 1 : 0));
  const owners = new Map<string, string>();
  for (const { tenant, stack } of ordered) {
    for (const host of stackHosts(catalog, tenant, stack)) {
      if (!owners.has(host)) owners.set(host, stack.id);
    }
  }
  return owners;
}
