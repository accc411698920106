/**
 * Fault injection for tests. Rules match a request by method and a path pattern relative to
 * /api/v1 (`*` = one segment, `**` = the rest), e.g. `GET services`, `POST services/*\/start`,
 * `* **`. Each rule fires for its next N matching requests, in the order rules were added.
 *
 * Answers made up by a `failNext` or `malformedNext` rule carry the header FAULT_HEADER, so a
 * contract check can tell a deliberately off-spec answer from a simulator that drifted from Coolify.
 * 429 bursts are not marked: they are the throttle's own answer, word for word.
 */

/** Not a Coolify header: marks an answer a test injected (value: the fault kind). */
export const FAULT_HEADER = 'X-Coolify-Sim-Fault';

export type FaultAction =
  | { kind: 'status'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'delay'; ms: number }
  | { kind: 'drop' }
  | { kind: 'lose'; afterMs: number }
  | { kind: 'malformed' }
  | { kind: 'cut'; afterBytes: number; stallMs: number };

interface Rule {
  method: string;
  pattern: string[];
  remaining: number;
  action: FaultAction;
  /** Throttle-stage rules (429 bursts) run before the ability check, like Laravel's throttle. */
  stage: 'throttle' | 'controller';
}

function parseMatcher(matcher: string): { method: string; pattern: string[] } {
  const [method = '*', path = '**'] = matcher.trim().split(/\s+/, 2);
  return { method: method.toUpperCase(), pattern: path.replace(/^\/+/, '').split('/').filter(Boolean) };
}

function matches(pattern: string[], segments: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '**') return true;
    if (i >= segments.length) return false;
    if (p !== '*' && p !== segments[i]) return false;
  }
  return pattern.length === segments.length;
}

export class SimFaults {
  #rules: Rule[] = [];

  /** The next `n` matching requests fail with `status` (default 500 `{"message":"Server Error"}`). */
  failNext(matcher: string, n = 1, options: { status?: number; body?: unknown; headers?: Record<string, string> } = {}): void {
    const status = options.status ?? 500;
    const body = options.body ?? (status >= 500 ? { message: 'Server Error' } : { message: 'Injected fault.' });
    this.#add(matcher, n, { kind: 'status', status, body, ...(options.headers ? { headers: options.headers } : {}) }, 'controller');
  }

  /** The next `n` authenticated requests (any route) get Laravel's 429 with `Retry-After: retryAfterSec`. */
  rateLimitNext(n: number, retryAfterSec = 1, matcher = '* **'): void {
    this.#add(
      matcher,
      n,
      { kind: 'status', status: 429, body: { message: 'Too Many Attempts.' }, headers: { 'Retry-After': String(retryAfterSec) } },
      'throttle',
    );
  }

  /** Delays the next `n` matching requests by `ms` before they are handled. */
  delayNext(matcher: string, ms: number, n = 1): void {
    this.#add(matcher, n, { kind: 'delay', ms }, 'controller');
  }

  /** Destroys the connection of the next `n` matching requests without answering. */
  dropNext(matcher: string, n = 1): void {
    this.#add(matcher, n, { kind: 'drop' }, 'controller');
  }

  /**
   * A request carried out but its answer lost: the connection of the next `n` matching requests is
   * destroyed without an answer, and the request is carried out `afterMs` later (Coolify finishing
   * a create after the client gave up), so a lookup made in between does not see it yet.
   */
  loseAnswerNext(matcher: string, n = 1, afterMs = 0): void {
    this.#add(matcher, n, { kind: 'lose', afterMs }, 'controller');
  }

  /**
   * The next `n` matching requests are carried out and their real answer starts, but the
   * connection is destroyed after `afterBytes` bytes of the body (and a stall of `stallMs`): an
   * answer cut off mid-stream, as by a dropped link or a proxy giving up.
   */
  cutNext(matcher: string, n: number, options: { afterBytes: number; stallMs?: number }): void {
    this.#add(matcher, n, { kind: 'cut', afterBytes: options.afterBytes, stallMs: options.stallMs ?? 0 }, 'controller');
  }

  /** Answers the next `n` matching requests with 200 and a truncated JSON body. */
  malformedNext(matcher: string, n = 1): void {
    this.#add(matcher, n, { kind: 'malformed' }, 'controller');
  }

  clear(): void {
    this.#rules = [];
  }

  /** Rules still armed. */
  get pending(): number {
    return this.#rules.length;
  }

  /** Consumes and returns the first matching action of `stage`. `path` is relative to /api/v1. */
  take(stage: Rule['stage'], method: string, path: string): FaultAction | undefined {
    const segments = path.split('/').filter(Boolean);
    const i = this.#rules.findIndex(
      (r) => r.stage === stage && (r.method === '*' || r.method === method) && matches(r.pattern, segments),
    );
    if (i < 0) return undefined;
    const rule = this.#rules[i];
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining <= 0) this.#rules.splice(i, 1);
    return rule.action;
  }

  #add(matcher: string, n: number, action: FaultAction, stage: Rule['stage']): void {
    if (!(n > 0)) throw new RangeError('fault count must be positive');
    this.#rules.push({ ...parseMatcher(matcher), remaining: n, action, stage });
  }
}
