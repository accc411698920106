/**
 * Extra tokens the engine keeps in a managed service's description marker: `delete-after=<iso>`
 * (a requested deletion's deadline, with `delete-seen=<iso>`) and `orphaned-at=<iso>` (when the daemon found the service
 * without its stack record). They live on the Coolify resource itself so the deadlines survive
 * restarts and stale PocketBase saves.
 */
import { parseMarker } from '../src/coolify/markers.js';

export const DELETE_AFTER = 'delete-after';
export const ORPHANED_AT = 'orphaned-at';
/**
 * Next to `delete-after`: the stack record's `updated` (ISO) as of the daemon's own last write
 * during this deletion. A record updated later was changed by someone else, perhaps a deletion
 * cancelled and requested again while the daemon did not look, so the retention starts over.
 */
export const DELETE_SEEN = 'delete-seen';

/**
 * Reads a marker token holding an instant, ISO or epoch ms (project descriptions cannot hold the
 * `:` of an ISO time); undefined when absent or unparsable. Epoch ms.
 */
export function readTimeToken(description: string, key: string): number | undefined {
  const v = parseMarker(description)?.extra[key];
  if (v === undefined) return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
