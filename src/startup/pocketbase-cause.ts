/**
 * The real cause of a failed PocketBase sign-in, in words an operator can act on. The SDK reports
 * every transport failure as "Something went wrong." with status 0; the socket error (ECONNREFUSED,
 * ENOTFOUND, ...) sits in its original error's cause chain.
 */
import { ClientResponseError } from 'pocketbase';
import { errorMessage } from '../errors.js';

const SIGN_IN = 'POST /api/collections/_superusers/auth-with-password';

export interface PocketBaseCause {
  /** What happened and what to check. */
  message: string;
  /** True when something answers at the URL but it is not PocketBase (a wrong URL, not an outage). */
  wrongServer: boolean;
}

export function describePocketBaseFailure(e: unknown, url: string): PocketBaseCause {
  if (e instanceof ClientResponseError) {
    if (e.status === 0) {
      const { code, message } = socketCause(e.originalError);
      const what = code ? `${message} (${code})` : message;
      return { message: `cannot connect to PocketBase at ${url}: ${what}; is PocketBase running there, and is POCKETBASE_URL right?`, wrongServer: false };
    }
    if (e.status === 404) {
      return {
        message: `${url} answered 404 to ${SIGN_IN}: not a PocketBase server (0.23 or later), or POCKETBASE_URL carries a wrong path`,
        wrongServer: true,
      };
    }
    const said = typeof e.response.message === 'string' && e.response.message !== '' ? `: ${e.response.message}` : '';
    return { message: `PocketBase at ${url} answered HTTP ${e.status} to ${SIGN_IN}${said}`, wrongServer: e.status < 500 };
  }
  return { message: `PocketBase at ${url}: ${errorMessage(e)}`, wrongServer: false };
}

/** A sign-in that "succeeded" without a token came from something else (an HTML page answering 200). */
export function notPocketBaseMessage(url: string): string {
  return `${url} answered ${SIGN_IN} without an auth token: not a PocketBase server; check POCKETBASE_URL`;
}

/**
 * The innermost error with a `code` in a cause chain (undici wraps the socket error). Duck-typed:
 * errors from another realm (a test runner's VM context) fail `instanceof Error`.
 */
function socketCause(error: unknown): { code: string | undefined; message: string } {
  let current = asError(error);
  let message = current?.message ?? String(error);
  for (let depth = 0; depth < 5 && current; depth++) {
    if (typeof current.code === 'string' && current.code !== '') return { code: current.code, message: current.message || message };
    const next: unknown = Array.isArray(current.errors) ? current.errors[0] : current.cause;
    current = asError(next);
    if (current?.message) message = current.message;
  }
  return { code: undefined, message };
}

interface ErrorLike {
  message: string;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
}

function asError(value: unknown): ErrorLike | undefined {
  return typeof value === 'object' && value !== null && typeof (value as ErrorLike).message === 'string' ? (value as ErrorLike) : undefined;
}
