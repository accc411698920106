/**
 * Loads every template under a directory. A broken template is left out of `get()` and reported
 * in `problems` (file and message); every other template stays usable.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import { checkComposePlaceholders } from './render-compose.js';
import { DEFAULT_PIDS_LIMIT, renderStack } from './render-stack.js';
import { parseTemplateManifest, type ParamValue, type TemplateDefinition, type TemplateManifest, type TemplateParam } from './template-definition.js';
import { isPlainObject, parseYaml } from './yaml-io.js';

export const MANIFEST_FILE = 'template.yaml';
export const COMPOSE_FILE = 'compose.yaml';

export interface TemplateProblem {
  /** Directory name of the template ('' when the problem is about the catalog directory). */
  template: string;
  /** Path of the file relative to the catalog directory (or the directory itself). */
  file: string;
  message: string;
}

export interface TemplateCatalog {
  readonly dir: string;
  get(name: string): TemplateDefinition | undefined;
  /** Names of the usable templates, sorted. */
  names(): string[];
  readonly problems: readonly TemplateProblem[];
}

/** Values used to render a template when no stack is at hand: load-time checks and `templates validate`. */
export const SAMPLE_CONTEXT = {
  tenantSlug: 'sample',
  tenantDomain: 'sample.example.com',
  stackName: 'sample',
  stackId: 'sample000000001',
} as const;

/** Router values used for sample renders; never a real key. */
export const SAMPLE_ROUTER = { baseUrl: 'https://router.example.com/v1', apiKey: 'sample-router-key' } as const;

/** A value of the right type for structural checks; it does not have to match the pattern. */
export function sampleParamValue(param: TemplateParam): ParamValue {
  if (param.default !== undefined) return param.default;
  if (param.example !== undefined) return param.example;
  return param.type === 'number' ? 1 : param.type === 'boolean' ? true : 'sample';
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !(value instanceof RegExp)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

async function readText(path: string): Promise<string | { error: string }> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: code === 'ENOENT' ? 'file is missing' : `cannot be read (${errorMessage(e)})` };
  }
}

function yamlProblem(e: unknown): string {
  const message = errorMessage(e).split('\n')[0] ?? 'invalid YAML';
  // `key: {{x}}` parses as a flow mapping, which js-yaml reports as a complex key.
  const hint = /complex keys|flow/.test(message) ? ' (a value that starts with {{ must be quoted)' : '';
  return `not valid YAML: ${message}${hint}`;
}

/**
 * Checks one template from its two file texts (or the read error for a missing file) and returns
 * the definition or the problems that keep it out.
 */
export function templateFromSources(
  name: string,
  manifestText: string | { error: string },
  composeText: string | { error: string },
): { template?: TemplateDefinition; problems: TemplateProblem[] } {
  const problems: TemplateProblem[] = [];
  const add = (file: string, message: string): void => {
    problems.push({ template: name, file: `${name}/${file}`, message });
  };

  let manifest: TemplateManifest | undefined;
  if (typeof manifestText !== 'string') add(MANIFEST_FILE, manifestText.error);
  else {
    try {
      const parsed = parseTemplateManifest(parseYaml(manifestText, MANIFEST_FILE), name);
      manifest = parsed.manifest;
      for (const message of parsed.problems) add(MANIFEST_FILE, message);
    } catch (e) {
      add(MANIFEST_FILE, yamlProblem(e));
    }
  }

  let compose: Record<string, unknown> | undefined;
  if (typeof composeText !== 'string') add(COMPOSE_FILE, composeText.error);
  else {
    try {
      const parsed = parseYaml(composeText, COMPOSE_FILE);
      if (isPlainObject(parsed)) compose = parsed;
      else add(COMPOSE_FILE, 'must be a mapping with a services section');
    } catch (e) {
      add(COMPOSE_FILE, yamlProblem(e));
    }
  }
  if (!manifest || !compose) return { problems };

  const placeholderProblems = checkComposePlaceholders(compose, manifest);
  for (const message of placeholderProblems) add(COMPOSE_FILE, message);
  if (placeholderProblems.length === 0) {
    // Render with sample values and a ceiling no real plan reaches, so only what the template
    // itself asks for can fail here.
    const params = new Map(manifest.params.map((p) => [p.name, sampleParamValue(p)]));
    const rendered = renderStack({
      template: { ...manifest, compose },
      context: SAMPLE_CONTEXT,
      params,
      ceiling: { cpus: 1024, memoryMb: 1024 * 1024, pids: DEFAULT_PIDS_LIMIT },
      router: SAMPLE_ROUTER,
      attribute: false,
    });
    for (const message of rendered.problems) add(COMPOSE_FILE, message);
  }
  if (problems.length > 0) return { problems };
  return { template: deepFreeze({ ...manifest, compose }), problems };
}

/** Loads one template directory. */
export async function loadTemplate(dir: string, name: string): Promise<{ template?: TemplateDefinition; problems: TemplateProblem[] }> {
  const [manifestText, composeText] = await Promise.all([readText(join(dir, name, MANIFEST_FILE)), readText(join(dir, name, COMPOSE_FILE))]);
  return templateFromSources(name, manifestText, composeText);
}

/** A catalog from already checked templates and problems (tests, tools). */
export function catalogOf(dir: string, templates: readonly TemplateDefinition[], problems: readonly TemplateProblem[] = []): TemplateCatalog {
  const byName = new Map(templates.map((t) => [t.name, t]));
  return {
    dir,
    get: (name) => byName.get(name),
    names: () => [...byName.keys()].sort(),
    problems,
  };
}

export async function loadTemplateCatalog(dir: string): Promise<TemplateCatalog> {
  const templates = new Map<string, TemplateDefinition>();
  const problems: TemplateProblem[] = [];
  let names: string[] = [];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch (e) {
    problems.push({ template: '', file: dir, message: `templates directory cannot be read (${errorMessage(e)})` });
  }
  for (const name of names) {
    const loaded = await loadTemplate(dir, name);
    problems.push(...loaded.problems);
    if (loaded.template) templates.set(name, loaded.template);
  }
  return catalogOf(dir, [...templates.values()], problems);
}
