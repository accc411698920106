/**
 * Validates recorded HTTP exchanges against the vendored Coolify OpenAPI spec with the overlay of
 * corrections applied (test/fixtures/coolify-openapi-overlay.yaml).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { FAULT_HEADER } from '../../src/coolify-sim/index.js';

type Json = Record<string, unknown>;

export interface Exchange {
  method: string;
  /** Path relative to /api/v1, with leading slash, e.g. /services/abc. */
  path: string;
  query: URLSearchParams;
  requestBody: unknown;
  status: number;
  contentType: string;
  responseBody: unknown;
  /**
   * Set when the simulator says a test injected this answer (its FAULT_HEADER): the response is
   * off-spec on purpose, so only the request is checked.
   */
  injected?: string;
}

interface OverlayAction {
  target: string;
  note: string;
  merge?: Json;
  replace?: unknown;
}

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

function decodePointer(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(into: Json, from: Json): Json {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    into[k] = isObj(cur) && isObj(v) ? deepMerge(cur, v) : v;
  }
  return into;
}

/** Applies the overlay in place; throws when a target's parent does not exist (a stale overlay). */
export function applyOverlay(spec: Json, actions: OverlayAction[]): void {
  for (const action of actions) {
    if (!action.note) throw new Error(`overlay action ${action.target} has no note`);
    const keys = decodePointer(action.target);
    const last = keys.pop();
    let node: unknown = spec;
    for (const k of keys) {
      if (!isObj(node) || !(k in node)) throw new Error(`overlay target ${action.target}: ${k} not found`);
      node = node[k];
    }
    if (!isObj(node) || last === undefined) throw new Error(`overlay target ${action.target} has no parent object`);
    if (action.replace !== undefined) node[last] = action.replace;
    else if (action.merge) node[last] = deepMerge(isObj(node[last]) ? (node[last] as Json) : {}, action.merge);
    else throw new Error(`overlay action ${action.target} neither merges nor replaces`);
  }
}

export function loadCorrectedSpec(): { spec: Json; actions: OverlayAction[] } {
  const spec = load(readFileSync(fixture('coolify-openapi.yaml'), 'utf8')) as Json;
  const overlay = load(readFileSync(fixture('coolify-openapi-overlay.yaml'), 'utf8')) as { actions: OverlayAction[] };
  applyOverlay(spec, overlay.actions);
  return { spec, actions: overlay.actions };
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export class ContractValidator {
  readonly #spec: Json;
  readonly #ajv: Ajv2020;
  readonly #compiled = new Map<string, ValidateFunction>();
  readonly #templates: { template: string; segments: string[] }[];

  constructor() {
    this.#spec = loadCorrectedSpec().spec;
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
    const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
    addFormats(this.#ajv);
    // OpenAPI documents are not JSON Schemas; only the fragments referenced below are compiled.
    this.#ajv.addSchema({ ...this.#spec, $id: 'openapi' });
    this.#templates = Object.keys(this.#spec.paths as Json).map((template) => ({ template, segments: template.split('/').filter(Boolean) }));
  }

  /** The spec path template for a concrete path; literal segments beat parameters. */
  template(path: string): string | undefined {
    const segs = path.split('/').filter(Boolean);
    let best: { template: string; score: number } | undefined;
    for (const t of this.#templates) {
      if (t.segments.length !== segs.length) continue;
      let score = 0;
      let ok = true;
      t.segments.forEach((s, i) => {
        if (s.startsWith('{')) return;
        if (s === segs[i]) score++;
        else ok = false;
      });
      if (ok && (!best || score > best.score)) best = { template: t.template, score };
    }
    return best?.template;
  }

  #validator(pointer: string): ValidateFunction {
    let v = this.#compiled.get(pointer);
    if (!v) {
      v = this.#ajv.compile({ $ref: `openapi#${pointer}` });
      this.#compiled.set(pointer, v);
    }
    return v;
  }

  #node(pointer: string): unknown {
    let node: unknown = this.#spec;
    for (const k of decodePointer(pointer)) node = isObj(node) ? node[k] : undefined;
    return node;
  }

  #check(pointer: string, value: unknown, what: string): string[] {
    const v = this.#validator(pointer);
    if (v(value)) return [];
    return (v.errors ?? []).map((e) => `${what}: ${e.instancePath || '(root)'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
  }

  /** Problems with one exchange; empty when request and response match the corrected spec. */
  validate(x: Exchange): string[] {
    const label = `${x.method} ${x.path} → ${x.status}`;
    const template = this.template(x.path);
    if (!template) return [`${label}: path not in the spec`];
    const method = x.method.toLowerCase();
    const opPointer = `/paths/${escape(template)}/${method}`;
    const op = this.#node(opPointer);
    if (!isObj(op)) return [`${label}: ${x.method} ${template} not in the spec`];
    const problems: string[] = [];

    const declared = new Set(
      ((op.parameters as Json[] | undefined) ?? []).filter((p) => p.in === 'query').map((p) => String(p.name)),
    );
    for (const key of x.query.keys()) if (!declared.has(key)) problems.push(`${label}: query parameter ${key} not declared`);

    const bodyPointer = `${opPointer}/requestBody/content/application~1json/schema`;
    if (x.requestBody !== undefined) {
      if (this.#node(bodyPointer) === undefined) problems.push(`${label}: sends a body the operation does not take`);
      else problems.push(...this.#check(bodyPointer, x.requestBody, `${label} request`));
    } else if (isObj(op.requestBody) && op.requestBody.required === true) {
      problems.push(`${label}: required request body missing`);
    }

    if (x.injected !== undefined) return problems;

    const responses = (op.responses ?? {}) as Json;
    const documented = responses[String(x.status)];
    if (x.status >= 200 && x.status < 300 && documented === undefined) {
      problems.push(`${label}: success status not documented`);
      return problems;
    }
    const responsePointer = documented === undefined ? undefined : `${opPointer}/responses/${x.status}`;
    const resolved = responsePointer ? this.#resolveResponse(responsePointer) : undefined;
    if (x.contentType.includes('json')) {
      const schemaPointer = resolved ? `${resolved}/content/application~1json/schema` : undefined;
      if (schemaPointer && this.#node(schemaPointer) !== undefined) {
        problems.push(...this.#check(schemaPointer, x.responseBody, `${label} response`));
      } else if (x.status >= 400) {
        problems.push(...this.#check('/components/schemas/CoolifyErrorBody', x.responseBody, `${label} error body`));
      }
    } else if (resolved && this.#node(`${resolved}/content/application~1json`) !== undefined && x.status < 300) {
      problems.push(`${label}: answered ${x.contentType || 'no content type'} where JSON is documented`);
    }
    return problems;
  }

  /** Follows a response-level `$ref` (e.g. `#/components/responses/404`). */
  #resolveResponse(pointer: string): string {
    const node = this.#node(pointer);
    if (isObj(node) && typeof node.$ref === 'string') return node.$ref.replace(/^#/, '');
    return pointer;
  }
}

/**
 * Spec path of a URL path: relative to /api/v1, where the spec's server URL ends. `/api/health`
 * is recorded as `/health`: it is the same unauthenticated `OtherController::healthcheck` route
 * (notes §1, §7), only outside the v1 prefix.
 */
function specPath(pathname: string): string {
  const marker = pathname.indexOf('/api/v1');
  if (marker >= 0) return pathname.slice(marker + '/api/v1'.length);
  if (pathname.endsWith('/api/health')) return '/health';
  return pathname;
}

/** A fetch that records every exchange with Coolify's API for later validation. */
export function recordingFetch(exchanges: Exchange[]): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const requestText = request.body ? await request.clone().text() : '';
    const response = await fetch(request);
    const url = new URL(request.url);
    const text = await response.clone().text();
    const contentType = response.headers.get('content-type') ?? '';
    let responseBody: unknown = text;
    if (contentType.includes('json')) {
      try {
        responseBody = JSON.parse(text);
      } catch {
        /* left as text: the client reports it */
      }
    }
    const injected = response.headers.get(FAULT_HEADER);
    exchanges.push({
      method: request.method,
      path: specPath(url.pathname),
      query: url.searchParams,
      requestBody: requestText === '' ? undefined : (JSON.parse(requestText) as unknown),
      status: response.status,
      contentType,
      responseBody,
      ...(injected === null ? {} : { injected }),
    });
    return response;
  };
}
