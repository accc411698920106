#!/usr/bin/env node
/**
 * Command-line entry (`cf-reconciler`). Each subcommand lives in its own module; this file only
 * parses arguments and wires them. No I/O happens at import time anywhere under src/.
 */
import { Command } from 'commander';
import { registerCoolifySimCommand } from './commands/coolify-sim.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerPlanCommand } from './commands/plan.js';
import { registerRunCommand } from './commands/run.js';
import { registerTemplatesCommand } from './commands/templates.js';
import { packageVersion } from './version.js';

const program = new Command();
program
  .name('cf-reconciler')
  .description('Reconciles CloudFreedom tenants and stacks from PocketBase into Coolify')
  .version(packageVersion(), '--version', 'print the version')
  .showHelpAfterError();

registerRunCommand(program);
registerPlanCommand(program);
registerDemoCommand(program);
registerTemplatesCommand(program);
registerCoolifySimCommand(program);

await program.parseAsync(process.argv);
