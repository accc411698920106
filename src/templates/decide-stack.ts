/**
 * The validation gate between a stack record and Coolify (SPEC §3 "Validation", §4): either the
 * exact compose, env and urls to apply, or one message an admin can act on. Pure: no I/O, no
 * clock. Secret values (router key, secret params) only ever travel in `env`; messages name
 * params but never quote values.
 */
import { createHash } from 'node:crypto';
import type { Stack } from '../pocketbase/types.js';
import type { CoolifyUrl } from '../coolify/types.js';
import type { StackDecision, StackDecisionInput } from './types.js';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { DEFAULT_HOST_TEMPLATE, isHostname, isWithinDomain, requestedHosts, tenantDomain } from './hosts.js';
import { pidsLimitOf, renderStack } from './render-stack.js';
import { resolveParams } from './resolve-params.js';
import type { TemplateDefinition } from './template-definition.js';
import type { TemplateCatalog } from './template-catalog.js';
import { isPlainObject, printYaml } from './yaml-io.js';

function invalid(message: string): StackDecision {
  return { kind: 'error', message };
}

/** Record text shown in a message: quoted, escaped, and cut short. */
function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function byAge(a: Stack, b: Stack): number {
  return a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The stack's place among its tenant's live stacks by age (0 = oldest) and how many there are;
 * undefined for a stack asked to be deleted (it counts against no quota).
 */
function quotaPlace(input: StackDecisionInput): { position: number; live: number } | undefined {
  const { stack } = input;
  if (stack.desiredStatus === 'deleted') return undefined;
  let position = 0;
  let live = 1;
  for (const s of input.tenantStacks) {
    if (s.id === stack.id || s.desiredStatus === 'deleted') continue;
    live++;
    if (byAge(s, stack) < 0) position++;
  }
  return { position, live };
}

/** Position-based quota: the oldest `maxStacks` live stacks keep their place whatever is added later. */
function quotaProblem(input: StackDecisionInput): string | undefined {
  const { plan } = input;
  const place = quotaPlace(input);
  if (!place || place.position < plan.maxStacks) return undefined;
  return `over the plan's max_stacks: plan ${plan.name} allows ${plan.maxStacks} stack${plan.maxStacks === 1 ? '' : 's'} and this is number ${place.position + 1} of ${place.live} by age`;
}

/**
 * Hosts named in `domains` must be under the tenant's domain; default hosts (DEFAULT_HOST_TEMPLATE)
 * are the stack's by construction, so only their form and an older stack's claim are checked.
 */
function hostProblems(template: TemplateDefinition, input: StackDecisionInput, hostTemplate: string): { hosts: string[]; problems: string[] } {
  const { tenant, stack, hostOwners } = input;
  const problems: string[] = [];
  const domain = tenantDomain(tenant);
  const ingressCount = template.ingress.length;
  if (domain === undefined) {
    const needsDomain = stack.domains.length > 0 || (ingressCount > 0 && hostTemplate.includes('{domain}'));
    if (tenant.domain.trim() !== '' && needsDomain) {
      problems.push(`tenant domain ${shown(tenant.domain)} is not a valid host name`);
    } else if (stack.domains.length > 0) {
      problems.push('the tenant has no domain, so this stack cannot have domains');
    }
    if (problems.length > 0) return { hosts: [], problems };
  }
  if (stack.domains.length > ingressCount) {
    problems.push(`${stack.domains.length} domains given but template ${template.name} has ${ingressCount} ingress entr${ingressCount === 1 ? 'y' : 'ies'}`);
  }
  const hosts = requestedHosts(template, tenant, stack, hostTemplate).slice(0, ingressCount);
  const seen = new Set<string>();
  hosts.forEach((host, i) => {
    const isDefault = i >= stack.domains.length;
    if (!isHostname(host)) {
      problems.push(
        isDefault
          ? `default host ${shown(host)} is not a valid host name; set domains explicitly`
          : `domain ${shown(String(stack.domains[i]))} is not a valid host name`,
      );
    } else if (!isDefault && (domain === undefined || !isWithinDomain(host, domain))) {
      problems.push(`domain ${host} is outside the tenant's domain ${domain ?? ''}`);
    } else if (seen.has(host)) {
      problems.push(`domain ${host} is listed twice`);
    } else {
      const owner = hostOwners.get(host);
      if (owner !== undefined && owner !== stack.id) problems.push(`domain ${host} is already used by stack ${owner}`);
    }
    seen.add(host);
  });
  return { hosts, problems };
}

function urlsFor(template: TemplateDefinition, hosts: readonly string[]): CoolifyUrl[] {
  const byService = new Map<string, string[]>();
  template.ingress.forEach((entry, i) => {
    const list = byService.get(entry.service) ?? [];
    const host = hosts[i];
    if (host !== undefined) list.push(`https://${host}:${entry.port}`);
    byService.set(entry.service, list);
  });
  // A null url clears a host Coolify may still hold from an earlier apply.
  return [...byService].map(([name, list]) => ({ name, url: list.length > 0 ? list.join(',') : null }));
}

export function decideStack(catalog: TemplateCatalog, input: StackDecisionInput, hostTemplate: string = DEFAULT_HOST_TEMPLATE): StackDecision {
  const { tenant, plan, stack } = input;
  if (stack.problems.length > 0) return invalid(`the stack record is malformed: ${stack.problems.join('; ')}`);
  // The record mapper should already have flagged these; a decision must not throw on them.
  if (!isPlainObject(stack.params)) return invalid('the stack record is malformed: params must be a JSON object');
  if (!Array.isArray(stack.domains)) return invalid('the stack record is malformed: domains must be a JSON array of host names');
  if (tenant.problems.length > 0) return invalid(`the tenant record is malformed: ${tenant.problems.join('; ')}`);
  if (plan.problems.length > 0) return invalid(`plan ${plan.name} is malformed: ${plan.problems.join('; ')}`);

  const template = catalog.get(stack.template);
  if (!template) {
    if (catalog.problems.some((p) => p.template === stack.template)) {
      return invalid(`template ${shown(stack.template)} is broken; run \`cf-reconciler templates validate\` for details`);
    }
    const available = catalog.names().join(', ') || 'none';
    return invalid(`unknown template ${shown(stack.template)} (available: ${available})`);
  }

  const problems: string[] = [];
  if (!plan.allowedTemplates.includes(template.name)) {
    problems.push(`template ${template.name} is not allowed by plan ${plan.name} (allowed: ${plan.allowedTemplates.join(', ') || 'none'})`);
  }
  const params = resolveParams(template, stack.params);
  problems.push(...params.problems);
  const hosts = hostProblems(template, input, hostTemplate);
  problems.push(...hosts.problems);
  const quota = quotaProblem(input);
  if (quota) problems.push(quota);
  if (problems.length > 0) return invalid(problems.join('; '));

  const domain = tenantDomain(tenant) ?? '';
  const rendered = renderStack({
    template,
    context: { tenantSlug: tenant.slug, tenantDomain: domain, stackName: stack.name, stackId: stack.id },
    params: params.values,
    ceiling: { cpus: plan.cpuLimit, memoryMb: plan.memoryMb, pids: pidsLimitOf(plan) },
    router: { baseUrl: input.routerBaseUrl, apiKey: tenant.routerApiKey },
    attribute: true,
  });
  // The template itself passed the same judgement at load, so what is left comes from this
  // stack's values (params, tenant, plan) and each message names which.
  if (rendered.problems.length > 0) return invalid(`the rendered compose is refused: ${rendered.problems.join('; ')}`);

  const { env } = rendered;
  const urls = urlsFor(template, hosts.hosts);
  const hash = sha256Hex(canonicalJson({ compose: rendered.compose, env: env.map((e) => [e.key, e.value]), urls }));
  return {
    kind: 'apply',
    templateName: template.name,
    templateVersion: template.version,
    composeYaml: printYaml(rendered.compose),
    env,
    urls,
    hosts: hosts.hosts,
    hash,
  };
}

/** A number per object (a template definition), so a reloaded template never matches its predecessor. */
const serials = new WeakMap<object, number>();
let lastSerial = 0;
function serialOf(o: object): number {
  let n = serials.get(o);
  if (n === undefined) serials.set(o, (n = ++lastSerial));
  return n;
}

/**
 * A digest of everything `decideStack` reads for this input: equal digests, equal decisions. A
 * memo keyed by it (src/engine/decision-cache.ts) can therefore never serve a stale decision, as
 * long as this stays in step with `decideStack`: whatever it reads (a record field, a template,
 * a host's owner, a setting) must be named here. It costs no render and no YAML. Secrets only go
 * into the hash, never into the result.
 */
export function decisionInputsDigest(catalog: TemplateCatalog, input: StackDecisionInput, hostTemplate: string = DEFAULT_HOST_TEMPLATE): string {
  const { tenant, plan, stack } = input;
  const template = catalog.get(stack.template);
  // Only for a stack the decision gets as far as judging hosts for: requestedHosts needs a list.
  const hosts = template && Array.isArray(stack.domains) ? requestedHosts(template, tenant, stack, hostTemplate).slice(0, template.ingress.length) : [];
  const place = quotaPlace(input);
  const inputs = [
    hostTemplate,
    input.routerBaseUrl,
    [stack.id, stack.name, stack.template, stack.params, stack.domains, stack.problems, stack.desiredStatus],
    // Of the tenant and plan only what the decision reads (not status, retention or daemon fields).
    [tenant.problems, tenant.domain, tenant.slug, tenant.routerApiKey],
    [plan.problems, plan.name, plan.maxStacks, plan.cpuLimit, plan.memoryMb, plan.pidsLimit, plan.allowedTemplates],
    place ? [place.position, place.live] : null,
    // The owner of each host the stack asks for (an older stack's claim makes it invalid).
    hosts.map((h) => input.hostOwners.get(h) ?? null),
    template
      ? [template.name, template.version, serialOf(template)]
      : [catalog.names(), catalog.problems.some((p) => p.template === stack.template)],
  ];
  // 22 base64 characters (132 bits): kept per stack, compared only with the same stack's last key.
  return createHash('sha256').update(JSON.stringify(inputs)).digest('base64').slice(0, 22);
}
