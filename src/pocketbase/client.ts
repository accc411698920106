/**
 * A PocketBase SDK client fit for a long-running process: EventSource available on Node 20, no
 * auto-cancellation, superuser auth that refreshes (or re-authenticates) before the token expires,
 * and credentials registered with the Redactor before anything can log them.
 */
import PocketBase, { ClientResponseError } from 'pocketbase';
import { EventSource } from 'eventsource';
import type { Clock } from '../clock.js';
import { TerminalError } from '../errors.js';
import { describePocketBaseFailure, notPocketBaseMessage, type PocketBaseCause } from '../startup/pocketbase-cause.js';
import type { Logger } from '../logging/logger.js';
import type { Redactor } from '../logging/redactor.js';

type ErrorHandler = EventSource['onerror'];

/**
 * eventsource 4 arms its own 3 s reconnect timer right after calling `onerror`. The SDK closes the
 * stream inside `onerror` and reconnects by itself, so that timer outlives the close: harmless, but
 * it keeps a stopping process alive for 3 s. Running the handler one microtask later lets close()
 * clear the timer.
 */
class SdkEventSource extends EventSource {
  override get onerror(): ErrorHandler {
    return super.onerror;
  }
  override set onerror(handler: ErrorHandler) {
    super.onerror = handler === null ? null : (ev) => queueMicrotask(() => handler.call(this, ev));
  }
}

/** Node 20 has no global EventSource; the SDK's realtime service needs one. */
export function installEventSourcePolyfill(): void {
  const g = globalThis as { EventSource?: unknown };
  if (typeof g.EventSource === 'undefined') g.EventSource = SdkEventSource;
}

/**
 * An unauthenticated client with the daemon's settings. `userAgent` names the client in
 * PocketBase's request log (Logs in the admin UI), e.g. `cf-reconciler/0.1.0 (plan)`.
 */
export function createPocketBaseClient(url: string, userAgent?: string): PocketBase {
  installEventSourcePolyfill();
  const pb = new PocketBase(url);
  // Otherwise two concurrent requests with the same method+path cancel each other (e.g. two getOne calls).
  pb.autoCancellation(false);
  if (userAgent) {
    pb.beforeSend = (target, options) => {
      options.headers = { ...options.headers, 'User-Agent': userAgent };
      return { url: target, options };
    };
  }
  return pb;
}

export interface ConnectOptions {
  url: string;
  email: string;
  password: string;
  redactor: Redactor;
  logger: Logger;
  clock: Clock;
  /**
   * Refresh the token when it expires within this many seconds. The SDK checks lazily, before each
   * request (realtime re-subscriptions included), and falls back to the password when refresh fails.
   */
  autoRefreshThresholdSeconds?: number;
  /** The Redactor slot this client's auth token is masked under (one slot per client). */
  tokenSlot?: string;
  /** First retry delay in ms; doubles per failure up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  signal?: AbortSignal;
  /** User-Agent of every request, so PocketBase's request log tells the daemon and `plan` apart. */
  userAgent?: string;
  /** Told the cause of every failed attempt (for /readyz), once per attempt, as it is logged. */
  onAttemptFailed?: (cause: PocketBaseCause) => void;
}

/** Where PocketBase said the credentials are wrong: retrying cannot help. */
const REJECTED_STATUSES = new Set([400, 401, 403]);

/**
 * Connects and authenticates as superuser, retrying with capped exponential backoff while
 * PocketBase is unreachable or failing. Wrong credentials end the retries with a TerminalError.
 */
export async function connectPocketBase(options: ConnectOptions): Promise<PocketBase> {
  const { redactor, logger, clock } = options;
  redactor.add(options.password);
  const pb = createPocketBaseClient(options.url, options.userAgent);
  // A refreshed token replaces the previous one in the redactor instead of piling up.
  const slot = options.tokenSlot ?? `pocketbase token ${options.url}`;
  pb.authStore.onChange((token) => redactor.set(slot, token));
  const threshold = options.autoRefreshThresholdSeconds ?? 30 * 60;
  const initial = options.initialBackoffMs ?? 500;
  const cap = options.maxBackoffMs ?? 30_000;

  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      await pb.collection('_superusers').authWithPassword(options.email, options.password, {
        autoRefreshThreshold: threshold,
      });
      if (!pb.authStore.token) throw new NotPocketBase(notPocketBaseMessage(options.url));
      if (attempt > 0) logger.info('authenticated to PocketBase', { url: options.url, attempts: attempt + 1 });
      return pb;
    } catch (e) {
      if (e instanceof ClientResponseError && REJECTED_STATUSES.has(e.status)) {
        throw new TerminalError(
          `PocketBase at ${options.url} rejected the superuser credentials (HTTP ${e.status}); ` +
            'check POCKETBASE_SUPERUSER_EMAIL and POCKETBASE_SUPERUSER_PASSWORD',
        );
      }
      const delay = backoffMs(attempt, initial, cap);
      const cause: PocketBaseCause =
        e instanceof NotPocketBase ? { message: e.message, wrongServer: true } : describePocketBaseFailure(e, options.url);
      // Something else answering at the URL is a configuration error, an outage only a warning.
      logger.log(cause.wrongServer ? 'error' : 'warn', `PocketBase sign-in failed, retrying: ${cause.message}`, {
        url: options.url,
        attempt: attempt + 1,
        retryInMs: delay,
      });
      options.onAttemptFailed?.(cause);
      await clock.sleep(delay, options.signal);
    }
  }
}

class NotPocketBase extends Error {}

/** Exponential backoff with ±20 % jitter, capped; ms. */
export function backoffMs(attempt: number, initialMs: number, capMs: number): number {
  const base = Math.min(capMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
