import type { Ability } from './auth.js';
import type { Handler } from './handlers/context.js';
import { createEnv, bulkEnvs, deleteEnv, listEnvs, updateEnv } from './handlers/envs.js';
import { getServer, listAllDestinations, listServerDestinations, listServers, version } from './handlers/infra.js';
import {
  createEnvironment,
  createProject,
  deleteProject,
  getEnvironment,
  getProject,
  listEnvironments,
  listProjects,
  updateProject,
} from './handlers/projects.js';
import {
  createService,
  deleteService,
  deploy,
  getService,
  listServices,
  restartService,
  startService,
  stopService,
  updateService,
} from './handlers/services.js';

/**
 * The routes of notes §9 (plus servers, destinations and version), relative to /api/v1, in
 * Laravel's registration order: the first pattern that matches wins, so literal segments come
 * before `{environment}`.
 */

interface Route {
  method: string;
  pattern: string[];
  ability: Ability;
  handler: Handler;
}

function route(method: string, pattern: string, ability: Ability, handler: Handler): Route {
  return { method, pattern: pattern.split('/'), ability, handler };
}

const ROUTES: Route[] = [
  route('GET', 'version', 'read', version),
  route('GET', 'projects', 'read', listProjects),
  route('POST', 'projects', 'write', createProject),
  route('GET', 'projects/:uuid/environments', 'read', listEnvironments),
  route('POST', 'projects/:uuid/environments', 'write', createEnvironment),
  route('GET', 'projects/:uuid', 'read', getProject),
  route('PATCH', 'projects/:uuid', 'write', updateProject),
  route('DELETE', 'projects/:uuid', 'write', deleteProject),
  route('GET', 'projects/:uuid/:environment', 'read', getEnvironment),
  route('GET', 'servers', 'read', listServers),
  route('GET', 'servers/:uuid', 'read', getServer),
  route('GET', 'servers/:uuid/destinations', 'read', listServerDestinations),
  route('GET', 'destinations', 'read', listAllDestinations),
  route('GET', 'services', 'read', listServices),
  route('POST', 'services', 'write', createService),
  route('GET', 'services/:uuid', 'read', getService),
  route('PATCH', 'services/:uuid', 'write', updateService),
  route('DELETE', 'services/:uuid', 'write', deleteService),
  route('POST', 'services/:uuid/start', 'deploy', startService),
  route('POST', 'services/:uuid/stop', 'deploy', stopService),
  route('POST', 'services/:uuid/restart', 'deploy', restartService),
  route('GET', 'services/:uuid/envs', 'read', listEnvs),
  route('POST', 'services/:uuid/envs', 'write', createEnv),
  route('PATCH', 'services/:uuid/envs/bulk', 'write', bulkEnvs),
  route('PATCH', 'services/:uuid/envs', 'write', updateEnv),
  route('DELETE', 'services/:uuid/envs/:env_uuid', 'write', deleteEnv),
  route('POST', 'deploy', 'deploy', deploy),
];

/** Action routes that answer GET with 405 + `Allow: POST` since v4.2.0 (notes §2, §5.6). */
const POST_ONLY = ['services/:uuid/start', 'services/:uuid/stop', 'services/:uuid/restart', 'deploy'].map((p) => p.split('/'));

function match(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] ?? '';
    const s = segments[i] ?? '';
    if (p.startsWith(':')) {
      if (s === '') return undefined;
      params[p.slice(1)] = decodeURIComponent(s);
    } else if (p !== s) return undefined;
  }
  return params;
}

export type RouteMatch =
  | { kind: 'route'; route: Route; params: Record<string, string> }
  | { kind: 'post-only' }
  | { kind: 'none' };

/** `path` is relative to /api/v1, without leading slash. */
export function resolve(method: string, path: string): RouteMatch {
  const segments = path.split('/').filter((s, i, all) => s !== '' || i < all.length - 1);
  for (const r of ROUTES) {
    if (r.method !== method) continue;
    const params = match(r.pattern, segments);
    if (params) return { kind: 'route', route: r, params };
  }
  if (method === 'GET' && POST_ONLY.some((p) => match(p, segments))) return { kind: 'post-only' };
  return { kind: 'none' };
}
