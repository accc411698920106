/**
 * Whether this daemon may send anything to Coolify now. Closed until it leads, closed again the
 * moment it stops leading (its lease's renew deadline passed) or starts shutting down. Checked
 * right before every request leaves (after the rate limiter's wait, which can be long), so a call
 * queued while this daemon led is never sent after it stopped leading.
 */
import type { CoolifyApi } from '../coolify/types.js';
import { wrapCoolify } from './abortable-coolify.js';

export class NotLeaderError extends Error {
  override name = 'NotLeaderError';
}

export class SendGate {
  #closed: string | undefined = 'this daemon does not hold the lease';
  #holding: () => boolean = () => true;

  /** `holding` is asked on every check: false as soon as the lease's renew deadline has passed. */
  open(holding: () => boolean = () => true): void {
    this.#holding = holding;
    this.#closed = undefined;
  }

  close(reason: string): void {
    this.#closed ??= reason;
  }

  /** Why nothing may be sent now, or undefined when sending is allowed. */
  get refusal(): string | undefined {
    if (this.#closed !== undefined) return this.#closed;
    return this.#holding() ? undefined : 'the lease was not renewed within its renew deadline';
  }

  /** Throws NotLeaderError when nothing may be sent. */
  check(): void {
    const why = this.refusal;
    if (why !== undefined) throw new NotLeaderError(`not sending to Coolify: ${why}`);
  }
}

/** `api` with the gate checked before each call (for injected clients without a send hook). */
export function gatedCoolify(api: CoolifyApi, gate: SendGate): CoolifyApi {
  return wrapCoolify(api, (call) => {
    try {
      gate.check();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return call();
  });
}
