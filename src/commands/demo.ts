import type { Command } from 'commander';
import { handleShutdownSignals } from '../daemon/signals.js';
import { startDemo } from '../demo/run-demo.js';
import { errorMessage } from '../errors.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run PocketBase, the Coolify simulator and the daemon locally with a sample stack')
    .option('--data-dir <dir>', 'keep PocketBase data in this directory (default: a temp dir removed on exit)')
    .option('--exit-after-converge', 'exit 0 once the sample stack is running (1 if it does not get there)')
    .option('--timeout <seconds>', 'with --exit-after-converge: how long to wait', '60')
    .option('--log-level <level>', 'daemon log level', 'info')
    .action(async (opts: { dataDir?: string; exitAfterConverge?: boolean; timeout: string; logLevel: string }) => {
      let demo;
      try {
        demo = await startDemo({ ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), logLevel: opts.logLevel });
      } catch (e) {
        process.stderr.write(`demo failed to start: ${errorMessage(e)}\n`);
        process.exit(1);
      }
      const running = demo;
      handleShutdownSignals({ stop: () => running.stop() });
      if (!opts.exitAfterConverge) return;
      let code = 0;
      try {
        await running.waitForRunning(Number(opts.timeout) * 1000);
        process.stdout.write('demo: the sample stack is running\n');
      } catch (e) {
        process.stderr.write(`demo: ${errorMessage(e)}\n`);
        code = 1;
      }
      await running.stop();
      process.exit(code);
    });
}
