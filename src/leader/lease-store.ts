/**
 * The lease records in PocketBase (`cf_leases`, one record per epoch; see the migration
 * 1767225700_cf_lease.js). The only atomic step is `create`: PocketBase's unique index on
 * (name, epoch) lets exactly one of several daemons create a given epoch, so taking the lease is
 * never a read-then-write. Renewal and release update the holder's own epoch record, which no
 * other daemon writes.
 */
import type PocketBase from 'pocketbase';
import { ClientResponseError } from 'pocketbase';
import { formatPbDate, parsePbDate } from '../pocketbase/records.js';

export interface LeaseRecord {
  id: string;
  epoch: number;
  holder: string;
  released: boolean;
  /** The holder's clock at its last renewal (epoch ms; informational). */
  renewedAt: number | null;
  /** PocketBase's `updated` as sent: changes on every renewal, compared only for equality. */
  version: string;
}

export interface LeaseStore {
  /** The record of the highest epoch, or null when the lease was never taken. */
  latest(): Promise<LeaseRecord | null>;
  /** Creates `epoch` for `holder`; 'taken' when another daemon created that epoch first. */
  create(epoch: number, holder: string, nowMs: number): Promise<LeaseRecord | 'taken'>;
  /** Updates the holder's own record; the renewed record. */
  renew(record: LeaseRecord, nowMs: number): Promise<LeaseRecord>;
  release(record: LeaseRecord): Promise<void>;
  /** Deletes records of epochs below `epoch` (housekeeping). */
  prune(belowEpoch: number): Promise<void>;
}

const COLLECTION = 'cf_leases';

export class PocketBaseLeaseStore implements LeaseStore {
  readonly #pb: PocketBase;
  readonly #name: string;

  constructor(pb: PocketBase, name = 'cf-reconciler') {
    this.#pb = pb;
    this.#name = name;
  }

  async latest(): Promise<LeaseRecord | null> {
    const page = await this.#pb
      .collection(COLLECTION)
      .getList(1, 1, { filter: this.#pb.filter('name = {:name}', { name: this.#name }), sort: '-epoch', skipTotal: true });
    const raw = page.items[0];
    return raw ? parse(raw as unknown as Record<string, unknown>) : null;
  }

  async create(epoch: number, holder: string, nowMs: number): Promise<LeaseRecord | 'taken'> {
    try {
      const raw = await this.#pb
        .collection(COLLECTION)
        .create({ name: this.#name, epoch, holder, renewed_at: formatPbDate(nowMs), released: false });
      return parse(raw as unknown as Record<string, unknown>);
    } catch (e) {
      if (isNotUnique(e)) return 'taken';
      throw e;
    }
  }

  async renew(record: LeaseRecord, nowMs: number): Promise<LeaseRecord> {
    const raw = await this.#pb.collection(COLLECTION).update(record.id, { renewed_at: formatPbDate(nowMs) });
    return parse(raw as unknown as Record<string, unknown>);
  }

  async release(record: LeaseRecord): Promise<void> {
    await this.#pb.collection(COLLECTION).update(record.id, { released: true });
  }

  async prune(belowEpoch: number): Promise<void> {
    const old = await this.#pb.collection(COLLECTION).getList(1, 50, {
      filter: this.#pb.filter('name = {:name} && epoch < {:epoch}', { name: this.#name, epoch: belowEpoch }),
      fields: 'id',
      skipTotal: true,
    });
    for (const r of old.items) await this.#pb.collection(COLLECTION).delete(r.id).catch(() => undefined);
  }
}

function parse(raw: Record<string, unknown>): LeaseRecord {
  return {
    id: String(raw.id),
    epoch: Number(raw.epoch),
    holder: String(raw.holder ?? ''),
    released: raw.released === true,
    renewedAt: parsePbDate(raw.renewed_at) ?? null,
    version: String(raw.updated ?? ''),
  };
}

/** PocketBase's answer to a create that breaks a unique index: 400 with `validation_not_unique`. */
function isNotUnique(e: unknown): boolean {
  if (!(e instanceof ClientResponseError) || e.status !== 400) return false;
  return JSON.stringify(e.response ?? {}).includes('validation_not_unique');
}
