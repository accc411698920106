import type { SimRequest } from './http.js';

/** Sanctum abilities (notes §1). */
export type Ability = 'read' | 'write' | 'write:sensitive' | 'deploy' | 'read:sensitive' | 'root';

export interface SimTokenConfig {
  token: string;
  abilities: Ability[];
  /** Coolify user owning the token; the rate limit is per user. Defaults to one user per token. */
  user?: string;
}

export interface SimPrincipal {
  user: string;
  abilities: Ability[];
  /** `can_read_sensitive`: read:sensitive or root (the sim's users are all team admins). */
  sensitive: boolean;
}

export function authenticate(req: SimRequest, tokens: SimTokenConfig[]): SimPrincipal | undefined {
  const header = req.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  const m = /^Bearer\s+(.+)$/i.exec(value ?? '');
  if (!m) return undefined;
  const presented = m[1]?.trim();
  const found = tokens.find((t) => t.token === presented);
  if (!found) return undefined;
  return {
    user: found.user ?? found.token.split('|')[0] ?? 'user',
    abilities: found.abilities,
    sensitive: found.abilities.includes('root') || found.abilities.includes('read:sensitive'),
  };
}

/** `ApiAbility`: root passes everything; otherwise the route's ability must be held literally. */
export function hasAbility(principal: SimPrincipal, ability: Ability): boolean {
  return principal.abilities.includes('root') || principal.abilities.includes(ability);
}
