import { createHash } from 'node:crypto';
import { parseMarker, type ParsedMarker } from './markers.js';
import { mapServices, type CoolifyApi, type CoolifyEnvironment, type CoolifyProject, type CoolifyService } from './types.js';

/**
 * Observes everything the daemon manages in a constant number of list calls (SPEC §3 "Drift").
 *
 * `GET /services` carries no project uuid, only `environment_id` (notes §5.1); the map from
 * environment id to project comes from `GET /projects/{uuid}`, which is fetched only for projects
 * not seen before. An environment never moves between projects, so a steady state costs exactly
 * two calls: `GET /projects` and `GET /services` (one, `GET /services`, for a services-only pass).
 *
 * Memory: a snapshot keeps per service only what decisions read (ids, marker, status, a digest of
 * the compose), never the compose text: 10,000 composes would otherwise stay in the heap between
 * passes. Services are listed as a stream and each is reduced to that as soon as it is read, so a
 * pass never holds the whole listing either (about 25 MB of JSON at 10,000 services). The digest
 * is recomputed only for a service whose compose text changed since last pass.
 */

export interface ManagedProject extends CoolifyProject {
  marker: ParsedMarker;
}

export interface ManagedService extends Omit<CoolifyService, 'dockerComposeRaw'> {
  /**
   * `composeDigest` of the compose Coolify stores (equal digests = equal composes after Coolify's
   * rewrites); undefined without read:sensitive or when the text does not parse.
   */
  composeDigest: string | undefined;
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

/** What a pass keeps of one listed service: ours with its compose reduced to hashes, or foreign. */
type Reduced = { service: ManagedService; composeSha: string | undefined } | undefined;

interface EnvInfo {
  projectUuid: string;
  name: string;
}

/** Structural digest of a compose text (e.g. the template policy's `composeDigest`). */
export type ComposeDigest = (composeYaml: string) => string | undefined;

export interface InventoryOptions {
  now?: () => number;
  /** Digest of a stored compose; without it, a snapshot carries no compose information. */
  composeDigest?: ComposeDigest;
}

export class CoolifyInventory {
  readonly #api: CoolifyApi;
  readonly #now: () => number;
  readonly #digest: ComposeDigest | undefined;
  /** Environments per project uuid, as last fetched. */
  #environments = new Map<string, CoolifyEnvironment[]>();
  /** Environment ids no project explained last time; not worth a refresh again. */
  #unresolved = new Set<number>();
  /** The last `GET /projects`, reused by services-only passes. */
  #projects: CoolifyProject[] | undefined;
  /** service uuid → sha-256 of its compose text and that text's digest, from the last pass. */
  #digests = new Map<string, { text: string; digest: string | undefined }>();

  constructor(api: CoolifyApi, options: InventoryOptions | (() => number) = {}) {
    const o = typeof options === 'function' ? { now: options } : options;
    this.#api = api;
    this.#now = o.now ?? Date.now;
    this.#digest = o.composeDigest;
  }

  /** The project's environments as last fetched, or undefined when not fetched. */
  environmentsOf(projectUuid: string): readonly CoolifyEnvironment[] | undefined {
    return this.#environments.get(projectUuid);
  }

  /** Forgets cached environments, e.g. after an environment was created by hand. */
  invalidate(projectUuid?: string): void {
    if (projectUuid === undefined) this.#environments.clear();
    else this.#environments.delete(projectUuid);
  }

  /**
   * One pass. `servicesOnly` lists services alone (one call) and reuses the last project listing,
   * for watching statuses change; the first pass always lists both.
   */
  async observe(options: { servicesOnly?: boolean } = {}): Promise<InventorySnapshot> {
    // The time the lists were asked for: nothing that happened before it can be missing from them.
    const observedAt = this.#now();
    const cached = options.servicesOnly ? this.#projects : undefined;
    const last = this.#digests;
    const [projects, services] = await Promise.all([
      cached ?? this.#api.listProjects(),
      mapServices(this.#api, (s) => this.#reduce(s, last)),
    ]);
    this.#projects = projects;

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
      // A literal, not a spread: see #reduce.
      push(projectsByTenant, marker.tenantId, { uuid: p.uuid, name: p.name, description: p.description, marker });
    }

    const managed = services.filter((r) => r !== undefined);
    const foreignServices = services.length - managed.length;

    const envs = await this.#environmentMap(
      projects,
      new Set(managed.map((m) => m.service.environmentId)),
      new Set([...projectsByTenant.values()].flat().map((p) => p.uuid)),
    );

    const servicesByStack = new Map<string, ManagedService[]>();
    const digests = new Map<string, { text: string; digest: string | undefined }>();
    for (const { service, composeSha } of managed) {
      const env = envs.get(service.environmentId);
      service.projectUuid = env?.projectUuid;
      service.environmentName = env?.name;
      push(servicesByStack, service.marker.stackId, service);
      if (composeSha !== undefined) digests.set(service.uuid, { text: composeSha, digest: service.composeDigest });
    }
    this.#digests = digests;

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
   * One listed service reduced, as it is read, to what a snapshot keeps: undefined when it is not
   * ours, else everything but the compose, whose sha-256 and digest replace it (the digest reused
   * from `last` pass when the text is unchanged: parsing YAML is the cost). Computes only its
   * result: a retried listing calls it again for the same services.
   */
  #reduce(s: CoolifyService, last: ReadonlyMap<string, { text: string; digest: string | undefined }>): Reduced {
    const marker = parseMarker(s.description);
    if (!marker || marker.stackId === undefined) return undefined;
    const raw = s.dockerComposeRaw;
    let composeSha: string | undefined;
    let composeDigest: string | undefined;
    if (raw !== undefined && this.#digest) {
      composeSha = createHash('sha256').update(raw).digest('base64');
      const before = last.get(s.uuid);
      composeDigest = before?.text === composeSha ? before.digest : this.#digest(raw);
    }
    // Every field written here, in one order: objects built by spreading get a hidden class of
    // their own each in V8 (about 300 bytes apiece, kept as long as the snapshot).
    const service: ManagedService = {
      uuid: s.uuid,
      name: s.name,
      description: s.description,
      environmentId: s.environmentId,
      status: s.status,
      createdAt: s.createdAt,
      composeDigest,
      marker: marker as ParsedMarker & { stackId: string },
      projectUuid: undefined,
      environmentName: undefined,
    };
    return { service, composeSha };
  }

  /**
   * Environment id → project for every id in `needed`, fetching only projects not cached.
   * Our own projects are fetched first: managed services normally live there, and a foreign
   * project is fetched only while some id is still unknown.
   */
  async #environmentMap(projects: CoolifyProject[], needed: Set<number>, ours: Set<string>): Promise<Map<number, EnvInfo>> {
    const map = new Map<number, EnvInfo>();
    const add = (projectUuid: string) => {
      for (const e of this.#environments.get(projectUuid) ?? []) {
        map.set(e.id, { projectUuid, name: e.name });
        unknown.delete(e.id);
      }
    };
    // Needed ids not mapped yet. Each fetch maps only its own project's environments (a full
    // re-index after each of 2,000 project reads made adoption O(projects²)), and the reads stop
    // as soon as nothing is unknown.
    const unknown = new Set(needed);
    for (const uuid of this.#environments.keys()) add(uuid);
    const fetch = async (uuid: string) => {
      await this.#fetchEnvironments(uuid);
      add(uuid);
    };
    if (unknown.size === 0) {
      this.#unresolved.clear();
      return map;
    }

    const uncached = projects.filter((p) => !this.#environments.has(p.uuid));
    const ordered = [...uncached.filter((p) => ours.has(p.uuid)), ...uncached.filter((p) => !ours.has(p.uuid))];
    for (const p of ordered) {
      await fetch(p.uuid);
      if (unknown.size === 0) {
        this.#unresolved.clear();
        return map;
      }
    }
    // Still unknown: an environment was added to a cached project. Refresh our projects, once per
    // new unknown id, so a service in an unlisted project does not cost calls on every pass.
    if ([...unknown].some((id) => !this.#unresolved.has(id))) {
      const fetched = new Set(uncached.map((p) => p.uuid));
      for (const p of projects) {
        if (!ours.has(p.uuid) || fetched.has(p.uuid)) continue;
        await fetch(p.uuid);
      }
    }
    this.#unresolved = new Set(unknown);
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
