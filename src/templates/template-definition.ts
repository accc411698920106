/**
 * A template as loaded from `templates/<name>/`: the checked `template.yaml` manifest plus the
 * parsed (not yet rendered) `compose.yaml`. `parseTemplateManifest` turns raw YAML data into a
 * definition or a list of problems, each naming the field it is about.
 */
import { isPlainObject } from './yaml-io.js';

export type ParamType = 'string' | 'number' | 'boolean';
export type ParamValue = string | number | boolean;

export interface TemplateParam {
  name: string;
  type: ParamType;
  required: boolean;
  default: ParamValue | undefined;
  /** Compiled from `patternSource`; applies to string values only. */
  pattern: RegExp | undefined;
  patternSource: string | undefined;
  /** Secret values go to the service's env vars only, never into compose text or messages. */
  secret: boolean;
  /**
   * Not in SPEC §4's list: a sample value `templates validate` renders with when the param is
   * required and has no default. Never used for real stacks.
   */
  example: ParamValue | undefined;
}

export interface TemplateIngress {
  service: string;
  port: number;
}

export interface ServiceResources {
  /** Cores. */
  cpus: number | undefined;
  /** MiB. */
  memoryMb: number | undefined;
}

export interface TemplateManifest {
  name: string;
  version: string;
  description: string;
  params: TemplateParam[];
  ingress: TemplateIngress[];
  resources: Record<string, ServiceResources>;
  /** Service → capabilities (upper case, no CAP_ prefix) added back after cap_drop ALL. */
  capabilities: Record<string, string[]>;
}

export interface TemplateDefinition extends TemplateManifest {
  /** Parsed compose.yaml with placeholders still in place. Treat as read-only. */
  compose: Record<string, unknown>;
}

export const MANIFEST_KEYS = ['name', 'version', 'description', 'params', 'ingress', 'resources', 'capabilities'] as const;
const PARAM_KEYS = ['name', 'type', 'required', 'default', 'pattern', 'secret', 'example'];
const PARAM_TYPES: readonly ParamType[] = ['string', 'number', 'boolean'];

export const TEMPLATE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
/** Param names double as env var names for secret params, so they follow env key rules. */
export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
/** Ingress services become part of default host names (`<stack>-<service>.<domain>`). */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Capabilities a template may add back: Docker's default set without NET_RAW and MKNOD. Anything
 * beyond (SYS_ADMIN, NET_ADMIN, …) would let a tenant container reach the host or its neighbours.
 */
export const GRANTABLE_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

/** Router variables the daemon sets on every stack's service; templates reference them as `${NAME}`. */
export const ROUTER_BASE_URL_VAR = 'CLOUDFREEDOM_ROUTER_BASE_URL';
export const ROUTER_API_KEY_VAR = 'CLOUDFREEDOM_API_KEY';

export function normaliseCapability(cap: string): string {
  return cap.trim().toUpperCase().replace(/^CAP_/, '');
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

/** Checks a value against a param's type and pattern; the message never quotes the value. */
export function checkParamValue(param: TemplateParam, value: unknown): string | undefined {
  if (typeof value !== param.type) return `must be a ${param.type}, got ${describeValue(value)}`;
  if (typeof value === 'number' && !Number.isFinite(value)) return 'must be a finite number';
  if (typeof value === 'string') {
    // NUL and lone surrogates cannot be carried by UTF-8 text or a process environment.
    if (/\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) {
      return 'contains a NUL character or invalid Unicode';
    }
    if (param.pattern && !param.pattern.test(value)) return `does not match the pattern ${param.patternSource ?? ''}`;
  }
  return undefined;
}

interface Collector {
  problems: string[];
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string, c: Collector): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) c.problems.push(`${where}: unknown field '${key}' (allowed: ${allowed.join(', ')})`);
  }
}

function parseParam(raw: unknown, index: number, c: Collector): TemplateParam | undefined {
  const where = `params[${index}]`;
  if (!isPlainObject(raw)) {
    c.problems.push(`${where}: must be a mapping with at least name and type`);
    return undefined;
  }
  unknownKeys(raw, PARAM_KEYS, where, c);
  const before = c.problems.length;
  const name = raw.name;
  if (typeof name !== 'string' || !PARAM_NAME.test(name)) {
    c.problems.push(`${where}.name: must match ${PARAM_NAME.source}`);
  }
  const label = typeof name === 'string' ? `params.${name}` : where;
  const type = raw.type ?? 'string';
  if (typeof type !== 'string' || !PARAM_TYPES.includes(type as ParamType)) {
    c.problems.push(`${label}.type: must be one of ${PARAM_TYPES.join(', ')}`);
  }
  for (const flag of ['required', 'secret'] as const) {
    if (raw[flag] !== undefined && typeof raw[flag] !== 'boolean') c.problems.push(`${label}.${flag}: must be true or false`);
  }
  let pattern: RegExp | undefined;
  const patternSource = raw.pattern;
  if (patternSource !== undefined) {
    if (typeof patternSource !== 'string') {
      c.problems.push(`${label}.pattern: must be a string`);
    } else {
      try {
        pattern = new RegExp(patternSource);
      } catch (e) {
        c.problems.push(`${label}.pattern: not a valid regular expression (${(e as Error).message})`);
      }
      if (type !== 'string') c.problems.push(`${label}.pattern: only string params can have a pattern`);
    }
  }
  if (c.problems.length > before) return undefined;
  const param: TemplateParam = {
    name: name as string,
    type: type as ParamType,
    required: raw.required === true,
    default: undefined,
    pattern,
    patternSource: patternSource as string | undefined,
    secret: raw.secret === true,
    example: undefined,
  };
  for (const field of ['default', 'example'] as const) {
    const value = raw[field];
    if (value === undefined || value === null) continue;
    if (param.secret && field === 'default') {
      c.problems.push(`${label}.default: a secret param cannot have a default (it would live in the template)`);
      continue;
    }
    const problem = checkParamValue(param, value);
    if (problem) c.problems.push(`${label}.${field}: ${problem}`);
    else param[field] = value as ParamValue;
  }
  return param;
}

function positiveNumber(value: unknown, where: string, c: Collector, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    c.problems.push(`${where}: must be a ${integer ? 'whole ' : ''}number > 0`);
    return undefined;
  }
  return value;
}

/**
 * Checks the manifest on its own (compose-dependent checks happen in the catalog loader). Returns
 * the manifest when there are no problems.
 */
export function parseTemplateManifest(raw: unknown, dirName: string): { manifest?: TemplateManifest; problems: string[] } {
  const c: Collector = { problems: [] };
  if (!isPlainObject(raw)) return { problems: ['must be a YAML mapping with name, version and description'] };
  unknownKeys(raw, MANIFEST_KEYS, 'template', c);

  const { name, version, description } = raw;
  if (typeof name !== 'string' || !TEMPLATE_NAME.test(name)) {
    c.problems.push(`name: must be a lower-case name matching ${TEMPLATE_NAME.source}`);
  } else if (name !== dirName) {
    c.problems.push(`name: '${name}' does not match its directory '${dirName}'`);
  }
  if (typeof version !== 'string' || !SEMVER.test(version)) {
    c.problems.push('version: must be a semantic version such as 1.2.0 (quote it in YAML)');
  }
  if (typeof description !== 'string' || description.trim() === '') c.problems.push('description: required text');

  const params: TemplateParam[] = [];
  if (raw.params !== undefined && raw.params !== null) {
    if (!Array.isArray(raw.params)) c.problems.push('params: must be a list');
    else {
      raw.params.forEach((p, i) => {
        const param = parseParam(p, i, c);
        if (!param) return;
        if (params.some((q) => q.name === param.name)) c.problems.push(`params.${param.name}: declared twice`);
        else if (param.name === ROUTER_BASE_URL_VAR || param.name === ROUTER_API_KEY_VAR || param.name.startsWith('SERVICE_')) {
          c.problems.push(`params.${param.name}: name is reserved for the router or Coolify variables`);
        } else params.push(param);
      });
    }
  }

  const ingress: TemplateIngress[] = [];
  if (raw.ingress !== undefined && raw.ingress !== null) {
    if (!Array.isArray(raw.ingress)) c.problems.push('ingress: must be a list');
    else {
      raw.ingress.forEach((entry, i) => {
        const where = `ingress[${i}]`;
        if (!isPlainObject(entry)) {
          c.problems.push(`${where}: must be a mapping with service and port`);
          return;
        }
        unknownKeys(entry, ['service', 'port'], where, c);
        const { service, port } = entry;
        let ok = true;
        if (typeof service !== 'string' || !DNS_LABEL.test(service)) {
          c.problems.push(`${where}.service: must be a lower-case DNS label (it becomes part of host names)`);
          ok = false;
        }
        if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
          c.problems.push(`${where}.port: must be a whole number from 1 to 65535`);
          ok = false;
        }
        if (ok && ingress.some((e) => e.service === service && e.port === port)) {
          c.problems.push(`${where}: service ${String(service)} port ${String(port)} listed twice`);
          ok = false;
        }
        if (ok) ingress.push({ service: service as string, port: port as number });
      });
    }
  }

  const resources: Record<string, ServiceResources> = {};
  if (raw.resources !== undefined && raw.resources !== null) {
    if (!isPlainObject(raw.resources)) c.problems.push('resources: must be a mapping of service → { cpus, memory_mb }');
    else {
      for (const [service, value] of Object.entries(raw.resources)) {
        const where = `resources.${service}`;
        if (!isPlainObject(value)) {
          c.problems.push(`${where}: must be a mapping with cpus and/or memory_mb`);
          continue;
        }
        unknownKeys(value, ['cpus', 'memory_mb'], where, c);
        resources[service] = {
          cpus: positiveNumber(value.cpus, `${where}.cpus`, c, false),
          memoryMb: positiveNumber(value.memory_mb, `${where}.memory_mb`, c, true),
        };
      }
    }
  }

  const capabilities: Record<string, string[]> = {};
  if (raw.capabilities !== undefined && raw.capabilities !== null) {
    if (!isPlainObject(raw.capabilities)) c.problems.push('capabilities: must be a mapping of service → list of capabilities');
    else {
      for (const [service, value] of Object.entries(raw.capabilities)) {
        const where = `capabilities.${service}`;
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
          c.problems.push(`${where}: must be a list of capability names`);
          continue;
        }
        const caps = [...new Set(value.map(normaliseCapability))];
        const refused = caps.filter((cap) => !GRANTABLE_CAPABILITIES.has(cap));
        if (refused.length > 0) {
          c.problems.push(`${where}: ${refused.join(', ')} cannot be granted (allowed: ${[...GRANTABLE_CAPABILITIES].join(', ')})`);
          continue;
        }
        capabilities[service] = caps;
      }
    }
  }

  if (c.problems.length > 0) return { problems: c.problems };
  return {
    manifest: {
      name: name as string,
      version: version as string,
      description: (description as string).trim(),
      params,
      ingress,
      resources,
      capabilities,
    },
    problems: [],
  };
}
