/**
 * Creates whose outcome is unknown (SPEC §3 "Unknown outcomes"; Crossplane's create-pending). A
 * create of a tenant's project or a stack's service is recorded before it is sent and forgotten
 * once its result is known: the resource was created (its uuid is stored) or Coolify refused it
 * with an answer. A create whose answer was lost (timeout, connection reset, a reconcile aborted
 * at its deadline, a crash) stays recorded; until the resource shows up by its marker, or
 * `graceMs` (at least 60 s) has passed without it, no second create is sent for that subject.
 *
 * The record lives in PocketBase (`cf_create_intents`, one record per subject, its id derived from
 * the subject) so a restart keeps it, and in memory so a reconcile reads it without a request.
 */
import { createHash } from 'node:crypto';
import type PocketBase from 'pocketbase';
import { ClientResponseError } from 'pocketbase';
import type { Clock } from '../clock.js';
import { formatPbDate, parsePbDate } from '../pocketbase/records.js';

export interface CreateIntentStore {
  /** When a create for `subject` was recorded (epoch ms), or null. */
  get(subject: string): Promise<number | null>;
  put(subject: string, atMs: number): Promise<void>;
  delete(subject: string): Promise<void>;
}

/** At least a minute: Coolify may carry a create out well after the client gave up on it. */
export const CREATE_GRACE_MS = 60_000;

export class CreateIntents {
  readonly graceMs: number;
  readonly #store: CreateIntentStore | undefined;
  readonly #clock: Clock;
  /** subject → epoch ms of the create in flight or unconfirmed; null = known to have none. */
  readonly #memory = new Map<string, number | null>();

  constructor(options: { store?: CreateIntentStore; clock: Clock; graceMs?: number }) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.graceMs = Math.max(options.graceMs ?? CREATE_GRACE_MS, 0);
  }

  /** Records a create about to be sent. Throws when it cannot be recorded: then it is not sent. */
  async begin(subject: string): Promise<void> {
    const at = this.#clock.now();
    await this.#store?.put(subject, at);
    this.#memory.set(subject, at);
  }

  /** The create's result is known. */
  async end(subject: string): Promise<void> {
    if (this.#memory.get(subject) === null) return;
    this.#memory.set(subject, null);
    await this.#store?.delete(subject);
  }

  /** How long to wait before creating `subject` again (ms); 0 when nothing is pending or the grace has passed. */
  async waitMs(subject: string): Promise<{ waitMs: number; sentAt: number } | undefined> {
    let at = this.#memory.get(subject);
    if (at === undefined) {
      at = (await this.#store?.get(subject)) ?? null;
      this.#memory.set(subject, at);
    }
    if (at === null) return undefined;
    const left = at + this.graceMs - this.#clock.now();
    return left > 0 ? { waitMs: left, sentAt: at } : undefined;
  }

  /** True when this process knows of a create for `subject` whose result it has not seen. */
  pendingInMemory(subject: string): boolean {
    const at = this.#memory.get(subject);
    return at !== undefined && at !== null;
  }

  /** Forgets what this process knows about `subject` (its record was deleted). */
  forget(subject: string): void {
    this.#memory.delete(subject);
  }
}

const COLLECTION = 'cf_create_intents';

/** PocketBase record ids are 15 characters of [a-z0-9]: the subject's hash, deterministic. */
export function intentId(subject: string): string {
  return createHash('sha256').update(subject).digest('hex').slice(0, 15);
}

export class PocketBaseCreateIntents implements CreateIntentStore {
  readonly #pb: PocketBase;

  constructor(pb: PocketBase) {
    this.#pb = pb;
  }

  async get(subject: string): Promise<number | null> {
    try {
      const raw = (await this.#pb.collection(COLLECTION).getOne(intentId(subject))) as unknown as Record<string, unknown>;
      return parsePbDate(raw.sent_at) ?? null;
    } catch (e) {
      if (e instanceof ClientResponseError && e.status === 404) return null;
      throw e;
    }
  }

  async put(subject: string, atMs: number): Promise<void> {
    const id = intentId(subject);
    const body = { subject, sent_at: formatPbDate(atMs) };
    try {
      await this.#pb.collection(COLLECTION).update(id, body);
    } catch (e) {
      if (!(e instanceof ClientResponseError && e.status === 404)) throw e;
      await this.#pb.collection(COLLECTION).create({ id, ...body });
    }
  }

  async delete(subject: string): Promise<void> {
    try {
      await this.#pb.collection(COLLECTION).delete(intentId(subject));
    } catch (e) {
      if (!(e instanceof ClientResponseError && e.status === 404)) throw e;
    }
  }
}
