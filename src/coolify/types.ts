/**
 * What the reconcilers need from Coolify (reference/coolify-api-notes.md). `CoolifyClient`
 * implements it over HTTP; the simulator answers the same routes. Only fields the daemon reads
 * are typed; responses are validated for exactly these.
 */

export interface CoolifyEnvironment {
  id: number;
  uuid: string;
  name: string;
}

export interface CoolifyProject {
  uuid: string;
  name: string;
  description: string;
}

export interface CoolifyProjectDetail extends CoolifyProject {
  environments: CoolifyEnvironment[];
}

export interface CoolifyServer {
  uuid: string;
  name: string;
  isReachable: boolean;
  isUsable: boolean;
}

export interface CoolifyDestination {
  uuid: string;
  name: string;
  network: string;
  serverUuid: string;
}

export interface CoolifyService {
  uuid: string;
  name: string;
  description: string;
  /** Numeric id of the environment; map it to a project through the projects' environments. */
  environmentId: number;
  /** Raw Coolify status, e.g. `running:healthy`, `exited`, `starting:unknown`, `degraded:unhealthy`. */
  status: string;
  /** Decoded compose YAML as Coolify stored it (re-dumped); undefined without read:sensitive. */
  dockerComposeRaw: string | undefined;
  /** Epoch ms from `created_at`; absent when Coolify sent none or an unreadable one. */
  createdAt?: number;
}

export interface CoolifyServiceApplication {
  uuid: string;
  name: string;
  fqdn: string | null;
  status: string;
}

export interface CoolifyServiceDetail extends CoolifyService {
  applications: CoolifyServiceApplication[];
}

export interface CoolifyEnvVar {
  uuid: string;
  key: string;
  /** null when hidden (no read:sensitive) or unset. */
  value: string | null;
  /** Coolify's own SERVICE_* magic variables: never reconciled. */
  isCoolify: boolean;
}

export interface CoolifyUrl {
  /** Compose service name. */
  name: string;
  /** Comma-separated `https://host:port` list, or null to clear. */
  url: string | null;
}

export interface CreateServiceInput {
  name: string;
  description: string;
  projectUuid: string;
  environmentName: string;
  serverUuid: string;
  destinationUuid?: string | undefined;
  /** Plain YAML text; the client base64-encodes it. */
  composeYaml: string;
  urls?: CoolifyUrl[];
  instantDeploy?: boolean;
}

export interface UpdateServiceInput {
  name?: string;
  description?: string;
  composeYaml?: string;
  urls?: CoolifyUrl[];
}

/** `queued` when Coolify accepted the request, `noop` for its "already running/stopped" 400. */
export type LifecycleResult = 'queued' | 'noop';

export interface CoolifyApi {
  version(): Promise<string>;
  /**
   * GET /api/health (unauthenticated): true when Coolify answers 200 `OK`, false for any other
   * answer, a timeout or an unreachable host. Never throws. Optional so wrappers that predate it
   * still satisfy the interface.
   */
  health?(): Promise<boolean>;
  listProjects(): Promise<CoolifyProject[]>;
  getProject(uuid: string): Promise<CoolifyProjectDetail>;
  createProject(input: { name: string; description: string }): Promise<{ uuid: string }>;
  /** Replaces the project's description (the daemon's marker and its tokens). */
  updateProject(uuid: string, input: { description: string }): Promise<{ uuid: string }>;
  /**
   * Adds an environment to a project (Coolify creates only `production`). Use a lower-case name of
   * 3+ characters: Coolify normalises names and looks services' environments up by exact name.
   * Throws CoolifyError kind `conflict` when the name exists.
   */
  createEnvironment(projectUuid: string, name: string): Promise<{ uuid: string }>;
  /** Throws CoolifyError kind `bad_request` while the project still has resources. */
  deleteProject(uuid: string): Promise<void>;
  listServers(): Promise<CoolifyServer[]>;
  listDestinations(serverUuid: string): Promise<CoolifyDestination[]>;
  listServices(): Promise<CoolifyService[]>;
  /**
   * GET /services with each service passed to `map` as it is read, keeping only what `map`
   * returns: a listing carries every compose (tens of MB at 10,000 services), which then never
   * sits in memory whole. `map` may run again for the same services when the call is retried, so
   * it must only compute its result. What it throws is passed through unchanged. Optional so
   * wrappers and test doubles without it still satisfy the interface (see `mapServices`).
   */
  listServicesMapped?<T>(map: (service: CoolifyService) => T): Promise<T[]>;
  getService(uuid: string): Promise<CoolifyServiceDetail>;
  createService(input: CreateServiceInput): Promise<{ uuid: string; domains: string[] }>;
  updateService(uuid: string, input: UpdateServiceInput): Promise<{ uuid: string; domains: string[] }>;
  /** Queues deletion (volumes included); the service stays visible until Coolify's job runs. */
  deleteService(uuid: string): Promise<void>;
  startService(uuid: string): Promise<LifecycleResult>;
  stopService(uuid: string): Promise<LifecycleResult>;
  restartService(uuid: string): Promise<LifecycleResult>;
  /** POST /deploy?uuid=: re-applies compose to a service whether or not it runs. */
  deployService(uuid: string): Promise<void>;
  listServiceEnvs(uuid: string): Promise<CoolifyEnvVar[]>;
  upsertServiceEnvs(uuid: string, vars: { key: string; value: string }[]): Promise<void>;
  deleteServiceEnv(serviceUuid: string, envUuid: string): Promise<void>;
}

/** `api.listServicesMapped(map)`, or `listServices` mapped afterwards when `api` lacks it. */
export async function mapServices<T>(api: CoolifyApi, map: (service: CoolifyService) => T): Promise<T[]> {
  if (api.listServicesMapped) return api.listServicesMapped(map);
  return (await api.listServices()).map((s) => map(s));
}
