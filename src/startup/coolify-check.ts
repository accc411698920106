/**
 * Start-up checks against Coolify, kept as readiness checks because Coolify may simply be down
 * when the daemon starts:
 * - `coolify_token`: the token is accepted. Any 401/403 answer (from this check or from any
 *   reconcile) fails it, logged at error once with what to do; the next authenticated success
 *   clears it. Such an answer never counts as "Coolify reachable".
 * - `coolify_placement`: COOLIFY_SERVER_UUID is one of Coolify's servers and
 *   COOLIFY_DESTINATION_UUID (when set) one of its destinations. Verified in the background with
 *   capped backoff until it passes, so fixing Coolify (or the token) is picked up without a restart.
 */
import type { Clock } from '../clock.js';
import { CoolifyError } from '../coolify/errors.js';
import type { CoolifyApi } from '../coolify/types.js';
import type { CheckOutcome } from '../daemon/http-server.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging/logger.js';

export interface CoolifyCheckOptions {
  coolify: CoolifyApi;
  serverUuid: string;
  destinationUuid: string | undefined;
  clock: Clock;
  logger: Logger;
  /** First retry delay (ms), doubled per failure up to `maxRetryMs`. @default 2000 */
  initialRetryMs?: number;
  /** @default 300000 */
  maxRetryMs?: number;
}

const ABILITIES = 'read, write, deploy and read:sensitive (or root)';

/** What an operator does about a 401 or 403, in words. */
export function tokenAdvice(status: number, detail: string): string {
  if (status === 401) {
    return (
      `Coolify rejects COOLIFY_TOKEN (401 ${detail}): the token is unknown, revoked or expired (Coolify tokens expire after ` +
      `30 days by default). Create a new API token in Coolify (Keys & Tokens) as a team admin with ${ABILITIES} and set COOLIFY_TOKEN`
    );
  }
  return (
    `Coolify refuses COOLIFY_TOKEN (403 ${detail}): enable the API (Settings; it is off by default on self-hosted Coolify), ` +
    `allow this host in the API IP allow-list, and give the token ${ABILITIES}, created by a team admin`
  );
}

export class CoolifyAccessCheck {
  readonly #o: CoolifyCheckOptions;
  #token: { ok: boolean; message: string } = { ok: false, message: 'Coolify has not answered an authenticated call yet' };
  #placement: { ok: boolean; message: string } = { ok: false, message: 'COOLIFY_SERVER_UUID not verified yet' };
  /** HTTP status of the rejection being reported, undefined while the token is not rejected. */
  #rejectedWith: number | undefined;
  /** Ends the wait between two verifications (stop). */
  #wake: (() => void) | undefined;
  #stopped = true;
  #running: Promise<void> | undefined;

  constructor(options: CoolifyCheckOptions) {
    this.#o = options;
  }

  /** The two readiness checks, by name. */
  readonly readiness = {
    coolify_token: (): CheckOutcome => this.#token,
    coolify_placement: (): CheckOutcome => this.#placement,
  };

  get tokenOk(): boolean {
    return this.#token.ok;
  }

  /**
   * Every answer Coolify gives to an authenticated call (the client's onResponse): 401/403 fail
   * the token check, any other answer below 500 passes it.
   */
  observe(info: { method: string; route: string; status: number | string }): void {
    if (info.route === 'health' || typeof info.status !== 'number' || info.status >= 500 || info.status === 429) return;
    if (info.status === 401 || info.status === 403) {
      this.#reject(info.status, `on ${info.method} ${info.route}`);
    } else {
      this.#accept();
    }
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#running;
  }

  /** One verification; true when the placement passed. Exposed for `plan` and tests. */
  async verify(): Promise<boolean> {
    const o = this.#o;
    try {
      const servers = await o.coolify.listServers();
      this.#accept();
      const server = servers.find((s) => s.uuid === o.serverUuid);
      if (!server) {
        const known = servers.map((s) => `${s.uuid} (${s.name})`).join(', ') || 'none';
        return this.#fail(`COOLIFY_SERVER_UUID ${o.serverUuid} is not a server of this Coolify (its servers: ${known})`);
      }
      if (o.destinationUuid) {
        let destinations;
        try {
          destinations = await o.coolify.listDestinations(o.serverUuid);
        } catch (e) {
          // Coolify before 4.2 has no destination listing: nothing to verify against.
          if (!(e instanceof CoolifyError && e.kind === 'not_found')) throw e;
          o.logger.warn('cannot verify COOLIFY_DESTINATION_UUID: this Coolify has no destinations API (before 4.2)');
          destinations = undefined;
        }
        if (destinations && !destinations.some((d) => d.uuid === o.destinationUuid)) {
          const known = destinations.map((d) => `${d.uuid} (${d.name})`).join(', ') || 'none';
          return this.#fail(`COOLIFY_DESTINATION_UUID ${o.destinationUuid} is not a destination of server ${o.serverUuid} (its destinations: ${known})`);
        }
      }
      if (!this.#placement.ok) o.logger.info('Coolify server and destination verified', { server: o.serverUuid, destination: o.destinationUuid });
      this.#placement = { ok: true, message: '' };
      return true;
    } catch (e) {
      if (e instanceof CoolifyError && (e.kind === 'unauthorized' || e.kind === 'forbidden')) {
        this.#reject(e.status ?? (e.kind === 'unauthorized' ? 401 : 403), bodyText(e));
        this.#placement = { ok: false, message: 'COOLIFY_SERVER_UUID not verified: the token is rejected (see coolify_token)' };
      } else {
        this.#placement = { ok: false, message: `COOLIFY_SERVER_UUID not verified yet: ${errorMessage(e)}` };
      }
      return false;
    }
  }

  async #loop(): Promise<void> {
    let delay = this.#o.initialRetryMs ?? 2000;
    const cap = this.#o.maxRetryMs ?? 300_000;
    while (!this.#stopped) {
      if (await this.verify()) return;
      if (this.#stopped) return;
      await new Promise<void>((resolve) => {
        const cancel = this.#o.clock.schedule(resolve, delay);
        this.#wake = () => {
          cancel();
          resolve();
        };
      });
      this.#wake = undefined;
      delay = Math.min(cap, delay * 2);
    }
  }

  #fail(message: string): false {
    if (this.#placement.message !== message) this.#o.logger.error(message);
    this.#placement = { ok: false, message };
    return false;
  }

  #reject(status: number, detail: string): void {
    // Once per change of status, not once per call: every reconcile would otherwise log it again.
    if (this.#rejectedWith === status) return;
    this.#rejectedWith = status;
    const message = tokenAdvice(status, detail);
    this.#o.logger.error(message);
    this.#token = { ok: false, message };
  }

  #accept(): void {
    if (this.#rejectedWith !== undefined) this.#o.logger.info('Coolify accepts COOLIFY_TOKEN again');
    this.#rejectedWith = undefined;
    this.#token = { ok: true, message: '' };
  }
}

/** Coolify's own words (`Unauthenticated.`, `API is disabled.`), never request headers. */
function bodyText(e: CoolifyError): string {
  const b = e.body as { message?: unknown } | undefined;
  return typeof b?.message === 'string' ? `"${b.message}"` : `on ${e.method} ${e.path}`;
}
