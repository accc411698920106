import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config.js';
import { handleShutdownSignals } from '../daemon/signals.js';
import { startDaemon } from '../engine/daemon.js';
import { errorMessage } from '../errors.js';
import { Redactor } from '../logging/redactor.js';

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
      let config;
      try {
        config = loadConfig(process.env);
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`cf-reconciler: ${e.message}\n`);
          process.exit(2);
        }
        throw e;
      }
      // Signals are handled from the start: a SIGTERM while PocketBase is still being waited for
      // must not be lost. Until the daemon exists, stopping means exiting.
      let stop: () => Promise<void> = () => Promise.resolve();
      handleShutdownSignals({ stop: () => stop() });
      const redactor = new Redactor();
      try {
        const daemon = await startDaemon({ config, deps: { redactor } });
        stop = () => daemon.stop();
        daemon.logger.info('cf-reconciler running', { metrics: daemon.url, role: daemon.role() });
        // A daemon that lost its lease has stopped itself; exit non-zero so the supervisor starts a
        // fresh one (which waits as a standby).
        void daemon.done.then(() => {
          const why = daemon.lostLease();
          if (why === undefined) return;
          process.stderr.write(`cf-reconciler: lost the lease (${why}); exiting\n`);
          process.exit(1);
        });
      } catch (e) {
        process.stderr.write(`cf-reconciler: failed to start: ${redactor.redact(errorMessage(e))}\n`);
        process.exit(1);
      }
    });
}
