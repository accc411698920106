import { dump, load } from 'js-yaml';
import { Reply, SERVER_ERROR, validationFailed } from './http.js';
import { randomSecret } from './ids.js';
import { applyMagicUrls } from './magic-urls.js';
import { COMPOSE_SCOPES, resolveShared } from './shared-variables.js';
import type { SimService, SimState, SimSubResource } from './state.js';

/**
 * What Coolify does with `docker_compose_raw` (notes §5.2): strict base64 of UTF-8, YAML parse
 * (a parse error escapes as a 500), injection checks on service names and volumes, then a
 * re-dump. The stored text is therefore never the submitted bytes.
 */

const BASE64_ERROR = 'The docker_compose_raw should be base64 encoded.';

/** `base64_encode(base64_decode($s, true)) === $s`, plus valid UTF-8. */
export function decodeStrictBase64(encoded: string): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return undefined;
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.toString('base64') !== encoded) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const FORBIDDEN = ['`', '$(', '|', '&', ';', '\n', '\r', '\t', '>', '<'];

function hasInjection(value: string, allowVariables: boolean): boolean {
  if (FORBIDDEN.some((f) => value.includes(f))) return true;
  if (!value.includes('${')) return false;
  if (!allowVariables) return true;
  // Allowed: a whole `${VAR}` / `${VAR:-default}`, or `${VAR}/path`.
  return !/^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}(\/[^$]*)?$/.test(value);
}

function volumeParts(volume: unknown): { source: string; target: string; text: string } | undefined {
  if (typeof volume === 'string') {
    // Split on `:` outside `${…}` so `${VAR:-default}:/data` keeps its default.
    const parts: string[] = [''];
    let depth = 0;
    for (let i = 0; i < volume.length; i++) {
      const c = volume[i] ?? '';
      if (c === '$' && volume[i + 1] === '{') depth++;
      else if (c === '}' && depth > 0) depth--;
      if (c === ':' && depth === 0) parts.push('');
      else parts[parts.length - 1] += c;
    }
    return { source: parts[0] ?? '', target: parts[1] ?? '', text: volume };
  }
  if (isObj(volume)) {
    const source = typeof volume.source === 'string' ? volume.source : '';
    const target = typeof volume.target === 'string' ? volume.target : '';
    return { source, target, text: JSON.stringify(volume) };
  }
  return undefined;
}

export interface ParsedCompose {
  /** Re-dumped YAML, as stored in `docker_compose_raw`. */
  raw: string;
  services: Map<string, Obj>;
  tree: Obj;
}

/** Decodes, parses and checks; throws a Reply with Coolify's answer on failure. */
export function parseComposeBase64(encoded: unknown): ParsedCompose {
  if (typeof encoded !== 'string') throw validationFailed({ docker_compose_raw: ['The docker compose raw field must be a string.'] });
  const text = decodeStrictBase64(encoded);
  if (text === undefined) throw validationFailed({ docker_compose_raw: BASE64_ERROR });
  return parseComposeText(text);
}

export function parseComposeText(text: string): ParsedCompose {
  let tree: unknown;
  try {
    tree = load(text);
  } catch {
    // Yaml::parse without try/catch in the controller (notes §5.2, inferred).
    throw new Reply(500, SERVER_ERROR);
  }
  if (!isObj(tree) || !isObj(tree.services)) {
    throw validationFailed({ docker_compose_raw: 'Docker Compose file must contain a "services" section' });
  }
  const services = new Map<string, Obj>();
  for (const [name, def] of Object.entries(tree.services)) {
    if (hasInjection(name, false)) {
      throw validationFailed({ docker_compose_raw: `Invalid Docker Compose service name: ${name}` });
    }
    const svc = isObj(def) ? def : {};
    const volumes = Array.isArray(svc.volumes) ? svc.volumes : [];
    for (const v of volumes) {
      const parts = volumeParts(v);
      if (parts && (hasInjection(parts.source, true) || hasInjection(parts.target, false))) {
        throw validationFailed({ docker_compose_raw: `Invalid Docker volume definition: ${parts.text}` });
      }
    }
    services.set(name, svc);
  }
  return { raw: dump(tree, { indent: 2, lineWidth: -1 }), services, tree };
}

/** `sourceIsLocal()`: these volume sources are host paths. */
function isLocalSource(source: string): boolean {
  return source.startsWith('/') || source.startsWith('./') || source.startsWith('~') || source.startsWith('..');
}

/**
 * Coolify's volume parsing (hazards §1, §7): a one-part volume is `source = target`, a bind when
 * the path is local; a long-syntax bind becomes the short `src:dst` and loses `read_only`; a
 * `${V:-/abs}` source becomes the fixed host path.
 */
function deployedVolume(volume: unknown): unknown {
  if (typeof volume === 'string') {
    const parts = volumeParts(volume);
    if (!parts) return volume;
    const source = parts.source.replace(/^\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}/, '$1');
    if (!volume.includes(':') && isLocalSource(source)) return `${source}:${source}`;
    return source === parts.source ? volume : volume.replace(parts.source, source);
  }
  if (isObj(volume) && volume.type === 'bind' && typeof volume.source === 'string' && typeof volume.target === 'string') {
    return `${volume.source}:${volume.target}`;
  }
  return volume;
}

/**
 * Coolify's generated compose: container names pinned to the service uuid, restart defaulted,
 * volumes as Coolify deploys them, shared variables in environment values resolved, labels as
 * `key=value` strings (`$` escaped unless the service turned label escaping off).
 */
export function generateCompose(state: SimState, service: SimService, parsed: ParsedCompose): string {
  const serviceUuid = service.uuid;
  // A fresh parse rather than structuredClone: a clone made in another realm (jest's VM) is not a
  // plain object to js-yaml's dump.
  const tree = load(parsed.raw) as Obj;
  const services = tree.services as Obj;
  for (const [name, def] of Object.entries(services)) {
    const svc: Obj = isObj(def) ? def : {};
    svc.container_name = `${name}-${serviceUuid}`;
    svc.restart ??= 'unless-stopped';
    if (Array.isArray(svc.volumes)) svc.volumes = svc.volumes.map(deployedVolume);
    if (Array.isArray(svc.environment)) {
      svc.environment = svc.environment.map((e) => (typeof e === 'string' ? resolveShared(state, service, e, COMPOSE_SCOPES) : e));
    } else if (isObj(svc.environment)) {
      for (const [k, v] of Object.entries(svc.environment)) {
        if (typeof v === 'string') svc.environment[k] = resolveShared(state, service, v, COMPOSE_SCOPES);
      }
    }
    const given = Array.isArray(svc.labels) ? [...(svc.labels as unknown[])] : isObj(svc.labels) ? Object.entries(svc.labels).map(([k, v]) => `${k}=${String(v)}`) : [];
    // `is_container_label_escape_enabled` (default on) escapes `$` so Compose leaves labels alone.
    const labels = service.isContainerLabelEscapeEnabled ? given.map((l) => (typeof l === 'string' ? l.replace(/\$/g, '$$$$') : l)) : given;
    labels.push('coolify.managed=true', `coolify.service.subName=${name}`, `coolify.name=${name}-${serviceUuid}`);
    svc.labels = labels;
    services[name] = svc;
  }
  return dump(tree, { indent: 2, lineWidth: -1 });
}

const DATABASE_IMAGE = /^(?:[\w.-]+\/)*(postgres|postgis|mysql|mariadb|mongo|redis|keydb|dragonfly|clickhouse)(?::|$)/i;
const MAGIC_VARIABLE = /\$\{?(SERVICE_(?:PASSWORD|PASSWORDWITHSYMBOLS|USER|BASE64|REALBASE64|HEX)(?:_[A-Z0-9_]+)?)/g;

/**
 * `$service->parse()`: one sub-resource per compose service, created when missing. Rows for
 * services removed from the compose are kept (the parser never deletes them; notes §5.4,
 * inferred), so they keep reporting their last status. Referenced SERVICE_PASSWORD_* style
 * variables are generated once.
 */
/**
 * An environment value starting with `$$` makes Coolify's parser try to create a variable named
 * `$NAME`, which its key rule rejects; the exception is not caught, so the API answers 500 after
 * the service row was saved, with no generated compose (hazards §3).
 */
function startsWithEscapedDollar(services: ReadonlyMap<string, Obj>): boolean {
  for (const def of services.values()) {
    const env = def.environment;
    const values = Array.isArray(env)
      ? env.map((e) => String(e)).filter((e) => e.includes('=')).map((e) => e.slice(e.indexOf('=') + 1))
      : isObj(env)
        ? Object.values(env).map((v) => (v === null || v === undefined ? '' : String(v)))
        : [];
    if (values.some((v) => v.startsWith('$$'))) return true;
  }
  return false;
}

export function applyCompose(state: SimState, service: SimService, parsed: ParsedCompose, now: number): void {
  service.composeRaw = parsed.raw;
  if (startsWithEscapedDollar(parsed.services)) {
    service.compose = '';
    throw new Reply(500, SERVER_ERROR);
  }
  service.compose = generateCompose(state, service, parsed);
  for (const [name, def] of parsed.services) {
    const image = typeof def.image === 'string' ? def.image : '';
    const existing = service.subs.find((s) => s.name === name);
    if (existing) {
      existing.image = image;
      existing.excluded = def.restart === 'no' || def.exclude_from_hc === true;
      continue;
    }
    const sub: SimSubResource = {
      id: state.nextId('service_subs'),
      uuid: state.newUuid(),
      name,
      kind: DATABASE_IMAGE.test(image) ? 'database' : 'application',
      image,
      fqdn: null,
      status: 'exited',
      excluded: def.restart === 'no' || def.exclude_from_hc === true,
      createdAt: now,
      updatedAt: now,
    };
    service.subs.push(sub);
  }
  applyMagicUrls(state, service, parsed.services, now);
  for (const m of parsed.raw.matchAll(MAGIC_VARIABLE)) {
    const key = m[1];
    if (!key || service.envs.some((e) => e.key === key)) continue;
    service.envs.push(state.newEnv(key, randomSecret(key.startsWith('SERVICE_USER') ? 16 : 32), now));
  }
}
