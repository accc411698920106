/**
 * Ownership markers (SPEC §3) kept in Coolify `description` fields. A marker is a sequence of
 * whitespace-separated `key=value` tokens whose first token is exactly `managed-by=cf-reconciler`;
 * the engine may append tokens of its own (e.g. `orphaned-at=<iso>`). Anything else, including a
 * description that mentions the words in free text, is not ours.
 *
 * Project descriptions are limited to `[\p{L}\p{M}\p{N}\s\-_.,!?()'"+=*@/&]`, 255 chars, no `:`
 * (notes §3); the project marker is built only from characters in that set.
 */

export const MANAGED_BY = 'managed-by=cf-reconciler';

export interface ParsedMarker {
  tenantId: string;
  stackId?: string;
  /** Every token besides managed-by, stack and tenant. */
  extra: Record<string, string>;
}

/** PocketBase record ids are 15 lowercase alphanumerics; accept the wider `[A-Za-z0-9_-]` to be safe. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const TOKEN = /^([a-z][a-z0-9_-]*)=(\S+)$/;
const PROJECT_DESCRIPTION = /^[\p{L}\p{M}\p{N}\s\-_.,!?()'"+=*@/&]+$/u;

function checkId(label: string, id: string): void {
  if (!ID.test(id)) throw new TypeError(`${label} ${JSON.stringify(id)} cannot be written into a marker`);
}

export function formatServiceMarker(ids: { stackId: string; tenantId: string }): string {
  checkId('stack id', ids.stackId);
  checkId('tenant id', ids.tenantId);
  return `${MANAGED_BY} stack=${ids.stackId} tenant=${ids.tenantId}`;
}

export function formatProjectMarker(ids: { tenantId: string }): string {
  checkId('tenant id', ids.tenantId);
  return `${MANAGED_BY} tenant=${ids.tenantId}`;
}

/** Appends or replaces `key=value` tokens of a marker, keeping their order otherwise. */
export function withMarkerTokens(marker: string, tokens: Record<string, string | undefined>): string {
  const parsed = parseMarker(marker);
  if (!parsed) throw new TypeError('not a cf-reconciler marker');
  const parts = marker.trim().split(/\s+/);
  const out: string[] = [];
  const done = new Set<string>();
  for (const p of parts) {
    const key = p.slice(0, p.indexOf('='));
    if (Object.hasOwn(tokens, key)) {
      done.add(key);
      const v = tokens[key];
      if (v !== undefined) out.push(`${key}=${v}`);
    } else out.push(p);
  }
  for (const [k, v] of Object.entries(tokens)) {
    if (done.has(k) || v === undefined) continue;
    if (!TOKEN.test(`${k}=${v}`)) throw new TypeError(`marker token ${k} is not of the form key=value`);
    out.push(`${k}=${v}`);
  }
  return out.join(' ');
}

/** True when Coolify would accept `text` as a project or environment description. */
export function isValidProjectDescription(text: string): boolean {
  return text.length <= 255 && (text === '' || PROJECT_DESCRIPTION.test(text));
}

const NO_EXTRA: Record<string, string> = Object.freeze({});

export function parseMarker(description: string | null | undefined): ParsedMarker | null {
  if (typeof description !== 'string') return null;
  const parts = description.trim().split(/\s+/);
  if (parts[0] !== MANAGED_BY) return null;
  const values: Record<string, string> = {};
  for (const part of parts.slice(1)) {
    const m = TOKEN.exec(part);
    if (!m) return null;
    const [, key = '', value = ''] = m;
    if (key === 'managed-by' || Object.hasOwn(values, key)) return null;
    values[key] = value;
  }
  const { tenant, stack, ...rest } = values;
  if (tenant === undefined || !ID.test(tenant)) return null;
  if (stack !== undefined && !ID.test(stack)) return null;
  // Most markers have no extra token; a snapshot keeps one marker per service, so they share one.
  const extra = Object.keys(rest).length === 0 ? NO_EXTRA : rest;
  return stack === undefined ? { tenantId: tenant, extra } : { tenantId: tenant, stackId: stack, extra };
}
