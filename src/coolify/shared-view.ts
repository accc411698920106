/**
 * One observation of Coolify shared by everything that reads it (client-go's shared informer and
 * its lister, reconciler-lessons §2.1): the drift resync's list calls refresh it, and every
 * reconcile that only needs to know "what does Coolify show now" (a status poll while a service
 * starts, stops or is deleted; whether a service with a stack's marker exists) reads it instead of
 * asking Coolify again. Coolify has no watch, so "fresh enough" is a time bound the caller names:
 * the first caller past the bound triggers one `GET /services`, and every caller that arrives while
 * it runs, or within the bound after it, shares its answer. Fifty stacks starting at once thus
 * cost one list call per poll interval, not fifty GETs.
 *
 * Freshness rules that keep this safe:
 * - `observedAt` is taken before the lists are asked for, so a snapshot observed after a moment
 *   reflects everything Coolify had carried out by that moment (`freshAfter`).
 * - A pass never overlaps another: callers during a pass wait for it (a services-only pass waits
 *   for a full one to finish, never the other way round).
 * - The view is for observing. A destructive decision (stop, delete, retire a duplicate) and an
 *   update re-read the one resource they act on, never trusting a listing that may be a poll
 *   interval old; a create is guarded by the stack's stored uuid and create-pending record, and
 *   looks the marker up only in a snapshot observed after its own last write.
 */
import type { CoolifyInventory, InventorySnapshot, ManagedProject, ManagedService } from './inventory.js';
import { parseMarker } from './markers.js';
import type { CoolifyApi, CoolifyProject, CoolifyProjectDetail } from './types.js';

export interface SharedViewStats {
  /** Passes that listed projects and services. */
  full: number;
  /** Passes that listed services only. */
  servicesOnly: number;
}

export class SharedCoolifyView {
  readonly #inventory: CoolifyInventory;
  readonly #now: () => number;
  #current: InventorySnapshot | undefined;
  #pass: { full: boolean; startedAt: number; promise: Promise<InventorySnapshot> } | undefined;
  /**
   * `service:<uuid>` / `stack:<id>` → when the daemon last wrote to that service (or created one for
   * that stack), epoch ms; kept only until a snapshot newer than the write exists.
   */
  readonly #writes = new Map<string, number>();
  readonly stats: SharedViewStats = { full: 0, servicesOnly: 0 };
  /** Projects read by GET since the last full pass (project uuid → tenant and project). */
  readonly #remembered = new Map<string, { tenantId: string; project: CoolifyProject; at: number }>();

  /** Stack id → when it last asked to see its service (`noteWatcher`), epoch ms, oldest first. */
  readonly #watchers = new Map<string, number>();

  constructor(inventory: CoolifyInventory, now: () => number) {
    this.#inventory = inventory;
    this.#now = now;
  }

  /** The latest snapshot, or undefined before the first pass. */
  get current(): InventorySnapshot | undefined {
    return this.#current;
  }

  /** A full pass (projects and services), as the drift resync takes; shares one in progress. */
  observe(): Promise<InventorySnapshot> {
    const pass = this.#pass;
    if (pass?.full) return pass.promise;
    if (pass) return pass.promise.catch(() => undefined).then(() => this.observe());
    return this.#start(true);
  }

  /** A snapshot observed less than `maxAgeMs` ago (one services-only pass when none is). */
  fresh(maxAgeMs: number): Promise<InventorySnapshot> {
    return this.freshAfter(this.#now() - maxAgeMs);
  }

  /**
   * A snapshot observed after `at` (epoch ms), taking a services-only pass when needed. Strictly
   * after: a pass that began in the same millisecond as a write may have been answered before it.
   */
  freshAfter(at: number): Promise<InventorySnapshot> {
    const current = this.#current;
    if (current && current.observedAt > at) return Promise.resolve(current);
    const pass = this.#pass;
    if (pass && pass.startedAt > at) return pass.promise;
    if (pass) return pass.promise.catch(() => undefined).then(() => this.freshAfter(at));
    return this.#start(false);
  }

  /**
   * A snapshot that shows the stack's service as it is after every write this daemon made to it
   * (its uuid, and any create for the stack), and is less than `maxAgeMs` old: what a reconcile
   * may decide on without a GET of its own.
   */
  freshFor(stackId: string, uuid: string, maxAgeMs: number): Promise<InventorySnapshot> {
    return this.freshAfter(this.#freshBound(stackId, uuid, maxAgeMs));
  }

  /**
   * True when `freshFor` would answer without starting a pass of its own: the latest snapshot, or
   * one being taken, is fresh enough. A lone reconcile that finds no such snapshot may read its one
   * service instead of listing every service (10,000 composes) for it.
   */
  hasFreshFor(stackId: string, uuid: string, maxAgeMs: number): boolean {
    const at = this.#freshBound(stackId, uuid, maxAgeMs);
    return (this.#current !== undefined && this.#current.observedAt > at) || (this.#pass !== undefined && this.#pass.startedAt > at);
  }

  /**
   * Notes that `stackId` wants to see its service now and answers how many stacks, itself
   * included, asked within the last `windowMs`. One list call serves any number of them, but at
   * 10,000 services it is 25 MB to send and parse: a stack that is nearly alone in asking is
   * cheaper served by a GET of its one service. Memory: one entry per stack that asked within the
   * window (older ones are dropped here, oldest first).
   */
  noteWatcher(stackId: string, windowMs: number): number {
    const now = this.#now();
    this.#watchers.delete(stackId);
    this.#watchers.set(stackId, now);
    for (const [id, at] of this.#watchers) {
      if (at > now - windowMs) break;
      this.#watchers.delete(id);
    }
    return this.#watchers.size;
  }

  /** The time (epoch ms) a snapshot must be observed after to serve `freshFor`. */
  #freshBound(stackId: string, uuid: string, maxAgeMs: number): number {
    const wrote = Math.max(this.#writes.get(`stack:${stackId}`) ?? -Infinity, uuid ? (this.#writes.get(`service:${uuid}`) ?? -Infinity) : -Infinity);
    return Math.max(this.#now() - maxAgeMs, wrote);
  }

  /**
   * `api` with every write to a service noted (by uuid, and creates by the stack in their marker),
   * so `freshFor` never answers from a snapshot taken before the daemon's own last change.
   */
  watchWrites(api: CoolifyApi): CoolifyApi {
    // Noted before the call (a snapshot started later may already show it) and after (one started
    // while it ran may not).
    const w = <T>(key: string, call: () => Promise<T>): Promise<T> => {
      this.#writes.set(key, this.#now());
      return call().finally(() => this.#writes.set(key, this.#now()));
    };
    const created = (description: string) => `stack:${parseMarker(description)?.stackId ?? ''}`;
    return {
      version: () => api.version(),
      ...(api.health ? { health: () => api.health!() } : {}),
      listProjects: () => api.listProjects(),
      getProject: (uuid) => api.getProject(uuid),
      createProject: (input) => api.createProject(input),
      updateProject: (uuid, input) => api.updateProject(uuid, input),
      createEnvironment: (projectUuid, name) => api.createEnvironment(projectUuid, name),
      deleteProject: (uuid) => api.deleteProject(uuid),
      listServers: () => api.listServers(),
      listDestinations: (serverUuid) => api.listDestinations(serverUuid),
      listServices: () => api.listServices(),
      ...(api.listServicesMapped ? { listServicesMapped: (map) => api.listServicesMapped!(map) } : {}),
      getService: (uuid) => api.getService(uuid),
      createService: (input) => w(created(input.description), () => api.createService(input)),
      updateService: (uuid, input) => w(`service:${uuid}`, () => api.updateService(uuid, input)),
      deleteService: (uuid) => w(`service:${uuid}`, () => api.deleteService(uuid)),
      startService: (uuid) => w(`service:${uuid}`, () => api.startService(uuid)),
      stopService: (uuid) => w(`service:${uuid}`, () => api.stopService(uuid)),
      restartService: (uuid) => w(`service:${uuid}`, () => api.restartService(uuid)),
      deployService: (uuid) => w(`service:${uuid}`, () => api.deployService(uuid)),
      listServiceEnvs: (uuid) => api.listServiceEnvs(uuid),
      upsertServiceEnvs: (uuid, vars) => w(`service:${uuid}`, () => api.upsertServiceEnvs(uuid, vars)),
      deleteServiceEnv: (serviceUuid, envUuid) => w(`service:${serviceUuid}`, () => api.deleteServiceEnv(serviceUuid, envUuid)),
    };
  }

  /** The project of environment `id` as last seen in a snapshot (its services' environments). */
  projectOfEnvironment(id: number): string | undefined {
    for (const list of this.#current?.servicesByStack.values() ?? []) {
      for (const s of list) if (s.environmentId === id && s.projectUuid !== undefined) return s.projectUuid;
    }
    return undefined;
  }

  /** Services carrying `stackId`'s marker in the latest snapshot (empty before the first). */
  servicesOf(stackId: string): readonly ManagedService[] {
    return this.#current?.servicesByStack.get(stackId) ?? [];
  }

  /**
   * The tenant's project with its environments, when the latest snapshot lists exactly one project
   * with the tenant's marker (the stored one, or the only one when none is stored) and its
   * environments are known; otherwise undefined (look it up through the API).
   */
  tenantProject(tenantId: string, storedUuid: string): CoolifyProjectDetail | undefined {
    const mine = this.projectsOf(tenantId);
    const only = mine.length === 1 ? mine[0] : undefined;
    if (!only || (storedUuid && only.uuid !== storedUuid)) return undefined;
    const environments = this.#inventory.environmentsOf(only.uuid);
    return environments ? { uuid: only.uuid, name: only.name, description: only.description, environments: [...environments] } : undefined;
  }

  /**
   * A project read by GET and found to carry the tenant's marker (e.g. one created since the last
   * full pass): the latest snapshot lists it from now on, so the tenant's other stacks need no GET.
   */
  rememberProject(tenantId: string, project: CoolifyProject): void {
    this.#remembered.set(project.uuid, { tenantId, project, at: this.#now() });
    if (this.#current) this.#addProject(this.#current, tenantId, project);
  }

  #addProject(snapshot: InventorySnapshot, tenantId: string, project: CoolifyProject): void {
    const list = snapshot.projectsByTenant.get(tenantId) ?? [];
    if (list.some((p) => p.uuid === project.uuid)) return;
    snapshot.projectsByTenant.set(tenantId, [...list, { uuid: project.uuid, name: project.name, description: project.description, marker: { tenantId, extra: {} } }]);
  }

  /**
   * Coolify said the tenant's project (or something in it) is not there: the listing is not
   * trusted for it until the next full pass, so lookups ask Coolify.
   */
  forgetProjects(tenantId: string): void {
    this.#current?.projectsByTenant.delete(tenantId);
    for (const [uuid, r] of this.#remembered) if (r.tenantId === tenantId) this.#remembered.delete(uuid);
  }

  /** Projects carrying `tenantId`'s marker in the latest snapshot (empty before the first). */
  projectsOf(tenantId: string): readonly ManagedProject[] {
    return this.#current?.projectsByTenant.get(tenantId) ?? [];
  }

  #start(full: boolean): Promise<InventorySnapshot> {
    const startedAt = this.#now();
    if (full) this.stats.full++;
    else this.stats.servicesOnly++;
    const promise = this.#inventory.observe({ servicesOnly: !full }).then((snapshot) => {
      // A services-only pass reuses the last project listing: projects read since then stay known
      // until a full pass that began after they were read lists them itself (or not: then they are gone).
      for (const [uuid, { tenantId, project, at }] of this.#remembered) {
        if (full && at < snapshot.observedAt) this.#remembered.delete(uuid);
        else this.#addProject(snapshot, tenantId, project);
      }
      // A slower pass never replaces a newer one.
      if (!this.#current || snapshot.observedAt >= this.#current.observedAt) this.#current = snapshot;
      // Writes this snapshot already shows need no remembering.
      for (const [key, at] of this.#writes) if (at < this.#current.observedAt) this.#writes.delete(key);
      return snapshot;
    });
    const entry = { full, startedAt, promise };
    this.#pass = entry;
    const clear = () => {
      if (this.#pass === entry) this.#pass = undefined;
    };
    promise.then(clear, clear);
    return promise;
  }
}
