import type { Command } from 'commander';
import { systemClock } from '../clock.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { CoolifyClient } from '../coolify/client.js';
import { RateLimiter } from '../coolify/rate-limiter.js';
import { configPolicy } from '../engine/policy.js';
import { errorMessage } from '../errors.js';
import { silentLogger } from '../logging/logger.js';
import { Redactor } from '../logging/redactor.js';
import { connectPocketBase } from '../pocketbase/client.js';
import { PocketBaseStore } from '../pocketbase/store.js';
import { formatPlan } from '../plan/format.js';
import { runPlan } from '../plan/run-plan.js';
import { CoolifyAccessCheck } from '../startup/coolify-check.js';
import { checkTemplates } from '../startup/templates-check.js';
import { loadTemplateCatalog } from '../templates/index.js';
import { packageVersion } from '../version.js';
import { loadDotEnv } from './run.js';

/** terraform's -detailed-exitcode: 0 nothing to do, 2 changes pending, 1 error. */
export const PLAN_EXIT = { none: 0, error: 1, changes: 2 } as const;

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description('print what the daemon would do now, writing nothing (exit 0: nothing to do, 2: changes pending, 1: error)')
    .option('--json', 'one JSON document on stdout')
    .action(async (opts: { json?: boolean }) => {
      loadDotEnv();
      const redactor = new Redactor();
      let code: number;
      try {
        code = await plan(loadConfig(process.env), redactor, opts.json === true);
      } catch (e) {
        const message = e instanceof ConfigError ? e.message : redactor.redact(errorMessage(e));
        process.stderr.write(`cf-reconciler plan: ${message}\n`);
        code = PLAN_EXIT.error;
      }
      // Keep-alive sockets of the clients would hold the process open.
      process.exit(code);
    });
}

async function plan(config: Config, redactor: Redactor, json: boolean): Promise<number> {
  redactor.add(config.pocketbase.password, config.coolify.token);
  const clock = systemClock;
  const logger = silentLogger();
  const catalog = await loadTemplateCatalog(config.templatesDir);
  const templates = checkTemplates(catalog);
  if (templates.fatal) throw new Error(templates.fatal);
  if (templates.invalid) process.stderr.write(`cf-reconciler plan: warning: ${templates.invalid}\n`);

  // Every read goes through a limiter with the daemon's configured rate.
  const coolify = new CoolifyClient({
    baseUrl: config.coolify.url,
    token: config.coolify.token,
    limiter: new RateLimiter({ limit: config.coolify.rateLimitPerMinute, clock }),
    clock,
    logger,
  });
  const access = new CoolifyAccessCheck({
    coolify,
    serverUuid: config.coolify.serverUuid,
    destinationUuid: config.coolify.destinationUuid,
    clock,
    logger,
  });
  if (!(await access.verify())) {
    const failing = Object.values(access.readiness).map((check) => check()).find((r) => !r.ok);
    throw new Error(failing?.message ?? 'Coolify could not be verified');
  }

  // One sign-in attempt: plan reports PocketBase's state instead of waiting for it.
  const attempt = new AbortController();
  let cause: string | undefined;
  const pb = await connectPocketBase({
    url: config.pocketbase.url,
    email: config.pocketbase.email,
    password: config.pocketbase.password,
    redactor,
    logger,
    clock,
    signal: attempt.signal,
    userAgent: `cf-reconciler/${packageVersion()} (plan)`,
    onAttemptFailed: (c) => {
      cause = c.message;
      attempt.abort();
    },
  }).catch((e: unknown) => {
    throw new Error(cause ?? errorMessage(e));
  });
  const store = new PocketBaseStore({ pb, logger, clock, redactor });

  const result = await runPlan({ config, coolify, store, policy: configPolicy(catalog, config), clock, redactor });
  const version = packageVersion();
  if (json) {
    process.stdout.write(`${JSON.stringify({ version, ...result, at: new Date(result.at).toISOString() })}\n`);
  } else {
    process.stdout.write(formatPlan(result, `cf-reconciler ${version} plan at ${new Date(result.at).toISOString()} (nothing is written)`));
  }
  if (result.errors > 0) return PLAN_EXIT.error;
  return result.pending ? PLAN_EXIT.changes : PLAN_EXIT.none;
}
