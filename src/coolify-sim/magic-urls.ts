import type { SimService, SimState } from './state.js';

/**
 * Coolify's magic URL variables (hazards §3, notes §5.3): an env key `SERVICE_FQDN_<NAME>[_<PORT>]`
 * or `SERVICE_URL_…` (map key or list entry) routes the compose service that carries it; a
 * reference `$SERVICE_URL_<NAME>` in a value (found by Coolify's own scan, which ignores Compose's
 * `$$`) routes the carrying service when NAME is its own name. A routed service without a host
 * gets `http://<name>-<service uuid>.<server wildcard domain>[:<port>]` (`generateUrl`), and the
 * service gets `SERVICE_FQDN_<NAME>` and `SERVICE_URL_<NAME>` env vars (and their `_<PORT>` forms).
 */

const VALUE_SCAN = /\$\{?([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)\}?/g;
const MAGIC = /^SERVICE_(URL|FQDN)_(.+?)(?:_(\d+))?$/;

type Obj = Record<string, unknown>;

function envEntries(environment: unknown): { key: string; value: string }[] {
  if (Array.isArray(environment)) {
    return environment.map((item) => {
      const text = String(item);
      const eq = text.indexOf('=');
      return eq < 0 ? { key: text, value: '' } : { key: text.slice(0, eq), value: text.slice(eq + 1) };
    });
  }
  if (typeof environment === 'object' && environment !== null) {
    return Object.entries(environment).map(([key, v]) => ({ key, value: v === null || v === undefined ? '' : String(v) }));
  }
  return [];
}

/** Same name as Coolify compares them: case and `-`/`_` ignored. */
function sameName(a: string, b: string): boolean {
  const norm = (s: string): string => s.toLowerCase().replace(/-/g, '_');
  return norm(a) === norm(b);
}

export function applyMagicUrls(state: SimState, service: SimService, services: ReadonlyMap<string, Obj>, now: number): void {
  const server = state.serverById(service.serverId);
  const domain = server?.wildcardDomain ?? `${server?.ip ?? '127.0.0.1'}.sslip.io`;
  for (const [name, def] of services) {
    const found: { name: string; port: string | undefined; routes: boolean }[] = [];
    for (const { key, value } of envEntries(def.environment)) {
      const k = MAGIC.exec(key);
      if (k) found.push({ name: k[2] ?? '', port: k[3], routes: true });
      for (const m of value.matchAll(VALUE_SCAN)) {
        const v = MAGIC.exec(m[1] ?? '');
        if (v) found.push({ name: v[2] ?? '', port: v[3], routes: sameName(v[2] ?? '', name) });
      }
    }
    for (const magic of found) {
      const host = `${name}-${service.uuid}.${domain}`;
      const sub = service.subs.find((s) => s.name === name && s.kind === 'application');
      if (magic.routes && sub && !sub.fqdn) {
        sub.fqdn = `http://${host}${magic.port ? `:${magic.port}` : ''}`;
        sub.updatedAt = now;
      }
      const upper = magic.name.toUpperCase();
      const vars: [string, string][] = [
        [`SERVICE_FQDN_${upper}`, host],
        [`SERVICE_URL_${upper}`, `http://${host}`],
      ];
      if (magic.port) vars.push([`SERVICE_FQDN_${upper}_${magic.port}`, `${host}:${magic.port}`], [`SERVICE_URL_${upper}_${magic.port}`, `http://${host}:${magic.port}`]);
      for (const [key, value] of vars) {
        if (!service.envs.some((e) => e.key === key)) service.envs.push(state.newEnv(key, value, now));
      }
    }
  }
}
