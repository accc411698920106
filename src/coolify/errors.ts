/**
 * One error type for every way a Coolify call can fail. The `kind` is what callers branch on;
 * `status` and `body` keep the detail. Messages are built here from the method, the path and
 * Coolify's own `message`, never from request headers, so the bearer token cannot leak into them.
 */

export type CoolifyErrorKind =
  | 'not_found'
  | 'conflict'
  | 'validation'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'server'
  | 'timeout'
  | 'network'
  | 'invalid_response';

/** One entry of a 409 domain-conflict body (notes §5.3). */
export interface CoolifyDomainConflict {
  domain: string;
  resourceName: string | undefined;
  resourceUuid: string | undefined;
  resourceType: string | undefined;
}

export interface CoolifyErrorDetails {
  method: string;
  path: string;
  status?: number | undefined;
  body?: unknown;
  cause?: unknown;
  retryAfterMs?: number | undefined;
}

export class CoolifyError extends Error {
  override name = 'CoolifyError';
  readonly kind: CoolifyErrorKind;
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  /** Parsed JSON body, or the raw text when it was not JSON. */
  readonly body: unknown;
  /** Domains Coolify reported as taken (409 only). */
  readonly conflicts: CoolifyDomainConflict[];
  /** Flattened validation messages, `field: message` where a field is known (422 only). */
  readonly validation: string[];
  /** The ability named in a 403 `Missing required permissions: x`. */
  readonly missingAbility: string | undefined;
  /** How long Coolify asked us to wait (429 `Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(kind: CoolifyErrorKind, message: string, details: CoolifyErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.method = details.method;
    this.path = details.path;
    this.status = details.status;
    this.body = details.body;
    this.conflicts = kind === 'conflict' ? parseConflicts(details.body) : [];
    this.validation = kind === 'validation' ? parseValidation(details.body) : [];
    this.missingAbility = kind === 'forbidden' ? parseMissingAbility(details.body) : undefined;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** Classifies a non-2xx response; the message carries Coolify's own words and the details that matter. */
  static fromResponse(details: CoolifyErrorDetails & { status: number }): CoolifyError {
    const kind = kindForStatus(details.status);
    const summary = bodyMessage(details.body) ?? `HTTP ${details.status}`;
    const validation = kind === 'validation' ? parseValidation(details.body) : [];
    const conflicts = kind === 'conflict' ? parseConflicts(details.body) : [];
    const extra =
      validation.length > 0
        ? ` (${validation.join('; ')})`
        : conflicts.length > 0
          ? ` (domains taken: ${conflicts.map((c) => c.domain).join(', ')})`
          : '';
    return new CoolifyError(kind, `Coolify ${details.method} ${details.path} failed (${details.status}): ${summary}${extra}`, details);
  }
}

function kindForStatus(status: number): CoolifyErrorKind {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 422:
      return 'validation';
    case 429:
      return 'rate_limited';
    default:
      return status >= 500 ? 'server' : 'bad_request';
  }
}

/** Transient failures: worth retrying later with backoff. Everything else needs a change of input. */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof CoolifyError)) return false;
  return err.kind === 'rate_limited' || err.kind === 'server' || err.kind === 'timeout' || err.kind === 'network';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bodyMessage(body: unknown): string | undefined {
  if (isRecord(body) && typeof body.message === 'string') {
    // `error` carries the detail of validateIncomingRequest's 400s ("Invalid JSON." …).
    return typeof body.error === 'string' ? `${body.message} ${body.error}` : body.message;
  }
  if (typeof body === 'string' && body.trim() !== '') {
    // HTML error pages can be long; the first line is enough to act on.
    const line = body.trim().split('\n')[0] ?? '';
    return line.length > 200 ? `${line.slice(0, 200)}…` : line;
  }
  return undefined;
}

/** Accepts every `errors` shape of notes §2: object of string | string[], or a plain array. */
function parseValidation(body: unknown): string[] {
  if (!isRecord(body)) return [];
  const errors = body.errors;
  const out: string[] = [];
  if (Array.isArray(errors)) {
    for (const e of errors) if (typeof e === 'string') out.push(e);
  } else if (isRecord(errors)) {
    for (const [field, v] of Object.entries(errors)) {
      const list = Array.isArray(v) ? v : [v];
      for (const m of list) if (typeof m === 'string') out.push(`${field}: ${m}`);
    }
  }
  // A 422 with only a message ("You cannot provide both …") is still a validation failure.
  if (out.length === 0 && typeof body.message === 'string' && body.message !== 'Validation failed.') {
    out.push(body.message);
  }
  return out;
}

function parseConflicts(body: unknown): CoolifyDomainConflict[] {
  if (!isRecord(body) || !Array.isArray(body.conflicts)) return [];
  const out: CoolifyDomainConflict[] = [];
  for (const c of body.conflicts) {
    if (!isRecord(c) || typeof c.domain !== 'string') continue;
    out.push({
      domain: c.domain,
      resourceName: typeof c.resource_name === 'string' ? c.resource_name : undefined,
      resourceUuid: typeof c.resource_uuid === 'string' ? c.resource_uuid : undefined,
      resourceType: typeof c.resource_type === 'string' ? c.resource_type : undefined,
    });
  }
  return out;
}

const MISSING_ABILITY = /^Missing required permissions: (.+)$/;

function parseMissingAbility(body: unknown): string | undefined {
  if (!isRecord(body) || typeof body.message !== 'string') return undefined;
  return MISSING_ABILITY.exec(body.message)?.[1]?.trim();
}
