/**
 * The audit trail: one reconcile_events record for every Coolify write the daemon makes (ok or
 * error) and for every refusal. Messages pass through the Redactor before they leave the process.
 * Writing the event is best effort: a PocketBase hiccup must not turn a successful Coolify write
 * into a failed reconcile (which would repeat the write).
 */
import type { Logger } from '../logging/logger.js';
import type { Redactor } from '../logging/redactor.js';
import type { EventOutcome, ReconcileKey } from '../pocketbase/types.js';
import { errorMessage } from '../errors.js';
import type { StorePort } from './ports.js';

export class Audit {
  readonly #store: StorePort;
  readonly #redactor: Redactor;
  readonly #logger: Logger;

  constructor(store: StorePort, redactor: Redactor, logger: Logger) {
    this.#store = store;
    this.#redactor = redactor;
    this.#logger = logger;
  }

  /** The same trail, logging through `logger` (a reconcile's child logger carrying its key). */
  withLogger(logger: Logger): Audit {
    return new Audit(this.#store, this.#redactor, logger);
  }

  async record(subject: ReconcileKey, action: string, outcome: EventOutcome, message: string, coolifyUuid = ''): Promise<void> {
    const safe = this.#redactor.redact(message);
    const level = outcome === 'ok' && action !== 'refuse' ? 'info' : 'warn';
    this.#logger.log(level, `${action} ${outcome}: ${safe}`, { subject, action, outcome, coolifyUuid });
    try {
      await this.#store.addEvent({ subject, action, outcome, message: safe, coolifyUuid });
    } catch (e) {
      this.#logger.warn('could not record reconcile event', { subject, action, error: errorMessage(e) });
    }
  }

  /**
   * Runs one Coolify write and records it. `uuid` may be derived from the result (a create).
   * Errors are recorded and rethrown so the reconcile backs off.
   */
  async write<T>(
    subject: ReconcileKey,
    action: string,
    uuid: string | ((result: T) => string),
    message: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await this.record(subject, action, 'error', `${message}: ${errorMessage(e)}`, typeof uuid === 'string' ? uuid : '');
      throw e;
    }
    await this.record(subject, action, 'ok', message, typeof uuid === 'string' ? uuid : uuid(result));
    return result;
  }
}
