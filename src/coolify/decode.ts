import type {
  CoolifyDestination,
  CoolifyEnvVar,
  CoolifyEnvironment,
  CoolifyProject,
  CoolifyProjectDetail,
  CoolifyServer,
  CoolifyService,
  CoolifyServiceApplication,
  CoolifyServiceDetail,
} from './types.js';

/**
 * Checks Coolify's JSON for exactly the fields the daemon reads and maps them to the contract
 * types. A wrong shape throws `ShapeError` naming the field; the client turns it into a
 * CoolifyError of kind `invalid_response`. Unknown extra fields are ignored on purpose: Coolify adds
 * fields between versions.
 */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

type Obj = Record<string, unknown>;

function obj(v: unknown, at: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ShapeError(`${at} is not an object`);
  return v as Obj;
}

function arr(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new ShapeError(`${at} is not an array`);
  return v;
}

function str(o: Obj, key: string, at: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new ShapeError(`${at}.${key} is not a string`);
  return v;
}

/** Coolify returns a null description as "" on projects but may return null on services. */
function optStr(o: Obj, key: string, at: string): string {
  const v = o[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new ShapeError(`${at}.${key} is not a string`);
  return v;
}

function nullableStr(o: Obj, key: string, at: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ShapeError(`${at}.${key} is not a string`);
  return v;
}

/**
 * A Laravel timestamp (`2024-05-01T10:00:00.000000Z`) as epoch ms. Lenient on purpose: it is only
 * ever a tie-breaker, and an odd value must not make a whole listing unreadable.
 */
function optTime(o: Obj, key: string): number | undefined {
  const v = o[key];
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

function int(o: Obj, key: string, at: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ShapeError(`${at}.${key} is not an integer`);
  return v;
}

function bool(o: Obj, key: string, at: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw new ShapeError(`${at}.${key} is not a boolean`);
  return v;
}

export function decodeUuid(v: unknown, at = 'response'): { uuid: string } {
  return { uuid: str(obj(v, at), 'uuid', at) };
}

export function decodeUuidAndDomains(v: unknown, at = 'response'): { uuid: string; domains: string[] } {
  const o = obj(v, at);
  const domains = arr(o.domains ?? [], `${at}.domains`).map((d, i) => {
    if (typeof d !== 'string') throw new ShapeError(`${at}.domains[${i}] is not a string`);
    return d;
  });
  return { uuid: str(o, 'uuid', at), domains };
}

export function decodeProject(v: unknown, at = 'project'): CoolifyProject {
  const o = obj(v, at);
  return { uuid: str(o, 'uuid', at), name: optStr(o, 'name', at), description: optStr(o, 'description', at) };
}

export function decodeEnvironment(v: unknown, at = 'environment'): CoolifyEnvironment {
  const o = obj(v, at);
  return { id: int(o, 'id', at), uuid: str(o, 'uuid', at), name: str(o, 'name', at) };
}

export function decodeProjectDetail(v: unknown, at = 'project'): CoolifyProjectDetail {
  const o = obj(v, at);
  const environments = arr(o.environments, `${at}.environments`).map((e, i) =>
    decodeEnvironment(e, `${at}.environments[${i}]`),
  );
  return { ...decodeProject(o, at), environments };
}

export function decodeServer(v: unknown, at = 'server'): CoolifyServer {
  const o = obj(v, at);
  const settings = o.settings !== undefined && o.settings !== null ? obj(o.settings, `${at}.settings`) : {};
  // Coolify ≥ 4.x puts the flags at the top level; older versions only in settings.
  const flag = (key: string) => (typeof o[key] === 'boolean' ? bool(o, key, at) : settings[key] === true);
  return { uuid: str(o, 'uuid', at), name: optStr(o, 'name', at), isReachable: flag('is_reachable'), isUsable: flag('is_usable') };
}

export function decodeDestination(v: unknown, at = 'destination'): CoolifyDestination {
  const o = obj(v, at);
  return {
    uuid: str(o, 'uuid', at),
    name: optStr(o, 'name', at),
    network: str(o, 'network', at),
    serverUuid: str(o, 'server_uuid', at),
  };
}

export function decodeService(v: unknown, at = 'service'): CoolifyService {
  const o = obj(v, at);
  const raw = o.docker_compose_raw;
  if (raw !== undefined && raw !== null && typeof raw !== 'string') {
    throw new ShapeError(`${at}.docker_compose_raw is not a string`);
  }
  const createdAt = optTime(o, 'created_at');
  return {
    uuid: str(o, 'uuid', at),
    name: optStr(o, 'name', at),
    description: optStr(o, 'description', at),
    environmentId: int(o, 'environment_id', at),
    status: str(o, 'status', at),
    dockerComposeRaw: typeof raw === 'string' ? raw : undefined,
    ...(createdAt === undefined ? {} : { createdAt }),
  };
}

export function decodeServiceApplication(v: unknown, at = 'application'): CoolifyServiceApplication {
  const o = obj(v, at);
  return {
    uuid: str(o, 'uuid', at),
    name: str(o, 'name', at),
    fqdn: nullableStr(o, 'fqdn', at),
    status: optStr(o, 'status', at),
  };
}

export function decodeServiceDetail(v: unknown, at = 'service'): CoolifyServiceDetail {
  const o = obj(v, at);
  const applications = arr(o.applications ?? [], `${at}.applications`).map((a, i) =>
    decodeServiceApplication(a, `${at}.applications[${i}]`),
  );
  return { ...decodeService(o, at), applications };
}

export function decodeEnvVar(v: unknown, at = 'env'): CoolifyEnvVar {
  const o = obj(v, at);
  const key = str(o, 'key', at);
  const isCoolify = typeof o.is_coolify === 'boolean' ? o.is_coolify : key.startsWith('SERVICE_');
  return { uuid: str(o, 'uuid', at), key, value: nullableStr(o, 'value', at), isCoolify };
}

export function decodeList<T>(v: unknown, at: string, item: (x: unknown, at: string) => T): T[] {
  return arr(v, at).map((x, i) => item(x, `${at}[${i}]`));
}
