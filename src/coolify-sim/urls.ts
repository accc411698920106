import { Reply, validationFailed } from './http.js';
import type { SimService, SimState, SimSubResource } from './state.js';

/**
 * `applyServiceUrls` (notes §5.3): `urls: [{name, url}]` sets the fqdn of the named
 * sub-application. Invalid entries give a 422 with a list of messages; a host used by another
 * resource gives the 409 below unless `force_domain_override`.
 */

const FORBIDDEN_URL_CHARS = /[`$;&|<>()\\\r\n]/;

export const DOMAIN_CONFLICT_MESSAGE = 'Domain conflicts detected. Use force_domain_override=true to proceed.';
export const DOMAIN_CONFLICT_WARNING =
  'Using the same domain for multiple resources can cause routing conflicts and unpredictable behavior.';

interface Planned {
  sub: SimSubResource;
  fqdn: string | null;
  hosts: string[];
}

function normalise(url: string): { url: string; host: string } | undefined {
  if (FORBIDDEN_URL_CHARS.test(url)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') return undefined;
  const path = parsed.pathname === '/' && !/\/$/.test(url) ? '' : parsed.pathname;
  return { url: `${parsed.protocol}//${parsed.host}${path}`, host: parsed.hostname };
}

/** Checks `urls` (already shape-validated) and returns a function that applies them. */
export function planUrls(
  state: SimState,
  service: SimService,
  urls: { name: string; url: string | null }[],
  force: boolean,
): () => string[] {
  const errors: string[] = [];
  const planned: Planned[] = [];
  const seen = new Set<string>();
  for (const entry of urls) {
    const sub = service.subs.find((s) => s.name === entry.name && s.kind === 'application');
    if (!sub) {
      errors.push(`Service container with '${entry.name}' not found.`);
      continue;
    }
    if (entry.url === null || entry.url.trim() === '') {
      planned.push({ sub, fqdn: null, hosts: [] });
      continue;
    }
    const list: string[] = [];
    const hosts: string[] = [];
    for (const part of entry.url.split(',').map((u) => u.trim()).filter(Boolean)) {
      const n = normalise(part);
      if (!n) {
        errors.push(`Invalid URL: ${part}`);
        continue;
      }
      if (seen.has(n.host) && !force) errors.push(`Domain ${n.host} is used more than once in the request.`);
      seen.add(n.host);
      list.push(n.url);
      hosts.push(n.host);
    }
    planned.push({ sub, fqdn: list.join(','), hosts });
  }
  if (errors.length > 0) throw validationFailed(errors);

  if (!force) {
    const conflicts: Record<string, unknown>[] = [];
    for (const p of planned) {
      for (const host of p.hosts) {
        for (const other of state.services) {
          if (other === service) continue;
          for (const sub of other.subs) {
            const taken = (sub.fqdn ?? '').split(',').map((u) => normalise(u.trim())?.host);
            if (taken.includes(host)) {
              conflicts.push({
                domain: host,
                resource_name: other.name,
                resource_uuid: other.uuid,
                resource_type: 'service',
                message: `Domain ${host} is already in use by service '${other.name}'`,
              });
            }
          }
        }
      }
    }
    if (conflicts.length > 0) {
      throw new Reply(409, { message: DOMAIN_CONFLICT_MESSAGE, conflicts, warning: DOMAIN_CONFLICT_WARNING });
    }
  }
  return () => {
    for (const p of planned) p.sub.fqdn = p.fqdn;
    return domainsOf(service);
  };
}

/** The `domains` of create/update answers: sorted non-empty fqdns of sub-applications. */
export function domainsOf(service: SimService): string[] {
  return service.subs
    .filter((s) => s.kind === 'application' && s.fqdn)
    .map((s) => s.fqdn as string)
    .sort();
}
