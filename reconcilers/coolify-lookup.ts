/**
 * Finding the Coolify resources that belong to a record: by the stored uuid first (verifying the
 * marker, since the uuid is only a cache an admin save can corrupt), else by marker in a listing
 * (adoption after a crash or a stale save). Nothing here writes.
 */
import { CoolifyError } from '../src/coolify/errors.js';
import { parseMarker } from '../src/coolify/markers.js';
import type { CoolifyApi, CoolifyProjectDetail, CoolifyService, CoolifyServiceDetail } from '../src/coolify/types.js';

export type ServiceLookup =
  | { kind: 'found'; service: CoolifyServiceDetail; adopted: boolean; duplicates: CoolifyService[] }
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

export async function findStackService(coolify: CoolifyApi, stackId: string, storedUuid: string): Promise<ServiceLookup> {
  if (storedUuid) {
    const service = await getServiceOrNull(coolify, storedUuid);
    if (service) {
      if (!serviceBelongsTo(service.description, stackId)) return { kind: 'foreign', uuid: storedUuid };
      return { kind: 'found', service, adopted: false, duplicates: [] };
    }
  }
  const mine = (await coolify.listServices())
    .filter((s) => serviceBelongsTo(s.description, stackId))
    .sort((a, b) => a.uuid.localeCompare(b.uuid));
  const [first, ...duplicates] = mine;
  if (!first) return { kind: 'none' };
  const service = await getServiceOrNull(coolify, first.uuid);
  if (!service) return { kind: 'none' };
  return { kind: 'found', service, adopted: true, duplicates };
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
