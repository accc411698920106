/**
 * The security policy for a rendered compose file (SPEC §4). It refuses what could reach the host
 * or other tenants, and forces what every tenant container must carry: resource limits within the
 * plan's ceilings, `no-new-privileges`, `cap_drop: [ALL]` with only the template's capabilities
 * added back, and the cf.* ownership labels. It is an allow-list: a compose key it does not know
 * is refused rather than passed through.
 *
 * Every container also gets `pids_limit` (the plan's process limit) and `memswap_limit` equal to
 * its memory limit: unset, Docker leaves processes unlimited and lets swap double the memory.
 *
 * Limits are written twice, as `deploy.resources.limits` and as the short `cpus`/`mem_limit`:
 * Compose v2 (what Coolify runs) applies `deploy.resources.limits` outside Swarm, while the legacy
 * docker-compose v1 only applies the short form. Compose rejects the pair only when the two
 * disagree, so both always carry the same value.
 */
import { normaliseCapability, type TemplateManifest } from './template-definition.js';
import { isPlainObject, setOwn } from './yaml-io.js';

export interface HardenOptions {
  template: TemplateManifest;
  /** Per-container ceilings from the plan: cores, MiB and processes. */
  ceiling: { cpus: number; memoryMb: number; pids: number };
  labels: { tenant: string; stack: string; template: string };
}

export interface HardenResult {
  compose: Record<string, unknown>;
  /** Each names the service (or top-level section) and key. */
  problems: string[];
}

const TOP_LEVEL_KEYS = new Set(['services', 'volumes', 'networks', 'version']);

/** Service keys passed through unchanged (after any check below). */
const PASS_THROUGH_KEYS = new Set([
  'image',
  'command',
  'entrypoint',
  'environment',
  'working_dir',
  'user',
  'hostname',
  'expose',
  'healthcheck',
  'depends_on',
  'restart',
  'stop_grace_period',
  'stop_signal',
  'read_only',
  'init',
  'tty',
  'stdin_open',
  'shm_size',
  'tmpfs',
  'pull_policy',
  'platform',
]);

/** Keys the policy handles itself (checked, then rewritten or dropped). */
const MANAGED_KEYS = new Set([
  'volumes',
  'networks',
  'labels',
  'deploy',
  'cpus',
  'mem_limit',
  'cap_add',
  'cap_drop',
  'security_opt',
  'privileged',
  'network_mode',
  'pid',
  'ipc',
  'container_name',
]);

/** Keys with a specific reason; anything else unknown gets a generic "not allowed". */
const REFUSED_KEYS: Record<string, string> = {
  ports: 'published host ports are not allowed; public traffic goes through ingress',
  devices: 'host devices are not allowed',
  device_cgroup_rules: 'device access rules are not allowed',
  gpus: 'GPU access is not allowed',
  volumes_from: 'mounting volumes of other containers is not allowed',
  build: 'building images is not allowed; use a published image',
  env_file: 'env files on the host are not allowed; use environment',
  extends: 'extending other compose files is not allowed',
  userns_mode: 'changing the user namespace is not allowed',
  cgroup: 'changing the cgroup namespace is not allowed',
  cgroup_parent: 'changing the cgroup parent is not allowed',
  uts: 'sharing the UTS namespace is not allowed',
  sysctls: 'kernel parameters are not allowed',
  ulimits: 'changing ulimits is not allowed',
  runtime: 'choosing a container runtime is not allowed',
  secrets: 'compose secrets read host files; use secret params',
  configs: 'compose configs read host files; use environment',
  links: 'links are not allowed; services reach each other by name',
  external_links: 'links to containers outside the stack are not allowed',
  memswap_limit: 'the swap limit is set by the platform',
  pids_limit: 'the process limit is set by the platform',
  mem_reservation: 'memory reservations are set by the platform',
  oom_kill_disable: 'disabling the OOM killer is not allowed',
  logging: 'log drivers are set by the platform',
  extra_hosts: 'host name overrides are not allowed (host-gateway reaches the Docker host)',
};

const WEAKENING_SECURITY_OPT = 'only no-new-privileges is allowed; other options would weaken isolation or read host files';

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Coolify refuses volume paths with shell metacharacters; keep container paths to a safe set. */
const CONTAINER_PATH = /^\/[A-Za-z0-9._@+\-/]*$/;
const MOUNT_MODES = new Set(['ro', 'rw', 'nocopy', 'z', 'Z']);
const LABEL_PREFIXES_REFUSED = ['traefik.', 'coolify.', 'caddy'];
const RESTART_POLICIES = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;

/** Docker refuses containers with less memory than this. */
export const MIN_MEMORY_MB = 6;

function toList(value: unknown): unknown[] | undefined {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : undefined;
}

/** Compose memory: bytes as a number, or a string with b/k/m/g units (binary). Returns MiB. */
export function parseMemoryMb(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value / (1024 * 1024);
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmg])?i?b?\s*$/i.exec(value);
  if (!m?.[1]) return undefined;
  const factor = { b: 1 / (1024 * 1024), k: 1 / 1024, m: 1, g: 1024 }[(m[2] ?? 'b').toLowerCase() as 'b' | 'k' | 'm' | 'g'];
  const mb = Number(m[1]) * factor;
  return mb > 0 ? mb : undefined;
}

export function parseCpus(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Rounds down to 0.001 core so the result never exceeds the ceiling it came from. */
function formatCpus(cores: number): number {
  return Math.max(0.001, Math.floor(cores * 1000) / 1000);
}

function labelsToMap(value: unknown, where: string, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined || value === null) return out;
  if (Array.isArray(value)) {
    for (const [i, entry] of value.entries()) {
      if (typeof entry !== 'string') {
        problems.push(`${where}[${i}]: must be a "key=value" string`);
        continue;
      }
      const eq = entry.indexOf('=');
      setOwn(out, eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
    }
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (v !== null && typeof v === 'object') problems.push(`${where}.${k}: must be a scalar`);
      else setOwn(out, k, v === null ? '' : String(v));
    }
  } else problems.push(`${where}: must be a mapping or a list of "key=value"`);
  return out;
}

interface ServiceContext {
  name: string;
  problems: string[];
  volumeNames: ReadonlySet<string>;
  networkNames: ReadonlySet<string>;
  serviceNames: ReadonlySet<string>;
}

function checkVolumes(value: unknown, ctx: ServiceContext): unknown[] {
  const where = `services.${ctx.name}.volumes`;
  const list = toList(value);
  if (!list) {
    ctx.problems.push(`${where}: must be a list`);
    return [];
  }
  const hostPath = (source: string, at: string): void => {
    ctx.problems.push(
      source.includes('docker.sock')
        ? `${at}: mounting the Docker socket is not allowed`
        : `${at}: host-path bind mount '${source}' is not allowed (named volumes and tmpfs only)`,
    );
  };
  const namedSource = (source: string, at: string): boolean => {
    if (/^[./~]/.test(source) || source.includes('/') || source.includes('\\')) {
      hostPath(source, at);
      return false;
    }
    if (!VOLUME_NAME.test(source)) {
      ctx.problems.push(`${at}: volume name '${source}' is not valid`);
      return false;
    }
    if (!ctx.volumeNames.has(source)) {
      ctx.problems.push(`${at}: volume '${source}' is not declared under top-level volumes`);
      return false;
    }
    return true;
  };
  const target = (path: unknown, at: string): boolean => {
    if (typeof path !== 'string' || !CONTAINER_PATH.test(path)) {
      ctx.problems.push(`${at}: the container path must be absolute and use only letters, digits and ._@+-/`);
      return false;
    }
    return true;
  };
  list.forEach((entry, i) => {
    const at = `${where}[${i}]`;
    if (typeof entry === 'string') {
      const parts = entry.split(':');
      // Coolify deploys a one-part volume as a bind of that host path (hazards §1).
      if (parts.length === 1) {
        ctx.problems.push(`${at}: a one-part volume '${entry}' is deployed by Coolify as a bind mount of the host path; name a volume ('name:${entry}') or use tmpfs`);
      }
      else if (parts.length <= 3) {
        const [source = '', path, mode] = parts;
        if (namedSource(source, at) && target(path, at) && mode !== undefined) {
          if (!mode.split(',').every((m) => MOUNT_MODES.has(m))) ctx.problems.push(`${at}: mount mode '${mode}' is not allowed`);
        }
      } else ctx.problems.push(`${at}: not a valid volume entry`);
    } else if (isPlainObject(entry)) {
      const type = entry.type ?? 'volume';
      for (const key of Object.keys(entry)) {
        if (!['type', 'source', 'target', 'read_only', 'volume', 'tmpfs'].includes(key)) {
          ctx.problems.push(`${at}.${key}: not allowed`);
        }
      }
      if (type === 'volume') {
        if (typeof entry.source === 'string') namedSource(entry.source, `${at}.source`);
        else if (entry.source !== undefined) ctx.problems.push(`${at}.source: must be a volume name`);
      } else if (type === 'tmpfs') {
        if (entry.source !== undefined) ctx.problems.push(`${at}.source: a tmpfs mount has no source`);
      } else if (type === 'bind') {
        hostPath(typeof entry.source === 'string' ? entry.source : '?', at);
      } else ctx.problems.push(`${at}.type: '${String(type)}' mounts are not allowed (named volumes and tmpfs only)`);
      target(entry.target, `${at}.target`);
    } else ctx.problems.push(`${at}: must be a string or a mapping`);
  });
  return list;
}

function checkServiceNetworks(value: unknown, ctx: ServiceContext): void {
  const where = `services.${ctx.name}.networks`;
  const known = (name: string, at: string): void => {
    if (name !== 'default' && !ctx.networkNames.has(name)) ctx.problems.push(`${at}: network '${name}' is not declared under top-level networks`);
  };
  if (Array.isArray(value)) {
    value.forEach((n, i) => {
      if (typeof n !== 'string') ctx.problems.push(`${where}[${i}]: must be a network name`);
      else known(n, `${where}[${i}]`);
    });
  } else if (isPlainObject(value)) {
    for (const [name, opts] of Object.entries(value)) {
      known(name, `${where}.${name}`);
      if (opts === null) continue;
      if (!isPlainObject(opts)) ctx.problems.push(`${where}.${name}: must be a mapping`);
      else {
        for (const key of Object.keys(opts)) {
          if (key !== 'aliases') ctx.problems.push(`${where}.${name}.${key}: not allowed (only aliases)`);
        }
      }
    }
  } else if (value !== null && value !== undefined) ctx.problems.push(`${where}: must be a list or a mapping`);
}

/** Limits the template may lower further; they can never raise the plan's ceiling. */
function declaredLimits(service: Record<string, unknown>, ctx: ServiceContext): { cpus?: number; memoryMb?: number; rest: Record<string, unknown> } {
  const where = `services.${ctx.name}`;
  const result: { cpus?: number; memoryMb?: number; rest: Record<string, unknown> } = { rest: {} };
  const lower = (kind: 'cpus' | 'memoryMb', raw: unknown, at: string): void => {
    if (raw === undefined) return;
    const parsed = kind === 'cpus' ? parseCpus(raw) : parseMemoryMb(raw);
    if (parsed === undefined) {
      ctx.problems.push(`${at}: not a valid ${kind === 'cpus' ? 'CPU count' : 'memory size'}`);
      return;
    }
    const current = result[kind];
    result[kind] = current === undefined ? parsed : Math.min(current, parsed);
  };
  lower('cpus', service.cpus, `${where}.cpus`);
  lower('memoryMb', service.mem_limit, `${where}.mem_limit`);
  const deploy = service.deploy;
  if (deploy === undefined || deploy === null) return result;
  if (!isPlainObject(deploy)) {
    ctx.problems.push(`${where}.deploy: must be a mapping`);
    return result;
  }
  for (const [key, value] of Object.entries(deploy)) {
    if (key === 'restart_policy') setOwn(result.rest, key, value);
    else if (key !== 'resources') ctx.problems.push(`${where}.deploy.${key}: not allowed (only resources and restart_policy)`);
  }
  const resources = deploy.resources;
  if (resources === undefined || resources === null) return result;
  if (!isPlainObject(resources)) {
    ctx.problems.push(`${where}.deploy.resources: must be a mapping`);
    return result;
  }
  for (const key of Object.keys(resources)) {
    if (key !== 'limits') ctx.problems.push(`${where}.deploy.resources.${key}: not allowed (only limits)`);
  }
  const limits = resources.limits;
  if (limits === undefined || limits === null) return result;
  if (!isPlainObject(limits)) {
    ctx.problems.push(`${where}.deploy.resources.limits: must be a mapping`);
    return result;
  }
  for (const key of Object.keys(limits)) {
    if (key !== 'cpus' && key !== 'memory') ctx.problems.push(`${where}.deploy.resources.limits.${key}: not allowed`);
  }
  lower('cpus', limits.cpus, `${where}.deploy.resources.limits.cpus`);
  lower('memoryMb', limits.memory, `${where}.deploy.resources.limits.memory`);
  return result;
}

function isHostNamespace(value: unknown): boolean {
  return typeof value !== 'string' || value === 'host' || value.startsWith('container:');
}

function hardenService(raw: unknown, ctx: ServiceContext, opts: HardenOptions): Record<string, unknown> {
  const where = `services.${ctx.name}`;
  const out: Record<string, unknown> = {};
  if (!isPlainObject(raw)) {
    ctx.problems.push(`${where}: must be a mapping`);
    return out;
  }
  for (const [key, value] of Object.entries(raw)) {
    const reason = REFUSED_KEYS[key];
    if (reason) ctx.problems.push(`${where}.${key}: ${reason}`);
    else if (PASS_THROUGH_KEYS.has(key)) setOwn(out, key, value);
    else if (!MANAGED_KEYS.has(key)) ctx.problems.push(`${where}.${key}: not allowed`);
  }
  if (typeof raw.image !== 'string' || raw.image.trim() === '') ctx.problems.push(`${where}.image: required (an image reference)`);
  if (raw.restart !== undefined && (typeof raw.restart !== 'string' || !RESTART_POLICIES.test(raw.restart))) {
    ctx.problems.push(`${where}.restart: must be no, always, unless-stopped or on-failure[:N]`);
  }

  if (raw.privileged !== undefined && raw.privileged !== false) ctx.problems.push(`${where}.privileged: privileged containers are not allowed`);
  if (raw.network_mode !== undefined) {
    const mode = raw.network_mode;
    const local = typeof mode === 'string' && mode.startsWith('service:') && ctx.serviceNames.has(mode.slice('service:'.length));
    if (mode === 'host') ctx.problems.push(`${where}.network_mode: host networking is not allowed`);
    else if (local || mode === 'none') setOwn(out, 'network_mode', mode);
    else ctx.problems.push(`${where}.network_mode: only none or service:<a service of this stack> is allowed`);
  }
  for (const ns of ['pid', 'ipc'] as const) {
    if (raw[ns] === undefined) continue;
    if (isHostNamespace(raw[ns])) ctx.problems.push(`${where}.${ns}: sharing the host's or another container's ${ns} namespace is not allowed`);
    else setOwn(out, ns, raw[ns]);
  }

  if (raw.volumes !== undefined) setOwn(out, 'volumes', checkVolumes(raw.volumes, ctx));
  if (raw.networks !== undefined) {
    checkServiceNetworks(raw.networks, ctx);
    setOwn(out, 'networks', raw.networks);
  }

  const allowedCaps = opts.template.capabilities[ctx.name] ?? [];
  const capAdd = toList(raw.cap_add);
  if (!capAdd) ctx.problems.push(`${where}.cap_add: must be a list`);
  else {
    for (const cap of capAdd) {
      if (typeof cap !== 'string' || !allowedCaps.includes(normaliseCapability(cap))) {
        ctx.problems.push(`${where}.cap_add: ${String(cap)} is not among the template's capabilities for ${ctx.name}`);
      }
    }
  }
  const cap_drop = toList(raw.cap_drop);
  if (!cap_drop || cap_drop.some((c) => typeof c !== 'string')) ctx.problems.push(`${where}.cap_drop: must be a list of capabilities`);
  const securityOpt = toList(raw.security_opt);
  if (!securityOpt) ctx.problems.push(`${where}.security_opt: must be a list`);
  else {
    for (const opt of securityOpt) {
      if (typeof opt !== 'string' || !/^no-new-privileges(?:[:=]true)?$/.test(opt)) {
        ctx.problems.push(`${where}.security_opt: '${String(opt)}' refused; ${WEAKENING_SECURITY_OPT}`);
      }
    }
  }

  const labels = labelsToMap(raw.labels, `${where}.labels`, ctx.problems);
  for (const key of Object.keys(labels)) {
    if (LABEL_PREFIXES_REFUSED.some((p) => key.startsWith(p))) {
      ctx.problems.push(`${where}.labels.${key}: routing and Coolify labels are set by the platform`);
    }
  }
  setOwn(labels, 'cf.tenant', opts.labels.tenant);
  setOwn(labels, 'cf.stack', opts.labels.stack);
  setOwn(labels, 'cf.template', opts.labels.template);
  setOwn(out, 'labels', labels);

  const declared = declaredLimits(raw, ctx);
  const defaults = opts.template.resources[ctx.name];
  const cpus = formatCpus(Math.min(opts.ceiling.cpus, defaults?.cpus ?? Infinity, declared.cpus ?? Infinity));
  const memoryMb = Math.floor(Math.min(opts.ceiling.memoryMb, defaults?.memoryMb ?? Infinity, declared.memoryMb ?? Infinity));
  if (memoryMb < MIN_MEMORY_MB) ctx.problems.push(`${where}: memory limit ${memoryMb} MiB is below Docker's minimum of ${MIN_MEMORY_MB} MiB`);
  setOwn(out, 'deploy', { ...declared.rest, resources: { limits: { cpus: String(cpus), memory: `${memoryMb}M` } } });
  setOwn(out, 'cpus', cpus);
  setOwn(out, 'mem_limit', `${memoryMb}m`);
  setOwn(out, 'memswap_limit', `${memoryMb}m`);
  setOwn(out, 'pids_limit', opts.ceiling.pids);

  setOwn(out, 'security_opt', ['no-new-privileges:true']);
  setOwn(out, 'cap_drop', ['ALL']);
  if (allowedCaps.length > 0) setOwn(out, 'cap_add', [...allowedCaps]);
  return out;
}

function checkTopLevelResources(
  kind: 'volumes' | 'networks',
  value: unknown,
  problems: string[],
): { names: Set<string>; out: Record<string, unknown> } {
  const names = new Set<string>();
  const out: Record<string, unknown> = {};
  if (value === undefined || value === null) return { names, out };
  if (!isPlainObject(value)) {
    problems.push(`${kind}: must be a mapping`);
    return { names, out };
  }
  for (const [name, def] of Object.entries(value)) {
    const where = `${kind}.${name}`;
    if (!VOLUME_NAME.test(name)) problems.push(`${where}: not a valid ${kind === 'volumes' ? 'volume' : 'network'} name`);
    names.add(name);
    setOwn(out, name, def);
    if (def === null) continue;
    if (!isPlainObject(def)) {
      problems.push(`${where}: must be a mapping`);
      continue;
    }
    for (const [key, v] of Object.entries(def)) {
      if (key === 'labels') continue;
      if (kind === 'networks' && key === 'internal' && typeof v === 'boolean') continue;
      if (kind === 'networks' && key === 'driver' && v === 'bridge') continue;
      const why =
        key === 'external' || key === 'name'
          ? `refers to a ${kind === 'volumes' ? 'volume' : 'network'} outside the stack`
          : key === 'driver' || key === 'driver_opts'
            ? kind === 'volumes'
              ? 'volume drivers and options can bind host paths'
              : 'only the bridge driver is allowed'
            : 'not allowed';
      problems.push(`${where}.${key}: ${why}`);
    }
  }
  return { names, out };
}

export function hardenCompose(rendered: unknown, opts: HardenOptions): HardenResult {
  const problems: string[] = [];
  const compose: Record<string, unknown> = {};
  if (!isPlainObject(rendered)) return { compose, problems: ['compose: must be a mapping with a services section'] };
  for (const key of Object.keys(rendered)) {
    // x-* extension fields hold anchors for the template author; they are dropped from the output.
    if (!TOP_LEVEL_KEYS.has(key) && !key.startsWith('x-')) problems.push(`${key}: top-level key not allowed`);
  }
  const volumes = checkTopLevelResources('volumes', rendered.volumes, problems);
  const networks = checkTopLevelResources('networks', rendered.networks, problems);
  const services = rendered.services;
  if (!isPlainObject(services) || Object.keys(services).length === 0) {
    problems.push('services: at least one service is required');
    return { compose, problems };
  }
  const serviceNames = new Set(Object.keys(services));
  const outServices: Record<string, unknown> = {};
  for (const [name, service] of Object.entries(services)) {
    if (!VOLUME_NAME.test(name)) problems.push(`services.${name}: service names may use only letters, digits and ._-`);
    const ctx: ServiceContext = { name, problems, volumeNames: volumes.names, networkNames: networks.names, serviceNames };
    setOwn(outServices, name, hardenService(service, ctx, opts));
  }
  for (const section of ['resources', 'capabilities'] as const) {
    for (const name of Object.keys(opts.template[section])) {
      if (!serviceNames.has(name)) problems.push(`${section}.${name}: no such service in compose.yaml`);
    }
  }
  for (const [i, entry] of opts.template.ingress.entries()) {
    if (!serviceNames.has(entry.service)) problems.push(`ingress[${i}].service: no such service '${entry.service}' in compose.yaml`);
  }
  compose.services = outServices;
  if (Object.keys(volumes.out).length > 0) compose.volumes = volumes.out;
  if (Object.keys(networks.out).length > 0) compose.networks = networks.out;
  return { compose, problems };
}
