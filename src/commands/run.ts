import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config.js';

/** Loads `.env` from the working directory when present; variables already set win. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the reconcile daemon until SIGTERM/SIGINT')
    .action(async () => {
      loadDotEnv();
      try {
        loadConfig(process.env);
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`cf-reconciler: ${e.message}\n`);
          process.exit(2);
        }
        throw e;
      }
      process.stderr.write('cf-reconciler: the reconcile engine is not built yet\n');
      process.exit(1);
    });
}
