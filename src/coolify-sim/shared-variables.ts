import type { SimEnvVar, SimService, SimState } from './state.js';

/**
 * Coolify's shared variables (team, project, environment, server) and the two places it
 * resolves `{{scope.NAME}}` (hazards §2): compose environment values go through
 * `resolveSharedEnvironmentVariables()`, which knows team, project and environment only; values
 * set through the env API go through `EnvironmentVariable::realValue`, which knows all four and
 * is what the service's `.env` receives. Whitespace inside the braces is accepted. A reference to
 * a variable that does not exist stays as written.
 */

export type SharedScope = 'team' | 'project' | 'environment' | 'server';

export interface SimSharedVariable {
  scope: SharedScope;
  /** Project, environment or server id; 0 for the team. */
  ownerId: number;
  key: string;
  value: string;
}

const REFERENCE = /\{\{\s*(team|project|environment|server)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

function ownerOf(state: SimState, service: SimService, scope: SharedScope): number {
  if (scope === 'team') return 0;
  if (scope === 'server') return service.serverId;
  if (scope === 'environment') return service.environmentId;
  return state.environmentById(service.environmentId)?.projectId ?? -1;
}

export function resolveShared(state: SimState, service: SimService, text: string, scopes: readonly SharedScope[]): string {
  if (!text.includes('{{')) return text;
  return text.replace(REFERENCE, (whole, scope: SharedScope, key: string) => {
    if (!scopes.includes(scope)) return whole;
    const owner = ownerOf(state, service, scope);
    const found = state.sharedVariables.find((v) => v.scope === scope && v.ownerId === owner && v.key === key);
    return found ? found.value : whole;
  });
}

/** Scopes of compose environment values (`serviceParser`): no `server`. */
export const COMPOSE_SCOPES: readonly SharedScope[] = ['team', 'project', 'environment'];
/** Scopes of env API values (`realValue`). */
export const ENV_API_SCOPES: readonly SharedScope[] = ['team', 'project', 'environment', 'server'];

/**
 * The text after `KEY=` in the service's `.env` (`real_value`): shared variables resolved; a
 * literal value wrapped in single quotes without escaping (a `'` inside ends the quoting); a
 * non-literal one with `\ " '` CR TAB NUL backslash-escaped (`escapeEnvVariables`).
 */
export function realValue(state: SimState, service: SimService, env: SimEnvVar): string | null {
  if (env.value === null) return null;
  const resolved = resolveShared(state, service, env.value, ENV_API_SCOPES);
  if (env.isLiteral) return `'${resolved}'`;
  return resolved.replace(/[\\"'\r\t\0]/g, (c) => `\\${c === '\r' ? 'r' : c === '\t' ? 't' : c === '\0' ? '0' : c}`);
}
