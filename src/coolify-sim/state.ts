import { newPublicId } from './ids.js';
import type { SimSharedVariable } from './shared-variables.js';
import { aggregateStatus } from './status.js';

/**
 * The simulator's world: plain records and lookups, no HTTP and no timers. Handlers, lifecycle
 * jobs and hand edits mutate it; tests read it to assert the state of the world.
 */

export interface SimProject {
  id: number;
  uuid: string;
  name: string;
  description: string;
  createdAt: number;
  updatedAt: number;
}

export interface SimEnvironment {
  id: number;
  uuid: string;
  name: string;
  projectId: number;
  description: string;
  createdAt: number;
  updatedAt: number;
}

export interface SimServer {
  id: number;
  uuid: string;
  name: string;
  ip: string;
  /** Generated hosts go to `<name>-<service uuid>.<wildcard>`. */
  wildcardDomain: string;
}

export interface SimDestination {
  id: number;
  uuid: string;
  name: string;
  network: string;
  serverId: number;
  createdAt: number;
  updatedAt: number;
}

/** A ServiceApplication or ServiceDatabase: one per compose service. */
export interface SimSubResource {
  id: number;
  uuid: string;
  name: string;
  kind: 'application' | 'database';
  image: string;
  /** Comma-separated URL list, applications only. */
  fqdn: string | null;
  /** `<state>[:<health>]` as Coolify stores it per container group. */
  status: string;
  excluded: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface SimEnvVar {
  id: number;
  uuid: string;
  key: string;
  value: string | null;
  isLiteral: boolean;
  isMultiline: boolean;
  isShownOnce: boolean;
  isPreview: boolean;
  comment: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface SimService {
  id: number;
  uuid: string;
  name: string;
  description: string | null;
  environmentId: number;
  serverId: number;
  destinationId: number;
  /** Compose as Coolify stores it: parsed and re-dumped YAML. */
  composeRaw: string;
  /** Coolify's generated compose (container_name rewritten, restart defaulted). */
  compose: string;
  connectToDockerNetwork: boolean;
  isContainerLabelEscapeEnabled: boolean;
  subs: SimSubResource[];
  envs: SimEnvVar[];
  /** A StartService activity is queued or running (status reads `starting:unhealthy`). */
  activityQueued: boolean;
  /** DELETE accepted; the row stays visible until the job runs. */
  deletionQueued: boolean;
  /** Query flags of the accepted DELETE (`delete_volumes` …), for tests to assert on. */
  deletionOptions?: Record<string, boolean>;
  /** Bumped by every lifecycle request so a superseded job's later steps do nothing. */
  generation: number;
  /** Test edit: its containers exit right after every start (an image that crashes on boot). */
  failsToStart?: boolean;
  createdAt: number;
  updatedAt: number;
}

export class SimState {
  projects: SimProject[] = [];
  environments: SimEnvironment[] = [];
  servers: SimServer[] = [];
  destinations: SimDestination[] = [];
  services: SimService[] = [];
  /** Coolify's shared variables; tests seed them through `SimEdits.setSharedVariable`. */
  sharedVariables: SimSharedVariable[] = [];
  #ids = new Map<string, number>();
  /**
   * Lookup indexes over the public arrays, rebuilt when an array was replaced or changed length
   * (rows are only ever pushed or filtered out, and keys never change), so a simulator holding
   * 10,000 services answers a lookup without scanning them all.
   */
  #indexes = new Map<string, { of: unknown[]; length: number; map: Map<string | number, unknown> }>();

  #lookup<T>(name: string, rows: T[], key: (row: T) => string | number, value: string | number): T | undefined {
    let index = this.#indexes.get(name);
    if (index && index.of === rows && index.length < rows.length) {
      // Rows pushed since: indexed incrementally (a replaced array or a shorter one is rebuilt).
      for (let i = index.length; i < rows.length; i++) if (!index.map.has(key(rows[i]!))) index.map.set(key(rows[i]!), rows[i]);
      index.length = rows.length;
    }
    if (!index || index.of !== rows || index.length !== rows.length) {
      const map = new Map<string | number, unknown>();
      // First row wins, as `find` would.
      for (let i = rows.length - 1; i >= 0; i--) map.set(key(rows[i]!), rows[i]);
      index = { of: rows, length: rows.length, map };
      this.#indexes.set(name, index);
    }
    return index.map.get(value) as T | undefined;
  }

  /** Auto-increment ids per table, like the database's. */
  /** A fresh env var row with Coolify's defaults (not literal, not multiline, shown). */
  newEnv(key: string, value: string | null, now: number): SimEnvVar {
    return {
      id: this.nextId('environment_variables'),
      uuid: this.newUuid(),
      key,
      value,
      isLiteral: false,
      isMultiline: false,
      isShownOnce: false,
      isPreview: false,
      comment: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  nextId(table: string): number {
    const next = (this.#ids.get(table) ?? 0) + 1;
    this.#ids.set(table, next);
    return next;
  }

  newUuid(): string {
    return newPublicId();
  }

  project(uuid: string): SimProject | undefined {
    return this.#lookup('project.uuid', this.projects, (p) => p.uuid, uuid);
  }

  projectById(id: number): SimProject | undefined {
    return this.#lookup('project.id', this.projects, (p) => p.id, id);
  }

  environmentsOf(projectId: number): SimEnvironment[] {
    return this.environments.filter((e) => e.projectId === projectId);
  }

  environmentById(id: number): SimEnvironment | undefined {
    return this.#lookup('environment.id', this.environments, (e) => e.id, id);
  }

  /** Exact name match first, then uuid (notes §3). */
  environmentByNameOrUuid(projectId: number, nameOrUuid: string): SimEnvironment | undefined {
    const envs = this.environmentsOf(projectId);
    return envs.find((e) => e.name === nameOrUuid) ?? envs.find((e) => e.uuid === nameOrUuid);
  }

  server(uuid: string): SimServer | undefined {
    return this.servers.find((s) => s.uuid === uuid);
  }

  serverById(id: number): SimServer | undefined {
    return this.servers.find((s) => s.id === id);
  }

  destinationsOf(serverId: number): SimDestination[] {
    return this.destinations.filter((d) => d.serverId === serverId);
  }

  service(uuid: string): SimService | undefined {
    return this.#lookup('service.uuid', this.services, (s) => s.uuid, uuid);
  }

  servicesIn(environmentId: number): SimService[] {
    return this.services.filter((s) => s.environmentId === environmentId);
  }

  servicesOfProject(projectId: number): SimService[] {
    const envIds = new Set(this.environmentsOf(projectId).map((e) => e.id));
    return this.services.filter((s) => envIds.has(s.environmentId));
  }

  /** The service status Coolify would report now, e.g. `running:healthy` (notes §6). */
  statusOf(service: SimService): string {
    return aggregateStatus(service.subs, service.activityQueued);
  }

  /** Project of a service, through its environment. */
  projectOfService(service: SimService): SimProject | undefined {
    const env = this.environmentById(service.environmentId);
    return env ? this.projectById(env.projectId) : undefined;
  }

  createProject(input: { name: string; description: string }, now: number): SimProject {
    const project: SimProject = {
      id: this.nextId('projects'),
      uuid: this.newUuid(),
      name: input.name,
      description: input.description,
      createdAt: now,
      updatedAt: now,
    };
    this.projects.push(project);
    // Project::booted() creates the `production` environment (notes §3).
    this.createEnvironment(project, 'production', now);
    return project;
  }

  createEnvironment(project: SimProject, name: string, now: number): SimEnvironment {
    const env: SimEnvironment = {
      id: this.nextId('environments'),
      uuid: this.newUuid(),
      name,
      projectId: project.id,
      description: '',
      createdAt: now,
      updatedAt: now,
    };
    this.environments.push(env);
    return env;
  }

  deleteProject(project: SimProject): void {
    this.projects = this.projects.filter((p) => p !== project);
    this.environments = this.environments.filter((e) => e.projectId !== project.id);
  }

  removeService(service: SimService): void {
    this.services = this.services.filter((s) => s !== service);
  }
}
