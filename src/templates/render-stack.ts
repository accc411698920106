/**
 * Render, harden and judge one template for one set of values: the compose and env vars the
 * daemon would send, the deployed form they would become (deployed-form.ts), and every problem in
 * words that name the param or setting responsible. Shared by the stack decision and the template
 * loader (which renders with sample values), so a template is judged exactly as a stack is.
 */
import type { StackEnvVar } from './types.js';
import { modelDeployment, type DeployedFinding } from './deployed-form.js';
import { hardenCompose } from './harden-compose.js';
import { placeholderValues, renderCompose, type PlaceholderContext, type PlaceholderValues, type RenderSources } from './render-compose.js';
import { ROUTER_API_KEY_VAR, ROUTER_BASE_URL_VAR, type ParamValue, type TemplateDefinition } from './template-definition.js';
import { isPlainObject, setOwn } from './yaml-io.js';

/** SPEC §2: a plan without `pids_limit` (empty or 0) gives each container this many processes. */
export const DEFAULT_PIDS_LIMIT = 512;

export function pidsLimitOf(plan: { pidsLimit: number }): number {
  return plan.pidsLimit > 0 ? plan.pidsLimit : DEFAULT_PIDS_LIMIT;
}

export interface RenderStackInput {
  template: TemplateDefinition;
  context: PlaceholderContext;
  /** Checked param values (defaults filled in). */
  params: ReadonlyMap<string, ParamValue>;
  ceiling: { cpus: number; memoryMb: number; pids: number };
  router: { baseUrl: string; apiKey: string };
  /**
   * Name the params whose values reached a finding (stack decisions). Off for the template's own
   * sample render, where a finding is about the template text.
   */
  attribute: boolean;
}

export interface RenderedStack {
  compose: Record<string, unknown>;
  /** Router variables and secret params, sorted by key. */
  env: StackEnvVar[];
  /** Hardening problems (`services.x.key: why`) followed by deployed-form findings, each naming its cause. */
  problems: string[];
}

function stackEnv(template: TemplateDefinition, params: ReadonlyMap<string, ParamValue>, router: { baseUrl: string; apiKey: string }): StackEnvVar[] {
  const env: StackEnvVar[] = [
    { key: ROUTER_BASE_URL_VAR, value: router.baseUrl, secret: false },
    { key: ROUTER_API_KEY_VAR, value: router.apiKey, secret: true },
  ];
  for (const param of template.params) {
    const value = params.get(param.name);
    if (param.secret && value !== undefined) env.push({ key: param.name, value: String(value), secret: true });
  }
  return env.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Placeholders rendered into the scalar a finding is about (labels: anywhere in that service's labels). */
function sourcesOf(path: string, sources: RenderSources): string[] {
  const labels = path.indexOf('.labels');
  const related = (p: string): boolean =>
    labels >= 0 ? p.startsWith(path.slice(0, labels + '.labels'.length)) : p === path || path.startsWith(`${p}.`) || path.startsWith(`${p}[`);
  const names = new Set<string>();
  for (const [p, list] of sources) if (related(p)) for (const n of list) names.add(n);
  return [...names];
}

/** The character a value needs to cause a finding of this kind. */
const TRIGGER: Partial<Record<DeployedFinding['kind'], string>> = {
  'shared-variable': '{',
  'magic-variable': '$',
  label: '$',
  'coolify-reference': '$',
  interpolation: '$',
};

/**
 * Who a finding is about: a param, the router key, placeholders of the tenant or stack, or '' (the
 * template). Of the placeholders rendered into the scalar, those whose value can cause this kind
 * of finding are named (all of them if none can on its own, e.g. a `{` meeting a `{`).
 */
function culprit(finding: DeployedFinding, sources: RenderSources, values: PlaceholderValues): string {
  if (finding.path.startsWith('env.')) {
    const key = finding.path.slice('env.'.length);
    if (key === ROUTER_API_KEY_VAR) return "the tenant's router_api_key";
    if (key === ROUTER_BASE_URL_VAR) return 'ROUTER_BASE_URL';
    return `param ${key}`;
  }
  const all = sourcesOf(finding.path, sources);
  const trigger = TRIGGER[finding.kind];
  const causing = trigger === undefined ? all : all.filter((n) => values.get(n)?.includes(trigger));
  const names = causing.length > 0 ? causing : all;
  const params = names.filter((n) => n.startsWith('params.')).map((n) => n.slice('params.'.length));
  const context = names.filter((n) => !n.startsWith('params.'));
  return [params.length > 0 ? `param${params.length > 1 ? 's' : ''} ${params.join(', ')}` : '', ...context].filter(Boolean).join(', ');
}

/**
 * Findings in words an admin can act on: one line per cause and reason, naming the param and
 * where its value lands, never quoting the value.
 */
function describeFindings(findings: readonly DeployedFinding[], sources: RenderSources, values: PlaceholderValues): string[] {
  const grouped = new Map<string, { who: string; reason: string; paths: string[] }>();
  for (const finding of findings) {
    const who = culprit(finding, sources, values);
    const key = `${who}\u0000${finding.reason}`;
    const group = grouped.get(key) ?? { who, reason: finding.reason, paths: [] };
    if (!group.paths.includes(finding.path)) group.paths.push(finding.path);
    grouped.set(key, group);
  }
  return [...grouped.values()].map(({ who, reason, paths }) => {
    if (who === '') return `${paths.join(', ')}: ${reason}`;
    return paths.every((p) => p.startsWith('env.')) ? `${who}: ${reason}` : `${who} (in ${paths.join(', ')}): ${reason}`;
  });
}

/**
 * An optional secret param left empty has no env var on the service, and Compose would fill its
 * `${NAME}` from the host's environment: its environment entries (`KEY: ${NAME}`, the only form a
 * secret may take) are left out, so the container simply lacks them. The one rewrite the policy
 * makes; templates/README.md and `templates validate` say so.
 */
function withoutUnsetSecrets(tree: unknown, unset: ReadonlySet<string>): unknown {
  if (unset.size === 0 || !isPlainObject(tree) || !isPlainObject(tree.services)) return tree;
  const isUnset = (value: unknown): boolean => typeof value === 'string' && /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.test(value) && unset.has(value.slice(2, -1));
  const services: Record<string, unknown> = {};
  for (const [name, service] of Object.entries(tree.services)) {
    if (!isPlainObject(service) || service.environment === undefined) {
      setOwn(services, name, service);
      continue;
    }
    const env = service.environment;
    const kept = Array.isArray(env)
      ? env.filter((e) => !(typeof e === 'string' && e.includes('=') && isUnset(e.slice(e.indexOf('=') + 1))))
      : isPlainObject(env)
        ? Object.fromEntries(Object.entries(env).filter(([, v]) => !isUnset(v)))
        : env;
    setOwn(services, name, { ...service, environment: kept });
  }
  return { ...tree, services };
}

export function renderStack(input: RenderStackInput): RenderedStack {
  const { template } = input;
  const values = placeholderValues(template, input.context, input.params);
  const unset = new Set(template.params.filter((p) => p.secret && input.params.get(p.name) === undefined).map((p) => p.name));
  const rendered = renderCompose(withoutUnsetSecrets(template.compose, unset), values);
  const hardened = hardenCompose(rendered.tree, {
    template,
    ceiling: input.ceiling,
    labels: { tenant: input.context.tenantSlug, stack: input.context.stackName, template: template.name },
  });
  const env = stackEnv(template, input.params, input.router);
  const deployed = modelDeployment(hardened.compose, env);
  // What harden refused is also a finding of the model (a bind is a host mount); say it once.
  const fresh = deployed.findings.filter((f) => !hardened.problems.some((p) => p.startsWith(`${f.path}:`) || p.startsWith(`${f.path}.`)));
  const problems = [...hardened.problems, ...describeFindings(fresh, input.attribute ? rendered.sources : new Map(), values)];
  return { compose: hardened.compose, env, problems };
}
