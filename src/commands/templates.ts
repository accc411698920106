/**
 * `cf-reconciler templates validate [dir]`: loads every template, renders each with its defaults
 * and sample values for a generous sample tenant and plan, runs the hardening, and prints every
 * problem. Exit code 0 when all templates pass, 1 otherwise.
 */
import type { Command } from 'commander';
import type { Plan, Stack, Tenant } from '../pocketbase/types.js';
import { decideStack } from '../templates/decide-stack.js';
import { loadTemplateCatalog, SAMPLE_CONTEXT, SAMPLE_ROUTER, sampleParamValue, type TemplateProblem } from '../templates/template-catalog.js';
import type { TemplateDefinition } from '../templates/template-definition.js';

export interface ValidateOutput {
  out(line: string): void;
  err(line: string): void;
}

function sampleInputs(template: TemplateDefinition): { tenant: Tenant; plan: Plan; stack: Stack } {
  const now = 0;
  const tenant: Tenant = {
    id: 'sampletenant001',
    name: 'Sample tenant',
    slug: SAMPLE_CONTEXT.tenantSlug,
    domain: SAMPLE_CONTEXT.tenantDomain,
    status: 'active',
    planId: 'sampleplan00001',
    routerApiKey: SAMPLE_ROUTER.apiKey,
    coolifyServerUuid: '',
    paused: false,
    coolifyProjectUuid: '',
    syncStatus: '',
    syncMessage: '',
    syncedAt: null,
    created: now,
    updated: now,
    problems: [],
  };
  const plan: Plan = {
    id: tenant.planId,
    name: 'sample',
    maxStacks: 1,
    cpuLimit: 64,
    memoryMb: 256 * 1024,
    allowedTemplates: [template.name],
    pidsLimit: 0,
    deleteRetentionDays: 0,
    created: now,
    updated: now,
    problems: [],
  };
  const params: Record<string, unknown> = {};
  for (const param of template.params) params[param.name] = sampleParamValue(param);
  const stack: Stack = {
    id: SAMPLE_CONTEXT.stackId,
    tenantId: tenant.id,
    name: SAMPLE_CONTEXT.stackName,
    template: template.name,
    params,
    domains: [],
    desiredStatus: 'running',
    paused: false,
    restartRequestedAt: null,
    status: '',
    statusMessage: '',
    coolifyServiceUuid: '',
    templateVersion: '',
    appliedHash: '',
    observedAt: null,
    deleteAfter: null,
    restartedAt: null,
    created: now,
    updated: now,
    problems: [],
  };
  return { tenant, plan, stack };
}

/** Returns the process exit code; prints through `io` so tests can run it in-process. */
export async function validateTemplates(dir: string, io: ValidateOutput): Promise<number> {
  const catalog = await loadTemplateCatalog(dir);
  const problems: TemplateProblem[] = [...catalog.problems];
  for (const name of catalog.names()) {
    const template = catalog.get(name);
    if (!template) continue;
    const { tenant, plan, stack } = sampleInputs(template);
    const decision = decideStack(catalog, {
      tenant,
      plan,
      stack,
      tenantStacks: [stack],
      hostOwners: new Map(),
      routerBaseUrl: SAMPLE_ROUTER.baseUrl,
    });
    if (decision.kind === 'error') {
      problems.push({
        template: name,
        file: `${name}/template.yaml`,
        message: `sample render failed (give required params a default or an example that matches their pattern): ${decision.message}`,
      });
    } else {
      io.out(`ok   ${name} ${template.version}: ${Object.keys(template.compose.services ?? {}).length} service(s), ${template.ingress.length} ingress`);
      for (const param of template.params.filter((p) => p.secret && !p.required)) {
        io.out(`     note: optional secret ${param.name}: a stack that leaves it empty gets no \${${param.name}} environment entries (Compose would fill them from the host)`);
      }
    }
  }
  for (const p of problems) io.err(`FAIL ${p.file}: ${p.message}`);
  if (problems.length > 0) {
    io.err(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${dir}`);
    return 1;
  }
  io.out(`all ${catalog.names().length} template(s) in ${dir} are valid`);
  return 0;
}

export function registerTemplatesCommand(program: Command): void {
  const templates = program.command('templates').description('work with stack templates');
  templates
    .command('validate')
    .description('load, render and harden every template; exit non-zero on any problem')
    .argument('[dir]', 'templates directory (default: TEMPLATES_DIR or ./templates)')
    .action(async (dir: string | undefined) => {
      const target = dir ?? process.env.TEMPLATES_DIR ?? './templates';
      const code = await validateTemplates(target, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
      process.exitCode = code;
    });
}
