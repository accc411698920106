/**
 * Checks a template's compose tree for placeholder and variable misuse, and renders it: a deep
 * copy in which placeholders inside string scalars are replaced. Mapping keys are copied as they
 * are (a key holding a placeholder is a template error, found by `checkComposePlaceholders`).
 */
import { ROUTER_API_KEY_VAR, ROUTER_BASE_URL_VAR, type TemplateManifest } from './template-definition.js';
import { CONTEXT_PLACEHOLDERS, scanPlaceholders, scanVariables, substitutePlaceholders } from './placeholders.js';
import { isPlainObject, setOwn } from './yaml-io.js';

type Visit = (value: string, path: string) => void;

function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function walkStrings(node: unknown, path: string, onString: Visit, onKey: Visit): void {
  if (typeof node === 'string') onString(node, path);
  else if (Array.isArray(node)) node.forEach((item, i) => walkStrings(item, joinPath(path, i), onString, onKey));
  else if (isPlainObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      onKey(key, joinPath(path, key));
      walkStrings(value, joinPath(path, key), onString, onKey);
    }
  }
}

/** Coolify turns these into generated public URLs outside the tenant's domain. */
const COOLIFY_URL_VARIABLE = /^SERVICE_(FQDN|URL)_/;

/** Every problem names its path in the compose file, e.g. `services.bot.environment.NAME`. */
export function checkComposePlaceholders(compose: unknown, manifest: TemplateManifest): string[] {
  const problems: string[] = [];
  const params = new Map(manifest.params.map((p) => [p.name, p]));
  const known = new Set<string>(CONTEXT_PLACEHOLDERS);
  const referencedSecrets = new Set<string>();

  const onKey: Visit = (key, path) => {
    if (key.includes('{{') || key.includes('}}')) problems.push(`${path}: placeholders are not allowed in mapping keys`);
    else if (key === '[object Object]') problems.push(`${path}: mapping keys must be plain strings`);
  };
  const onString: Visit = (text, path) => {
    const scan = scanPlaceholders(text);
    for (const bad of scan.malformed) problems.push(`${path}: malformed placeholder '${bad}'`);
    for (const name of scan.names) {
      if (known.has(name)) continue;
      const param = params.get(name.slice('params.'.length));
      if (!param) problems.push(`${path}: unknown placeholder {{${name}}}`);
      else if (param.secret) {
        problems.push(`${path}: secret param ${param.name} cannot be a placeholder; reference it as \${${param.name}}`);
      }
    }
    const vars = scanVariables(text);
    for (const bad of vars.malformed) problems.push(`${path}: malformed variable reference '${bad}'`);
    for (const name of vars.names) {
      const param = params.get(name);
      if (name === ROUTER_BASE_URL_VAR || name === ROUTER_API_KEY_VAR) continue;
      if (param?.secret) referencedSecrets.add(name);
      else if (param) problems.push(`${path}: \${${name}} is not set on the service; use {{params.${name}}} for a non-secret param`);
      else if (COOLIFY_URL_VARIABLE.test(name)) {
        problems.push(`${path}: \${${name}} would make Coolify generate a public URL; use ingress instead`);
      } else if (!name.startsWith('SERVICE_')) {
        problems.push(`${path}: \${${name}} is not a secret param, a router variable or a Coolify SERVICE_ variable`);
      }
    }
  };
  walkStrings(compose, '', onString, onKey);
  for (const param of manifest.params) {
    if (param.secret && !referencedSecrets.has(param.name)) {
      problems.push(`params.${param.name}: secret param is never referenced as \${${param.name}} in compose.yaml`);
    }
  }
  return problems;
}

/** Returns a fresh tree; the template's compose is not modified. */
export function renderCompose(node: unknown, values: ReadonlyMap<string, string>): unknown {
  if (typeof node === 'string') return substitutePlaceholders(node, values);
  if (Array.isArray(node)) return node.map((item) => renderCompose(item, values));
  if (isPlainObject(node)) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) setOwn(out, key, renderCompose(value, values));
    return out;
  }
  return node;
}
