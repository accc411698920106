/**
 * Refusals: the record asks for something the daemon will not do (touch a resource without its
 * marker, send what Coolify rejected). The record gets status error with words an admin can act
 * on, one audit event per new refusal (not one per retry), and the reconcile ends with a
 * TerminalError so it waits for the record to change instead of backing off forever.
 */
import { TerminalError } from '../src/errors.js';
import { CoolifyError } from '../src/coolify/errors.js';
import type { ReconcileKey } from '../src/pocketbase/types.js';
import type { EngineContext } from '../src/engine/context.js';

export interface Refusal {
  key: ReconcileKey;
  /** The record's current status and message, to tell a new refusal from a repeated one. */
  current: { status: string; message: string };
  message: string;
  /** Coolify uuid the refusal is about ('' when none). */
  uuid: string;
  /** Writes status error with `message` to the record. */
  writeError(message: string): Promise<void>;
  /** Record an audit event (false when the failed Coolify write already recorded one). */
  audit?: boolean;
}

export async function refuse(ctx: EngineContext, r: Refusal): Promise<never> {
  const repeated = r.current.status === 'error' && r.current.message === ctx.redactor.redact(r.message);
  if (!repeated && r.audit !== false) {
    await ctx.audit.record(r.key, 'refuse', 'error', `${r.message}; nothing was changed`, r.uuid);
  }
  await r.writeError(r.message);
  throw new TerminalError(`${r.key}: ${ctx.redactor.redact(r.message)}`);
}

/** True for answers that repeating the same request cannot change (409, 422, 400). */
export function isRejection(e: unknown): e is CoolifyError {
  return e instanceof CoolifyError && (e.kind === 'conflict' || e.kind === 'validation' || e.kind === 'bad_request');
}

const REJECTED = 'Coolify rejected the ';

/** True for a status message written by a refusal of something Coolify rejected. */
export function isRejectionMessage(message: string): boolean {
  return message.startsWith(REJECTED);
}

/** What Coolify rejected, in words an admin can act on: the taken domains, the invalid fields. */
export function rejectionMessage(what: string, e: CoolifyError): string {
  if (e.kind === 'conflict' && e.conflicts.length > 0) {
    const taken = e.conflicts.map((c) => (c.resourceName ? `${c.domain} (used by ${c.resourceName})` : c.domain));
    return `${REJECTED}${what}: domain already in use: ${taken.join(', ')}; change the stack's domains`;
  }
  if (e.kind === 'validation' && e.validation.length > 0) return `${REJECTED}${what}: ${e.validation.join('; ')}`;
  return `${REJECTED}${what}: ${e.message}`;
}
