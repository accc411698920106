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
export function tenantDomain(tenant: Pick<Tenant, 'domain'>): string | undefined {
  const domain = normaliseHost(tenant.domain.trim());
  return domain !== '' && isHostname(domain) ? domain : undefined;
}

/** DEFAULT_HOST_TEMPLATE's default (SPEC §4, §5): `<stack>.<tenant domain>`. */
export const DEFAULT_HOST_TEMPLATE = '{stack}.{domain}';

const PLACEHOLDER = /\{([a-z]+)\}/g;
const HOST_PLACEHOLDERS = ['stack', 'tenant', 'domain'];

/**
 * Why a DEFAULT_HOST_TEMPLATE cannot make host names, or undefined when it can: it may use only
 * `{stack}`, `{tenant}` and `{domain}`, must use `{stack}` (each stack its own host), and with
 * sample values must give a valid host name.
 */
export function hostTemplateProblem(template: string): string | undefined {
  const names = [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
  const unknown = names.filter((n) => !HOST_PLACEHOLDERS.includes(n));
  if (unknown.length > 0) return `unknown placeholder ${unknown.map((n) => `{${n}}`).join(', ')} (use {stack}, {tenant}, {domain})`;
  if (!names.includes('stack')) return 'must contain {stack}, or every stack would get the same host';
  const sample = fillHostTemplate(template, 'stack-web', 'tenant', 'tenant.example.com');
  if (sample === undefined || !isHostname(sample)) return `does not give a valid lower-case host name (e.g. ${JSON.stringify(sample ?? template)})`;
  return undefined;
}

/** The template with its placeholders filled in; undefined when it needs a domain and there is none. */
function fillHostTemplate(template: string, stackPart: string, slug: string, domain: string | undefined): string | undefined {
  if (domain === undefined && template.includes('{domain}')) return undefined;
  return template.replace(PLACEHOLDER, (_, name: string) => (name === 'stack' ? stackPart : name === 'tenant' ? slug : (domain ?? '')));
}

/**
 * The default host of ingress entry `index`, from DEFAULT_HOST_TEMPLATE: `{stack}` is the stack
 * name for the first entry and `<stack name>-<service>` for each further one. Undefined when the
 * template uses `{domain}` and the tenant has none (no default host then).
 */
export function defaultHost(
  manifest: TemplateManifest,
  index: number,
  stackName: string,
  tenant: Pick<Tenant, 'slug' | 'domain'>,
  hostTemplate: string = DEFAULT_HOST_TEMPLATE,
): string | undefined {
  const entry = manifest.ingress[index];
  const stackPart = index === 0 || !entry ? stackName : `${stackName}-${entry.service}`;
  const host = fillHostTemplate(hostTemplate, stackPart, tenant.slug, tenantDomain(tenant));
  return host === undefined ? undefined : normaliseHost(host);
}

/**
 * Hosts a stack asks for, one per ingress entry: its `domains` in order, then defaults for
 * ingress entries beyond them (none when the template needs a domain the tenant lacks).
 */
export function requestedHosts(manifest: TemplateManifest, tenant: Tenant, stack: Stack, hostTemplate: string = DEFAULT_HOST_TEMPLATE): string[] {
  const hosts = stack.domains.map((d) => (typeof d === 'string' ? normaliseHost(d) : ''));
  for (let i = hosts.length; i < manifest.ingress.length; i++) {
    const host = defaultHost(manifest, i, stack.name, tenant, hostTemplate);
    if (host === undefined) break;
    hosts.push(host);
  }
  return hosts;
}

/** Something `stackHosts` can look templates up in (a TemplateCatalog satisfies it). */
export interface ManifestLookup {
  get(name: string): TemplateManifest | undefined;
}

/**
 * The hosts a stack may legitimately claim: well-formed, first occurrence only, and either inside
 * its tenant's domain (named in `domains`) or made from DEFAULT_HOST_TEMPLATE (its by
 * construction). A hijack attempt (a host of another tenant's domain) claims nothing, so it can
 * never block the rightful stack.
 */
export function stackHosts(catalog: ManifestLookup, tenant: Tenant, stack: Stack, hostTemplate: string = DEFAULT_HOST_TEMPLATE): string[] {
  const manifest = catalog.get(stack.template);
  if (!manifest) return [];
  const domain = tenantDomain(tenant);
  const hosts = requestedHosts(manifest, tenant, stack, hostTemplate).slice(0, manifest.ingress.length);
  const claimable = hosts.filter(
    (h, i) => isHostname(h) && (i >= stack.domains.length || (domain !== undefined && isWithinDomain(h, domain))),
  );
  return [...new Set(claimable)];
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
export function claimHosts(
  catalog: ManifestLookup,
  entries: readonly { tenant: Tenant; stack: Stack }[],
  hostTemplate: string = DEFAULT_HOST_TEMPLATE,
): Map<string, string> {
  const live = entries.filter(({ tenant, stack }) => stack.desiredStatus !== 'deleted' && tenant.status !== 'deleted');
  const ordered = [...live].sort((a, b) => a.stack.created - b.stack.created || (a.stack.id < b.stack.id ? -1 : a.stack.id > b.stack.id ? 1 : 0));
  const owners = new Map<string, string>();
  for (const { tenant, stack } of ordered) {
    for (const host of stackHosts(catalog, tenant, stack, hostTemplate)) {
      if (!owners.has(host)) owners.set(host, stack.id);
    }
  }
  return owners;
}
