/**
 * Placeholders in a template's compose tree, rendered with mustache.
 *
 * At template load every string scalar is parsed into mustache tokens; anything but text and
 * plain variables of the allowed names (`{{tenant.slug}}`, `{{params.NAME}}`, …) is refused, so
 * sections, partials, comments, unescaped tags and delimiter changes never reach a render. At
 * render each scalar is rendered on its own (a value can only ever become part of the scalar it
 * lands in), with mustache's HTML escaping off and every value Compose-escaped beforehand (`$`
 * doubled). It is a single pass: mustache does not render the values it inserts, so a value that
 * looks like a placeholder stays literal.
 *
 * `$` in the template text itself is judged here by name (which variables a template may
 * reference); where and in which form is judged on the deployed form (deployed-form.ts).
 */
import Mustache from 'mustache';
import { scanInterpolation } from './compose-interpolation.js';
import { GENERATED_VARIABLE, ROUTE_VARIABLE } from './deployed-form.js';
import { ROUTER_API_KEY_VAR, ROUTER_BASE_URL_VAR, type ParamValue, type TemplateManifest } from './template-definition.js';
import { isPlainObject, joinPath, setOwn } from './yaml-io.js';

const CONTEXT_PLACEHOLDERS = ['tenant.slug', 'tenant.domain', 'stack.name', 'stack.id'] as const;

/**
 * Service keys whose values may hold placeholders. Mounts, namespaces, networks, limits and
 * capabilities are never chosen by a tenant value.
 */
const PLACEHOLDER_KEYS = new Set(['image', 'command', 'entrypoint', 'environment', 'labels', 'healthcheck', 'working_dir', 'hostname']);

/** The values a render fills in: `tenant.slug` → text. Secret params are never among them. */
export type PlaceholderValues = ReadonlyMap<string, string>;

/** Where each rendered scalar's placeholders came from: compose path → placeholder names. */
export type RenderSources = Map<string, string[]>;

/** Where a scalar sits: may it hold placeholders, and is it a list-form environment entry? */
interface Position {
  placeholders: boolean;
  envListEntry: boolean;
}
type Visit = (value: string, path: string, position: Position) => void;

function walkStrings(node: unknown, path: string, position: Position, onString: Visit, onKey: (key: string, path: string) => void): void {
  if (typeof node === 'string') onString(node, path, position);
  else if (Array.isArray(node)) node.forEach((item, i) => walkStrings(item, joinPath(path, i), position, onString, onKey));
  else if (isPlainObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      onKey(key, joinPath(path, key));
      walkStrings(value, joinPath(path, key), { ...position, envListEntry: false }, onString, onKey);
    }
  }
}

/** Walks the compose with each scalar's position: only the keys above, in services, take placeholders. */
function walkCompose(compose: unknown, onString: Visit, onKey: (key: string, path: string) => void): void {
  const closed: Position = { placeholders: false, envListEntry: false };
  if (!isPlainObject(compose)) return walkStrings(compose, '', closed, onString, onKey);
  for (const [top, section] of Object.entries(compose)) {
    onKey(top, top);
    if (top !== 'services' || !isPlainObject(section)) {
      // x-* blocks hold anchors; they are merged into services (and checked there), then dropped.
      walkStrings(section, top, { placeholders: top.startsWith('x-'), envListEntry: false }, onString, onKey);
      continue;
    }
    for (const [name, service] of Object.entries(section)) {
      const at = joinPath(top, name);
      onKey(name, at);
      if (!isPlainObject(service)) {
        walkStrings(service, at, closed, onString, onKey);
        continue;
      }
      for (const [key, value] of Object.entries(service)) {
        onKey(key, joinPath(at, key));
        const placeholders = PLACEHOLDER_KEYS.has(key);
        if (key === 'environment' && Array.isArray(value)) {
          value.forEach((item, i) => walkStrings(item, joinPath(joinPath(at, key), i), { placeholders, envListEntry: true }, onString, onKey));
        } else walkStrings(value, joinPath(at, key), { placeholders, envListEntry: false }, onString, onKey);
      }
    }
  }
}

interface ParsedScalar {
  /** Plain variable names in order. */
  names: string[];
  /** Index of the first variable tag, or -1. */
  firstTag: number;
  /** Raw text of every tag that is not a plain variable. */
  refused: string[];
}

function parseScalar(text: string): ParsedScalar {
  const out: ParsedScalar = { names: [], firstTag: -1, refused: [] };
  let spans: Mustache.TemplateSpans;
  try {
    spans = Mustache.parse(text);
  } catch {
    // Unclosed or unopened tags: show where the first `{{` starts.
    const at = text.indexOf('{{');
    out.refused.push(text.slice(Math.max(0, at), Math.max(0, at) + 24));
    return out;
  }
  for (const span of spans) {
    const [type, value, start, end] = span;
    if (type === 'text') continue;
    if (type === 'name') {
      out.names.push(value);
      if (out.firstTag < 0) out.firstTag = start;
    } else out.refused.push(text.slice(start, end));
  }
  return out;
}

/** Every problem names its path in the compose file, e.g. `services.bot.environment.NAME`. */
export function checkComposePlaceholders(compose: unknown, manifest: TemplateManifest): string[] {
  const problems: string[] = [];
  const params = new Map(manifest.params.map((p) => [p.name, p]));
  const known = new Set<string>(CONTEXT_PLACEHOLDERS);
  const referencedSecrets = new Set<string>();

  const onKey = (key: string, path: string): void => {
    if (key.includes('{{') || key.includes('}}')) problems.push(`${path}: placeholders are not allowed in mapping keys`);
    else if (key === '[object Object]') problems.push(`${path}: mapping keys must be plain strings`);
    // js-yaml reads a quoted "<<" as a plain key; Coolify's Symfony YAML merges it.
    else if (key === '<<') problems.push(`${path}: a quoted '<<' key is a merge key for Coolify's YAML parser; merge with an unquoted <<: *anchor`);
  };
  const onString: Visit = (text, path, position) => {
    const scan = parseScalar(text);
    for (const bad of scan.refused) problems.push(`${path}: malformed placeholder '${bad}' (only {{tenant.…}}, {{stack.…}} and {{params.NAME}} variables)`);
    for (const name of scan.names) {
      if (known.has(name)) continue;
      const param = name.startsWith('params.') ? params.get(name.slice('params.'.length)) : undefined;
      if (!param) problems.push(`${path}: unknown placeholder {{${name}}}`);
      else if (param.secret) {
        problems.push(`${path}: secret param ${param.name} cannot be a placeholder; reference it as \${${param.name}}`);
      }
    }
    if (scan.names.length > 0) {
      if (!position.placeholders) {
        problems.push(`${path}: placeholders are allowed only in ${[...PLACEHOLDER_KEYS].join(', ')} (a tenant value must not choose mounts, namespaces or limits)`);
      } else if (position.envListEntry && (text.indexOf('=') < 0 || scan.firstTag < text.indexOf('='))) {
        problems.push(`${path}: a placeholder in a list-form environment entry must come after KEY=`);
      }
    }
    for (const token of scanInterpolation(text)) {
      if (token.kind === 'escaped') continue;
      if (token.kind === 'malformed') {
        problems.push(`${path}: malformed variable reference '${token.text}'`);
        continue;
      }
      const name = token.name;
      const param = params.get(name);
      if (name === ROUTER_BASE_URL_VAR || name === ROUTER_API_KEY_VAR || GENERATED_VARIABLE.test(name)) continue;
      if (param?.secret) referencedSecrets.add(name);
      else if (param) problems.push(`${path}: \${${name}} is not set on the service; use {{params.${name}}} for a non-secret param`);
      else if (ROUTE_VARIABLE.test(name)) problems.push(`${path}: \${${name}} would make Coolify generate a public URL; use ingress instead`);
      else problems.push(`${path}: \${${name}} is not a secret param, a router variable or a Coolify SERVICE_ variable it generates`);
    }
  };
  walkCompose(compose, onString, onKey);
  for (const param of manifest.params) {
    if (param.secret && !referencedSecrets.has(param.name)) {
      problems.push(`params.${param.name}: secret param is never referenced as \${${param.name}} in compose.yaml`);
    }
  }
  return problems;
}

/**
 * Compose interpolates `$` in every value; a value must reach the container as written, so each
 * `$` is doubled (Compose reads `$$` as a literal `$`).
 */
function escapeForCompose(value: string): string {
  return value.replace(/\$/g, '$$$$');
}

export interface PlaceholderContext {
  tenantSlug: string;
  tenantDomain: string;
  stackName: string;
  stackId: string;
}

/** Placeholder name → text, for every context value and non-secret param of the template. */
export function placeholderValues(manifest: TemplateManifest, context: PlaceholderContext, params: ReadonlyMap<string, ParamValue>): Map<string, string> {
  const values = new Map<string, string>([
    ['tenant.slug', context.tenantSlug],
    ['tenant.domain', context.tenantDomain],
    ['stack.name', context.stackName],
    ['stack.id', context.stackId],
  ]);
  for (const param of manifest.params) {
    if (param.secret) continue;
    const value = params.get(param.name);
    values.set(`params.${param.name}`, value === undefined ? '' : String(value));
  }
  return values;
}

/** The mustache view: nested objects without prototypes, each value already Compose-escaped. */
function viewOf(values: PlaceholderValues): Record<string, unknown> {
  const view = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of values) {
    const dot = name.indexOf('.');
    const scope = name.slice(0, dot);
    let inner = view[scope] as Record<string, unknown> | undefined;
    if (!inner) {
      inner = Object.create(null) as Record<string, unknown>;
      setOwn(view, scope, inner);
    }
    setOwn(inner, name.slice(dot + 1), escapeForCompose(value));
  }
  return view;
}

const NO_ESCAPE = { escape: (value: unknown): string => String(value) };

/**
 * Returns a fresh tree (the template's compose is not modified) and, for every scalar that held
 * placeholders, which ones. Callers have already refused every scalar `checkComposePlaceholders`
 * refuses.
 */
export function renderCompose(node: unknown, values: PlaceholderValues): { tree: unknown; sources: RenderSources } {
  const sources: RenderSources = new Map();
  const view = viewOf(values);
  const render = (n: unknown, path: string): unknown => {
    if (typeof n === 'string') {
      if (!n.includes('{{')) return n;
      const names = parseScalar(n).names;
      if (names.length > 0) sources.set(path, names);
      return Mustache.render(n, view, undefined, NO_ESCAPE);
    }
    if (Array.isArray(n)) return n.map((item, i) => render(item, joinPath(path, i)));
    if (isPlainObject(n)) {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(n)) setOwn(out, key, render(value, joinPath(path, key)));
      return out;
    }
    return n;
  };
  return { tree: render(node, ''), sources };
}
