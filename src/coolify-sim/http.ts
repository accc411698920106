/**
 * The simulator's request/response model, independent of node:http so handlers stay plain
 * functions of (request, state) → response.
 */

export interface SimRequest {
  method: string;
  /** Path without the query string, e.g. /api/v1/services. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
}

export interface SimResponse {
  status: number;
  /** Serialised as JSON unless `text` is set. */
  body?: unknown;
  /** Plain text body sent as text/html, like Laravel's `response('…')`. */
  text?: string;
  headers?: Record<string, string>;
}

/** Thrown by handlers to answer early; the router turns it into the response. */
export class Reply extends Error {
  readonly response: SimResponse;
  constructor(status: number, body: unknown, headers?: Record<string, string>) {
    super(`reply ${status}`);
    this.response = headers ? { status, body, headers } : { status, body };
  }
}

export function json(status: number, body: unknown): SimResponse {
  return { status, body };
}

export const NOT_FOUND_CATCH_ALL = { message: 'Not found.', docs: 'https://coolify.io/docs' };
export const SERVER_ERROR = { message: 'Server Error' };

export function validationFailed(errors: Record<string, unknown> | string[]): Reply {
  return new Reply(422, { message: 'Validation failed.', errors });
}

export function notFound(message: string): Reply {
  return new Reply(404, { message });
}

/**
 * `validateIncomingRequest` (notes §2): JSON content type, decodable, non-empty. Returns the body
 * as an object.
 */
export function readJsonBody(req: SimRequest): Record<string, unknown> {
  const ct = String(req.headers['content-type'] ?? '');
  if (!ct.toLowerCase().includes('application/json')) {
    throw new Reply(400, { message: 'Invalid request.', error: 'Content-Type must be application/json.' });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.rawBody);
  } catch {
    throw new Reply(400, { message: 'Invalid request.', error: 'Invalid JSON.' });
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.keys(parsed).length === 0) {
    throw new Reply(400, { message: 'Invalid request.', error: 'Empty JSON.' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Reply(400, { message: 'Invalid request.', error: 'Invalid JSON.' });
  }
  return parsed as Record<string, unknown>;
}

/** Like readJsonBody but for routes that do not call validateIncomingRequest: lenient. */
export function readJsonBodyLenient(req: SimRequest): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(req.rawBody || '{}');
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
