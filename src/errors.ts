/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function coerceError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === 'string' ? e : JSON.stringify(e), { cause: e });
}

/**
 * An input problem that retrying cannot fix (a bad record, an invalid template). The queue does
 * not back off on it; the reconciler reports it on the record and waits for the record to change.
 */
export class TerminalError extends Error {
  override name = 'TerminalError';
}

export function errorMessage(e: unknown): string {
  return coerceError(e).message;
}
