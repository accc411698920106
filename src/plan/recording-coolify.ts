/**
 * A read-only Coolify for `plan`: every read goes to the real client (through its rate limiter);
 * every write is recorded instead of sent, and answered the way Coolify would answer it, so the
 * real reconcilers run their whole pass against it. Resources the pass "creates" get placeholder
 * uuids and are visible to later reads of the same pass (a planned project holds the planned
 * services), as the daemon's own later steps would see the real ones.
 *
 * Each recorded write carries what it changes compared with what the reads returned: fields,
 * urls, env var names. Env var values are compared but never kept.
 *
 * It has no `listServicesMapped`: readers fall back to `listServices` (`mapServices`), which
 * remembers every listed service with its compose for the diffs above and adds the planned ones,
 * so a plan keeps the listing whole in any case (it is one pass, not a long-running daemon).
 */
import type {
  CoolifyApi,
  CoolifyEnvVar,
  CoolifyProject,
  CoolifyProjectDetail,
  CoolifyService,
  CoolifyServiceDetail,
  CreateServiceInput,
  LifecycleResult,
  UpdateServiceInput,
} from '../coolify/types.js';

export type CoolifyWriteOp =
  | 'create_project'
  | 'update_project'
  | 'create_environment'
  | 'delete_project'
  | 'create_service'
  | 'update_service'
  | 'delete_service'
  | 'start'
  | 'stop'
  | 'restart'
  | 'deploy'
  | 'set_env'
  | 'delete_env';

export interface CoolifyWrite {
  op: CoolifyWriteOp;
  /** The resource written (a placeholder `planned-…` uuid for one this plan creates). */
  uuid: string;
  /** Name of the project or service, when known. */
  name: string | undefined;
  /** What changes, in words, without any env var value: `name: a → b`, `urls: app https://… → https://…`. */
  changes: string[];
  /** Env var names set with a new or changed value (set_env) or deleted (delete_env). */
  envNames?: string[];
  /** HTTP method and route template the daemon would send, to compare with a request log. */
  request: { method: 'POST' | 'PATCH' | 'DELETE'; route: string };
}

export const PLANNED_PREFIX = 'planned-';

export class RecordingCoolify implements CoolifyApi {
  readonly #inner: CoolifyApi;
  readonly #record: (write: CoolifyWrite) => void;
  #seq = 0;
  readonly #projects = new Map<string, CoolifyProjectDetail>();
  readonly #services = new Map<string, CoolifyServiceDetail>();
  /** What reads returned, for the diff of a later write. */
  readonly #seenServices = new Map<string, CoolifyService | CoolifyServiceDetail>();
  readonly #seenEnvs = new Map<string, CoolifyEnvVar[]>();

  readonly #composeEquals: (a: string, b: string) => boolean;

  constructor(inner: CoolifyApi, record: (write: CoolifyWrite) => void, composeEquals: (a: string, b: string) => boolean) {
    this.#inner = inner;
    this.#record = record;
    this.#composeEquals = composeEquals;
  }

  #planned(kind: string): string {
    return `${PLANNED_PREFIX}${kind}-${++this.#seq}`;
  }

  #serviceName(uuid: string): string | undefined {
    return this.#services.get(uuid)?.name ?? this.#seenServices.get(uuid)?.name;
  }

  // ---- reads: passed through, remembered ----

  version(): Promise<string> {
    return this.#inner.version();
  }

  async listProjects(): Promise<CoolifyProject[]> {
    return [...(await this.#inner.listProjects()), ...this.#projects.values()];
  }

  async getProject(uuid: string): Promise<CoolifyProjectDetail> {
    const planned = this.#projects.get(uuid);
    if (planned) return structuredClone(planned);
    return this.#inner.getProject(uuid);
  }

  listServers() {
    return this.#inner.listServers();
  }

  listDestinations(serverUuid: string) {
    return this.#inner.listDestinations(serverUuid);
  }

  async listServices(): Promise<CoolifyService[]> {
    const list = await this.#inner.listServices();
    for (const s of list) if (!this.#seenServices.has(s.uuid)) this.#seenServices.set(s.uuid, s);
    return [...list, ...[...this.#services.values()].map((s) => structuredClone(s))];
  }

  async getService(uuid: string): Promise<CoolifyServiceDetail> {
    const planned = this.#services.get(uuid);
    if (planned) return structuredClone(planned);
    const service = await this.#inner.getService(uuid);
    this.#seenServices.set(uuid, service);
    return service;
  }

  async listServiceEnvs(uuid: string): Promise<CoolifyEnvVar[]> {
    if (this.#services.has(uuid)) return structuredClone(this.#seenEnvs.get(uuid) ?? []);
    const envs = await this.#inner.listServiceEnvs(uuid);
    this.#seenEnvs.set(uuid, envs);
    return envs;
  }

  // ---- writes: recorded, answered as Coolify would ----

  createProject(input: { name: string; description: string }): Promise<{ uuid: string }> {
    const uuid = this.#planned('project');
    this.#projects.set(uuid, { uuid, name: input.name, description: input.description, environments: [{ id: -this.#seq, uuid: '', name: 'production' }] });
    this.#record({ op: 'create_project', uuid, name: input.name, changes: [], request: { method: 'POST', route: 'projects' } });
    return Promise.resolve({ uuid });
  }

  updateProject(uuid: string, input: { description: string }): Promise<{ uuid: string }> {
    const project = this.#projects.get(uuid);
    const before = project?.description;
    if (project) project.description = input.description;
    const changes = input.description !== before ? [`marker: ${before ?? '?'} → ${input.description}`] : [];
    this.#record({ op: 'update_project', uuid, name: project?.name, changes, request: { method: 'PATCH', route: 'projects/{uuid}' } });
    return Promise.resolve({ uuid });
  }

  createEnvironment(projectUuid: string, name: string): Promise<{ uuid: string }> {
    const uuid = this.#planned('environment');
    this.#projects.get(projectUuid)?.environments.push({ id: -this.#seq, uuid, name });
    this.#record({ op: 'create_environment', uuid: projectUuid, name, changes: [`environment ${name}`], request: { method: 'POST', route: 'projects/{uuid}/environments' } });
    return Promise.resolve({ uuid });
  }

  deleteProject(uuid: string): Promise<void> {
    this.#record({ op: 'delete_project', uuid, name: undefined, changes: [], request: { method: 'DELETE', route: 'projects/{uuid}' } });
    return Promise.resolve();
  }

  createService(input: CreateServiceInput): Promise<{ uuid: string; domains: string[] }> {
    const uuid = this.#planned('service');
    const project = this.#projects.get(input.projectUuid);
    const environmentId = project?.environments.find((e) => e.name === input.environmentName)?.id ?? 0;
    this.#services.set(uuid, {
      uuid,
      name: input.name,
      description: input.description,
      environmentId,
      status: 'exited',
      dockerComposeRaw: input.composeYaml,
      applications: (input.urls ?? []).map((u) => ({ uuid: '', name: u.name, fqdn: u.url, status: 'exited' })),
    });
    const changes = [`server ${input.serverUuid}`, ...(input.urls ?? []).filter((u) => u.url).map((u) => `urls: ${u.name} ${u.url ?? ''}`)];
    this.#record({ op: 'create_service', uuid, name: input.name, changes, request: { method: 'POST', route: 'services' } });
    return Promise.resolve({ uuid, domains: [] });
  }

  updateService(uuid: string, input: UpdateServiceInput): Promise<{ uuid: string; domains: string[] }> {
    const before = this.#services.get(uuid) ?? this.#seenServices.get(uuid);
    const changes: string[] = [];
    if (input.name !== undefined && input.name !== before?.name) changes.push(`name: ${before?.name ?? '?'} → ${input.name}`);
    if (input.description !== undefined && input.description !== before?.description) {
      changes.push(`marker: ${before?.description ?? '?'} → ${input.description}`);
    }
    if (input.composeYaml !== undefined) changes.push(composeChange(before?.dockerComposeRaw, input.composeYaml, this.#composeEquals));
    if (input.urls !== undefined) {
      const apps = before && 'applications' in before ? (before as CoolifyServiceDetail).applications : [];
      for (const u of input.urls) {
        const old = apps.find((a) => a.name === u.name)?.fqdn ?? null;
        if ((old ?? '') !== (u.url ?? '')) changes.push(`urls: ${u.name} ${old ?? '(none)'} → ${u.url ?? '(none)'}`);
      }
    }
    const planned = this.#services.get(uuid);
    if (planned) Object.assign(planned, { ...(input.name ? { name: input.name } : {}), ...(input.description ? { description: input.description } : {}) });
    const seen = this.#seenServices.get(uuid);
    if (seen && input.description !== undefined) seen.description = input.description;
    this.#record({ op: 'update_service', uuid, name: before?.name, changes, request: { method: 'PATCH', route: 'services/{uuid}' } });
    return Promise.resolve({ uuid, domains: [] });
  }

  deleteService(uuid: string): Promise<void> {
    this.#record({ op: 'delete_service', uuid, name: this.#serviceName(uuid), changes: ['volumes included'], request: { method: 'DELETE', route: 'services/{uuid}' } });
    return Promise.resolve();
  }

  #lifecycle(op: 'start' | 'stop' | 'restart', uuid: string): Promise<LifecycleResult> {
    this.#record({ op, uuid, name: this.#serviceName(uuid), changes: [], request: { method: 'POST', route: `services/{uuid}/${op}` } });
    return Promise.resolve('queued');
  }

  startService(uuid: string): Promise<LifecycleResult> {
    return this.#lifecycle('start', uuid);
  }

  stopService(uuid: string): Promise<LifecycleResult> {
    return this.#lifecycle('stop', uuid);
  }

  restartService(uuid: string): Promise<LifecycleResult> {
    return this.#lifecycle('restart', uuid);
  }

  deployService(uuid: string): Promise<void> {
    this.#record({ op: 'deploy', uuid, name: this.#serviceName(uuid), changes: [], request: { method: 'POST', route: 'deploy' } });
    return Promise.resolve();
  }

  upsertServiceEnvs(uuid: string, vars: { key: string; value: string }[]): Promise<void> {
    const current = this.#seenEnvs.get(uuid) ?? [];
    // Names whose value is new or differs (compared here, never kept); a hidden value (null) counts as differing.
    const envNames = vars.filter((v) => current.find((c) => c.key === v.key)?.value !== v.value).map((v) => v.key);
    const next = [...current.filter((c) => !vars.some((v) => v.key === c.key)), ...vars.map((v) => ({ uuid: '', key: v.key, value: v.value, isCoolify: false }))];
    this.#seenEnvs.set(uuid, next);
    this.#record({
      op: 'set_env',
      uuid,
      name: this.#serviceName(uuid),
      changes: envNames.length > 0 ? [`env: ${envNames.join(', ')}`] : [],
      envNames,
      request: { method: 'PATCH', route: 'services/{uuid}/envs/bulk' },
    });
    return Promise.resolve();
  }

  deleteServiceEnv(serviceUuid: string, envUuid: string): Promise<void> {
    const current = this.#seenEnvs.get(serviceUuid) ?? [];
    const key = current.find((c) => c.uuid === envUuid)?.key ?? envUuid;
    this.#seenEnvs.set(serviceUuid, current.filter((c) => c.uuid !== envUuid));
    this.#record({
      op: 'delete_env',
      uuid: serviceUuid,
      name: this.#serviceName(serviceUuid),
      changes: [`env removed: ${key}`],
      envNames: [key],
      request: { method: 'DELETE', route: 'services/{uuid}/envs/{env_uuid}' },
    });
    return Promise.resolve();
  }
}

/** Whether the compose changes, as parsed structures (the policy's comparison); the text itself may be long. */
function composeChange(before: string | undefined, after: string, equals: (a: string, b: string) => boolean): string {
  if (before === undefined) return 'compose: sent again (the current one is hidden: the token lacks read:sensitive)';
  return equals(before, after) ? 'compose: unchanged (sent again with the update)' : 'compose: changed';
}
