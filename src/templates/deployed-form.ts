/**
 * A model of what runs once Coolify's compose parser and then Docker Compose have rewritten the
 * compose the daemon sends (reference/coolify-compose-hazards.md). The policy judges this form,
 * not the text: every finding is something the deployed containers would get that the text does
 * not show (a host mount, a host namespace, a value read from Coolify's shared variables or the
 * host's environment, a generated public route, an extra `.env` statement).
 *
 * The model is deliberately stricter than Coolify where Coolify's behaviour depends on state the
 * daemon cannot see (the service's label-escape toggle, which scopes a Coolify version resolves):
 * there it reports a finding instead of guessing.
 */
import { interpolate, scanInterpolation } from './compose-interpolation.js';
import { isPlainObject, joinPath } from './yaml-io.js';

export type FindingKind =
  | 'host-mount'
  | 'host-namespace'
  | 'shared-variable'
  | 'magic-variable'
  | 'interpolation'
  | 'coolify-reference'
  | 'env-file'
  | 'label'
  | 'limits';

export interface DeployedFinding {
  kind: FindingKind;
  /** Where in the compose (`services.bot.environment.X`) or `env.KEY` for a value sent through the env API. */
  path: string;
  /** Plain words; never the value itself. */
  reason: string;
}

export interface DeployedMount {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path for a bind, volume name for a volume (undefined: anonymous), none for tmpfs. */
  source: string | undefined;
  target: string;
  readOnly: boolean;
}

export interface DeployedContainer {
  service: string;
  mounts: DeployedMount[];
  /** Container environment after Compose interpolation; only entries the model could judge. */
  environment: Map<string, string>;
  /** Labels as Coolify hands them to Compose: `key=value` strings. */
  labels: string[];
  pid: string | undefined;
  ipc: string | undefined;
  networkMode: string | undefined;
  pidsLimit: unknown;
  memswapLimit: unknown;
  memLimit: unknown;
}

export interface DeployedForm {
  containers: DeployedContainer[];
  findings: DeployedFinding[];
}

export interface EnvApiValue {
  key: string;
  value: string;
  /** Secrets may only be whole environment values (`KEY: ${NAME}`). */
  secret: boolean;
}

/** Env keys and `$NAME` references that make Coolify generate a public route (hazards §3). */
export const ROUTE_VARIABLE = /^SERVICE_(URL|FQDN)_/i;
/** Values Coolify generates for the service itself; harmless, and secret-like. */
export const GENERATED_VARIABLE = /^SERVICE_(PASSWORD|PASSWORDWITHSYMBOLS|PASSWORD64|USER|BASE64|REALBASE64|HEX)(_[A-Z0-9_]+)?$/;
/**
 * Coolify's magic-variable scan over env values (`serviceParser`, hazards §3). PHP matches bytes,
 * so any non-ASCII character counts as a name character. It ignores Compose's `$$` escape.
 */
const COOLIFY_DOLLAR_SCAN = /\$\{?([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)\}?/g;
/** `{{team.X}}` and the other scopes, whitespace and case tolerated (hazards §2). */
const SHARED_VARIABLE = /\{\{\s*(team|project|environment|server)\s*\./i;

/** Coolify's `sourceIsLocal()`: these sources are host paths. */
function isLocalSource(source: string): boolean {
  return source.startsWith('/') || source.startsWith('./') || source.startsWith('~') || source.startsWith('..');
}

/** Splits a short volume entry on `:` outside `${…}` (a default may hold colons). */
function volumeParts(entry: string): string[] {
  const parts = [''];
  let depth = 0;
  for (let i = 0; i < entry.length; i++) {
    const c = entry[i] ?? '';
    if (c === '$' && entry[i + 1] === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
    if (c === ':' && depth === 0) parts.push('');
    else parts[parts.length - 1] += c;
  }
  return parts;
}

/** Coolify decides variables in volume sources itself (hazards §7): a default is a fixed host path. */
function coolifySource(source: string): string {
  const m = /^\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}(.*)$/.exec(source);
  return m ? `${m[1] ?? ''}${m[2] ?? ''}` : source;
}

function modelMount(entry: unknown, at: string, findings: DeployedFinding[]): DeployedMount | undefined {
  let mount: DeployedMount | undefined;
  if (typeof entry === 'string') {
    const parts = volumeParts(entry);
    // hazards §1: one part means source = target.
    const source = coolifySource(parts[0] ?? '');
    const target = parts.length === 1 ? source : (parts[1] ?? '');
    const mode = parts[2] ?? '';
    const local = isLocalSource(source);
    if (parts.length === 1 && local) {
      findings.push({ kind: 'host-mount', path: at, reason: `a one-part volume '${source}' is deployed by Coolify as a read-write bind of that host path` });
    }
    mount = { type: local ? 'bind' : 'volume', source, target, readOnly: mode.split(',').includes('ro') };
  } else if (isPlainObject(entry)) {
    const type = entry.type === 'bind' || entry.type === 'tmpfs' ? entry.type : 'volume';
    const source = typeof entry.source === 'string' ? entry.source : undefined;
    // hazards §7: a long-syntax bind loses read_only and every other key.
    mount = {
      type,
      source: type === 'tmpfs' ? undefined : source,
      target: typeof entry.target === 'string' ? entry.target : '',
      readOnly: type !== 'bind' && entry.read_only === true,
    };
    if (type === 'volume' && source !== undefined && isLocalSource(source)) mount.type = 'bind';
  }
  if (mount?.type === 'bind' && !findings.some((f) => f.path === at)) {
    findings.push({ kind: 'host-mount', path: at, reason: `the host path '${mount.source ?? '?'}' would be bind-mounted` });
  }
  return mount;
}

interface EnvEntry {
  key: string;
  value: string | null;
  path: string;
}

function envEntries(value: unknown, path: string): EnvEntry[] {
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      const text = String(item);
      const eq = text.indexOf('=');
      return eq < 0 ? { key: text, value: null, path: joinPath(path, i) } : { key: text.slice(0, eq), value: text.slice(eq + 1), path: joinPath(path, i) };
    });
  }
  if (isPlainObject(value)) {
    return Object.entries(value).map(([key, v]) => ({
      key,
      value: v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v),
      path: joinPath(path, key),
    }));
  }
  return [];
}

/**
 * Findings Coolify's own rewrites cause in any string (stricter outside env values than Coolify).
 * In env values any `{{` is already a finding, so the shared-variable shape is not looked for.
 */
function coolifyNames(text: string, path: string, findings: DeployedFinding[], envValue = false): void {
  if (!envValue && SHARED_VARIABLE.test(text)) {
    findings.push({ kind: 'shared-variable', path, reason: 'names a Coolify shared variable ({{team.…}}, {{project.…}}, {{environment.…}}, {{server.…}}), which Coolify would replace with the operator\'s value' });
  }
  for (const m of text.matchAll(COOLIFY_DOLLAR_SCAN)) {
    if (ROUTE_VARIABLE.test(m[1] ?? '')) {
      findings.push({ kind: 'magic-variable', path, reason: 'names a Coolify magic variable (SERVICE_URL_*/SERVICE_FQDN_*), which makes Coolify generate a public route outside the tenant\'s domain ($$ does not hide it)' });
      return;
    }
  }
}

interface EnvContext {
  values: ReadonlyMap<string, string>;
  secrets: ReadonlySet<string>;
  findings: DeployedFinding[];
}

function isKnown(name: string, ctx: EnvContext): boolean {
  return ctx.values.has(name) || GENERATED_VARIABLE.test(name);
}

/** One environment value: Coolify's scan, its start-of-value rule (hazards §6), then Compose. */
function modelEnvValue(entry: EnvEntry & { value: string }, ctx: EnvContext): string | undefined {
  const { value, path } = entry;
  const before = ctx.findings.length;
  if (value.includes('{{')) {
    ctx.findings.push({ kind: 'shared-variable', path, reason: 'an environment value with {{ goes through Coolify\'s shared-variable resolution ({{team.…}} and the like)' });
  }
  coolifyNames(value, path, ctx.findings, true);
  if (value.startsWith('$$')) {
    ctx.findings.push({ kind: 'coolify-reference', path, reason: 'an environment value starting with $ is read by Coolify as a variable reference ($$ makes Coolify fail after saving the service)' });
  }
  for (const token of scanInterpolation(value)) {
    if (token.kind === 'escaped') continue;
    if (token.kind === 'malformed') {
      ctx.findings.push({ kind: 'interpolation', path, reason: `'${token.text}' is not a variable reference Compose can read` });
      continue;
    }
    if (token.operator !== undefined) {
      ctx.findings.push({ kind: 'interpolation', path, reason: `${token.text.slice(0, 2 + token.name.length)}${token.operator}…}: defaults and conditions are decided by Coolify and Compose at deploy time (a default becomes a stored variable)` });
    } else if (token.form === 'bare') {
      ctx.findings.push({ kind: 'interpolation', path, reason: `$${token.name}: write \${${token.name}} (Coolify reads a bare $NAME differently from Compose)` });
    } else if (ROUTE_VARIABLE.test(token.name)) {
      // Reported by the scan above.
    } else if (!isKnown(token.name, ctx)) {
      ctx.findings.push({ kind: 'interpolation', path, reason: `\${${token.name}} is not set on the service: Coolify would create it empty and Compose fill it from the host's environment` });
    } else if ((ctx.secrets.has(token.name) || GENERATED_VARIABLE.test(token.name)) && value !== token.text) {
      ctx.findings.push({ kind: 'interpolation', path, reason: `the secret \${${token.name}} may only be a whole environment value (KEY: \${${token.name}})` });
    }
  }
  if (ctx.findings.length > before) return undefined;
  // Generated values are Coolify's own; the model shows the reference.
  const values = new Map(ctx.values);
  for (const token of scanInterpolation(value)) {
    if (token.kind === 'variable' && GENERATED_VARIABLE.test(token.name)) values.set(token.name, token.text);
  }
  return interpolate(value, values);
}

/** Strings outside environment values: Compose would interpolate any reference in them. */
function modelString(text: string, path: string, findings: DeployedFinding[]): void {
  coolifyNames(text, path, findings);
  for (const token of scanInterpolation(text)) {
    if (token.kind === 'escaped') continue;
    findings.push({
      kind: 'interpolation',
      path,
      reason: `'${token.text}': Compose would interpolate this at deploy time; variables are allowed only in environment values`,
    });
  }
}

function walkStrings(node: unknown, path: string, visit: (text: string, path: string) => void): void {
  if (typeof node === 'string') visit(node, path);
  else if (Array.isArray(node)) node.forEach((item, i) => walkStrings(item, joinPath(path, i), visit));
  else if (isPlainObject(node)) for (const [k, v] of Object.entries(node)) walkStrings(v, joinPath(path, k), visit);
}

function labelStrings(value: unknown): { text: string; path: string }[] {
  const out: { text: string; path: string }[] = [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push({ text: String(v), path: `[${i}]` }));
  else if (isPlainObject(value)) {
    // Coolify turns every mapping label into a `key=value` string (hazards §4).
    for (const [k, v] of Object.entries(value)) out.push({ text: `${k}=${v === null ? '' : String(v)}`, path: `.${k}` });
  }
  return out;
}

function isHostNamespace(value: unknown): boolean {
  return typeof value === 'string' && (value === 'host' || value.startsWith('container:'));
}

function modelContainer(name: string, service: Record<string, unknown>, ctx: EnvContext): DeployedContainer {
  const where = `services.${name}`;
  const { findings } = ctx;
  const container: DeployedContainer = {
    service: name,
    mounts: [],
    environment: new Map(),
    labels: [],
    pid: typeof service.pid === 'string' ? service.pid : undefined,
    ipc: typeof service.ipc === 'string' ? service.ipc : undefined,
    networkMode: typeof service.network_mode === 'string' ? service.network_mode : undefined,
    pidsLimit: service.pids_limit,
    memswapLimit: service.memswap_limit,
    memLimit: service.mem_limit,
  };
  // hazards §7: `env_file: .env` is added to every container, so every container sees the whole `.env`.
  for (const [key, value] of ctx.values) container.environment.set(key, value);
  for (const entry of envEntries(service.environment, `${where}.environment`)) {
    if (ROUTE_VARIABLE.test(entry.key)) {
      findings.push({ kind: 'magic-variable', path: entry.path, reason: `the environment key ${entry.key.slice(0, 14)}… makes Coolify route this service under a generated host outside the tenant's domain` });
      continue;
    }
    if (entry.key.includes('$')) {
      // Compose interpolates a list entry as a whole, so the variable would choose the name.
      findings.push({ kind: 'interpolation', path: entry.path, reason: 'a $ in an environment key lets a variable choose the name of the container\'s variable' });
      continue;
    }
    if (entry.value === null) {
      findings.push({ kind: 'interpolation', path: entry.path, reason: 'an environment entry without a value is filled by Compose from the host\'s environment' });
      continue;
    }
    const modelled = modelEnvValue({ ...entry, value: entry.value }, ctx);
    if (modelled !== undefined) container.environment.set(entry.key, modelled);
  }
  for (const { text, path } of labelStrings(service.labels)) {
    const at = `${where}.labels${path}`;
    if (text.includes('$')) {
      findings.push({ kind: 'label', path: at, reason: 'a $ in a label is interpolated by Compose unless Coolify\'s label escaping is on for the service, which the daemon cannot see' });
    }
    coolifyNames(text, at, findings);
    container.labels.push(text);
  }
  const volumes = Array.isArray(service.volumes) ? service.volumes : [];
  volumes.forEach((entry, i) => {
    const mount = modelMount(entry, `${where}.volumes[${i}]`, findings);
    if (mount) container.mounts.push(mount);
  });
  for (const [key, value] of Object.entries(service)) {
    if (key === 'environment' || key === 'labels') continue;
    walkStrings(value, `${where}.${key}`, (text, path) => modelString(text, path, findings));
  }
  for (const ns of ['pid', 'ipc', 'network_mode'] as const) {
    if (isHostNamespace(service[ns])) findings.push({ kind: 'host-namespace', path: `${where}.${ns}`, reason: `shares the host's or another container's namespace` });
  }
  const pids = service.pids_limit;
  if (typeof pids !== 'number' || !Number.isInteger(pids) || pids <= 0) {
    findings.push({ kind: 'limits', path: `${where}.pids_limit`, reason: 'every container needs a process limit' });
  }
  if (service.memswap_limit === undefined || service.memswap_limit !== service.mem_limit) {
    findings.push({ kind: 'limits', path: `${where}.memswap_limit`, reason: 'every container needs memory + swap capped at its memory limit' });
  }
  return container;
}

/** Checks one value sent through the env API against Coolify's `.env` writing (hazards §2, §5, §6). */
export function envFileProblem(value: string): string | undefined {
  if (value.includes("'")) return "contains a ', which ends Coolify's quoting in the service's .env file and would define further variables";
  if (value.startsWith('$')) return 'starts with $, which Coolify reads as a reference to another variable';
  if (value.includes('{{')) return 'contains {{, which Coolify resolves as a shared variable ({{team.…}}, {{server.…}}) before writing .env';
  if (/[\r\n]/.test(value)) return "contains a line break, which Coolify's .env file cannot carry safely";
  if (/^\s*[[{]/.test(value)) return "starts with { or [, so Coolify may write it to .env unquoted as JSON, where Compose would interpolate it";
  return undefined;
}

export function modelDeployment(compose: Record<string, unknown>, env: readonly EnvApiValue[]): DeployedForm {
  const findings: DeployedFinding[] = [];
  const envFile = new Map<string, string>();
  for (const e of env) {
    const problem = envFileProblem(e.value);
    if (problem) findings.push({ kind: 'env-file', path: `env.${e.key}`, reason: problem });
    // Set either way: a refused value is one finding, not also a missing variable wherever it is used.
    envFile.set(e.key, e.value);
  }
  const ctx: EnvContext = { values: envFile, secrets: new Set(env.filter((e) => e.secret).map((e) => e.key)), findings };
  const containers: DeployedContainer[] = [];
  const services = isPlainObject(compose.services) ? compose.services : {};
  for (const [name, service] of Object.entries(services)) {
    if (isPlainObject(service)) containers.push(modelContainer(name, service, ctx));
  }
  for (const section of ['volumes', 'networks'] as const) {
    walkStrings(compose[section], section, (text, path) => modelString(text, path, findings));
  }
  return { containers, findings };
}
