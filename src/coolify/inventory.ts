import { parseMarker, type ParsedMarker } from './markers.js';
import type { CoolifyApi, CoolifyEnvironment, CoolifyProject, CoolifyService } from './types.js';

/**
 * Observes everything the daemon manages in a constant number of list calls (SPEC §3 "Drift").
 *
 * `GET /services` carries no project uuid, only `environment_id` (notes §5.1); the map from
 * environment id to project comes from `GET /projects/{uuid}`, which is fetched only for projects
 * not seen before. An environment never moves between projects, so a steady state costs exactly
 * two calls: `GET /projects` and `GET /services`.
 */

export interface ManagedProject extends CoolifyProject {
  marker: ParsedMarker;
}

export interface ManagedService extends CoolifyService {
  marker: ParsedMarker & { stackId: string };
  /** Project the service lives in; undefined when its environment is in no listed project. */
  projectUuid: string | undefined;
  /** Name of its environment, when known. */
  environmentName: string | undefined;
}

export interface InventorySnapshot {
  /** Our projects by tenant id; more than one entry means duplicates (see `duplicateTenants`). */
  projectsByTenant: Map<string, ManagedProject[]>;
  /** Our services by stack id; more than one entry means duplicates (see `duplicateStacks`). */
  servicesByStack: Map<string, ManagedService[]>;
  duplicateTenants: string[];
  duplicateStacks: string[];
  /** Resources without our marker: counted, never to be touched. */
  foreign: { projects: number; services: number };
  /** Epoch ms when the lists were read. */
  observedAt: number;
}

interface EnvInfo {
  projectUuid: string;
  name: string;
}

export class CoolifyInventory {
  readonly #api: CoolifyApi;
  readonly #now: () => number;
  /** Environments per project uuid, as last fetched. */
  #environments = new Map<string, CoolifyEnvironment[]>();
  /** Environment ids no project explained last time; not worth a refresh again. */
  #unresolved = new Set<number>();

  constructor(api: CoolifyApi, now: () => number = Date.now) {
    this.#api = api;
    this.#now = now;
  }

  /** Forgets cached environments, e.g. after an environment was created by hand. */
  invalidate(projectUuid?: string): void {
    if (projectUuid === undefined) this.#environments.clear();
    else this.#environments.delete(projectUuid);
  }

  async observe(): Promise<InventorySnapshot> {
    const [projects, services] = await Promise.all([this.#api.listProjects(), this.#api.listServices()]);
    const observedAt = this.#now();

    const listed = new Set(projects.map((p) => p.uuid));
    for (const uuid of this.#environments.keys()) if (!listed.has(uuid)) this.#environments.delete(uuid);

    const projectsByTenant = new Map<string, ManagedProject[]>();
    let foreignProjects = 0;
    for (const p of projects) {
      const marker = parseMarker(p.description);
      if (!marker || marker.stackId !== undefined) {
        foreignProjects++;
        continue;
      }
      push(projectsByTenant, marker.tenantId, { ...p, marker });
    }

    const managed: { service: CoolifyService; marker: ParsedMarker & { stackId: string } }[] = [];
    let foreignServices = 0;
    for (const s of services) {
      const marker = parseMarker(s.description);
      if (!marker || marker.stackId === undefined) {
        foreignServices++;
        continue;
      }
      managed.push({ service: s, marker: { ...marker, stackId: marker.stackId } });
    }

    const envs = await this.#environmentMap(
      projects,
      new Set(managed.map((m) => m.service.environmentId)),
      new Set([...projectsByTenant.values()].flat().map((p) => p.uuid)),
    );

    const servicesByStack = new Map<string, ManagedService[]>();
    for (const { service, marker } of managed) {
      const env = envs.get(service.environmentId);
      push(servicesByStack, marker.stackId, {
        ...service,
        marker,
        projectUuid: env?.projectUuid,
        environmentName: env?.name,
      });
    }

    return {
      projectsByTenant,
      servicesByStack,
      duplicateTenants: duplicates(projectsByTenant),
      duplicateStacks: duplicates(servicesByStack),
      foreign: { projects: foreignProjects, services: foreignServices },
      observedAt,
    };
  }

  /**
   * Environment id → project for every id in `needed`, fetching only projects not cached.
   * Our own projects are fetched first: managed services normally live there, and a foreign
   * project is fetched only while some id is still unknown.
   */
  async #environmentMap(projects: CoolifyProject[], needed: Set<number>, ours: Set<string>): Promise<Map<number, EnvInfo>> {
    const map = new Map<number, EnvInfo>();
    const index = () => {
      map.clear();
      for (const [projectUuid, list] of this.#environments) {
        for (const e of list) map.set(e.id, { projectUuid, name: e.name });
      }
    };
    const missing = () => [...needed].some((id) => !map.has(id));
    index();
    if (!missing()) {
      this.#unresolved.clear();
      return map;
    }

    const uncached = projects.filter((p) => !this.#environments.has(p.uuid));
    const ordered = [...uncached.filter((p) => ours.has(p.uuid)), ...uncached.filter((p) => !ours.has(p.uuid))];
    for (const p of ordered) {
      await this.#fetchEnvironments(p.uuid);
      index();
      if (!missing()) {
        this.#unresolved.clear();
        return map;
      }
    }
    // Still unknown: an environment was added to a cached project. Refresh our projects, once per
    // new unknown id, so a service in an unlisted project does not cost calls on every pass.
    if ([...needed].some((id) => !map.has(id) && !this.#unresolved.has(id))) {
      for (const p of projects) {
        if (!ours.has(p.uuid) || uncached.includes(p)) continue;
        await this.#fetchEnvironments(p.uuid);
      }
      index();
    }
    this.#unresolved = new Set([...needed].filter((id) => !map.has(id)));
    return map;
  }

  async #fetchEnvironments(projectUuid: string): Promise<void> {
    try {
      const detail = await this.#api.getProject(projectUuid);
      this.#environments.set(projectUuid, detail.environments);
    } catch (e) {
      // Deleted between the list and this call: it simply holds no services now.
      if ((e as { kind?: unknown }).kind === 'not_found') this.#environments.set(projectUuid, []);
      else throw e;
    }
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function duplicates<T>(map: Map<string, T[]>): string[] {
  return [...map].filter(([, list]) => list.length > 1).map(([key]) => key);
}
