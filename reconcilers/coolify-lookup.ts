/**
 * Finding the Coolify resources that belong to a record: by the stored uuid first (verifying the
 * marker, since the uuid is only a cache an admin save can corrupt), else by marker in a listing
 * (adoption after a crash or a stale save). Nothing here writes.
 */
import { CoolifyError } from '../src/coolify/errors.js';
import type { ManagedService } from '../src/coolify/inventory.js';
import { parseMarker } from '../src/coolify/markers.js';
import type { SharedCoolifyView } from '../src/coolify/shared-view.js';
import type { CoolifyApi, CoolifyProjectDetail, CoolifyService, CoolifyServiceDetail } from '../src/coolify/types.js';

/**
 * A service as a reconcile sees it: read by GET (compose text and sub-applications known), or
 * taken from the shared view (`fromView`: the compose only as a digest, sub-applications and so
 * public URLs unknown, the project known).
 */
export interface ObservedService extends CoolifyServiceDetail {
  fromView?: boolean;
  composeDigest?: string | undefined;
  projectUuid?: string | undefined;
}

export type ServiceLookup =
  | { kind: 'found'; service: ObservedService; adopted: boolean; duplicates: CoolifyService[] }
  | { kind: 'none' }
  | { kind: 'foreign'; uuid: string };

export type ProjectLookup =
  | { kind: 'found'; project: CoolifyProjectDetail; adopted: boolean }
  | { kind: 'none' }
  | { kind: 'foreign'; uuid: string };

export function isNotFound(e: unknown): boolean {
  return e instanceof CoolifyError && e.kind === 'not_found';
}

export async function getServiceOrNull(coolify: CoolifyApi, uuid: string): Promise<CoolifyServiceDetail | null> {
  try {
    return await coolify.getService(uuid);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

export function serviceBelongsTo(description: string, stackId: string): boolean {
  return parseMarker(description)?.stackId === stackId;
}

export function projectBelongsTo(description: string, tenantId: string): boolean {
  const m = parseMarker(description);
  return m !== null && m.stackId === undefined && m.tenantId === tenantId;
}

/**
 * The stack's service by its stored uuid, else by marker. `listAlways` also lists when the stored
 * uuid is found, to see duplicates (one more GET, so only when duplicates are suspected).
 */
export async function findStackService(coolify: CoolifyApi, stackId: string, storedUuid: string, listAlways = false): Promise<ServiceLookup> {
  let stored: CoolifyServiceDetail | null = null;
  if (storedUuid) {
    stored = await getServiceOrNull(coolify, storedUuid);
    if (stored && !serviceBelongsTo(stored.description, stackId)) return { kind: 'foreign', uuid: storedUuid };
    // A stored uuid naming a copy already being retired is a stale admin save of an old uuid:
    // the others are listed so the keeper is chosen among all of them.
    const retired = stored !== null && parseMarker(stored.description)?.extra['orphaned-at'] !== undefined;
    if (stored && !listAlways && !retired) return { kind: 'found', service: stored, adopted: false, duplicates: [] };
  }
  const mine: CoolifyService[] = (await coolify.listServices()).filter((s) => serviceBelongsTo(s.description, stackId));
  if (stored && !mine.some((s) => s.uuid === stored.uuid)) mine.push(stored);
  const keeper = pickKeeper(mine, storedUuid);
  if (!keeper) return { kind: 'none' };
  const duplicates = mine.filter((s) => s.uuid !== keeper.uuid);
  const service = keeper.uuid === stored?.uuid ? stored : await getServiceOrNull(coolify, keeper.uuid);
  if (!service) return { kind: 'none' };
  return { kind: 'found', service, adopted: service.uuid !== storedUuid, duplicates };
}

/** The shared view's record of a service in the shape the reconcilers use. */
function fromView(s: ManagedService): ObservedService {
  return {
    uuid: s.uuid,
    name: s.name,
    description: s.description,
    environmentId: s.environmentId,
    status: s.status,
    dockerComposeRaw: undefined,
    applications: [],
    ...(s.createdAt === undefined ? {} : { createdAt: s.createdAt }),
    fromView: true,
    composeDigest: s.composeDigest,
    projectUuid: s.projectUuid,
  };
}

/**
 * `findStackService` answered from the shared view: no GET when the view, taken after this
 * daemon's last write to the service (or create for the stack) and less than `maxAgeMs` ago, shows
 * exactly one service with the stack's marker (the stored one, or, adopted, the only one). One
 * shared list call per `maxAgeMs` then serves every stack polling its status. Anything unusual
 * (the stored uuid missing from the view, duplicates) is looked up through the API as before.
 */
export async function observeStackService(
  view: SharedCoolifyView,
  coolify: CoolifyApi,
  stackId: string,
  storedUuid: string,
  maxAgeMs: number,
): Promise<ServiceLookup> {
  const snapshot = await view.freshFor(stackId, storedUuid, maxAgeMs);
  const mine = snapshot.servicesByStack.get(stackId) ?? [];
  const only = mine.length === 1 ? mine[0] : undefined;
  if (storedUuid) {
    if (only?.uuid === storedUuid) return { kind: 'found', service: fromView(only), adopted: false, duplicates: [] };
    // Gone, re-marked by hand, or one of several: the API decides (a foreign uuid is refused).
    return findStackService(coolify, stackId, storedUuid, mine.length > 1);
  }
  if (mine.length === 0) return { kind: 'none' };
  if (only) return { kind: 'found', service: fromView(only), adopted: true, duplicates: [] };
  return findStackService(coolify, stackId, storedUuid, true);
}

/**
 * Which of several services with the same stack marker is the stack's, in order: one that runs
 * (it is the one serving, and likely holds the live data), the stored uuid first among those; the
 * stored uuid; one not already marked as a retired duplicate or orphan (so a choice once made does
 * not flip back to a copy being retired); the oldest by `created_at` (the first one made is the
 * one the stack has used longest); then the lowest uuid, only so the choice is deterministic. A
 * service without `created_at` counts as younger than any with one. The stored uuid is a daemon
 * field an admin's stale save can set back to an old copy: it never makes a running copy retire.
 */
export function pickKeeper<S extends Pick<CoolifyService, 'uuid' | 'status' | 'description' | 'createdAt'>>(
  services: readonly S[],
  storedUuid: string,
): S | undefined {
  const rank = (s: S) => {
    const running = s.status.startsWith('running');
    if (running) return s.uuid === storedUuid ? 0 : 1;
    if (s.uuid === storedUuid) return 2;
    return parseMarker(s.description)?.extra['orphaned-at'] === undefined ? 3 : 4;
  };
  const age = (s: S) => s.createdAt ?? Infinity;
  return [...services].sort((a, b) => rank(a) - rank(b) || age(a) - age(b) || a.uuid.localeCompare(b.uuid))[0];
}

export async function findTenantProject(coolify: CoolifyApi, tenantId: string, storedUuid: string): Promise<ProjectLookup> {
  if (storedUuid) {
    try {
      const project = await coolify.getProject(storedUuid);
      if (!projectBelongsTo(project.description, tenantId)) return { kind: 'foreign', uuid: storedUuid };
      return { kind: 'found', project, adopted: false };
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  const mine = (await coolify.listProjects())
    .filter((p) => projectBelongsTo(p.description, tenantId))
    .sort((a, b) => a.uuid.localeCompare(b.uuid));
  const first = mine[0];
  if (!first) return { kind: 'none' };
  try {
    return { kind: 'found', project: await coolify.getProject(first.uuid), adopted: true };
  } catch (e) {
    if (isNotFound(e)) return { kind: 'none' };
    throw e;
  }
}
