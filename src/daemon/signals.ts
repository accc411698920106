/**
 * Two-stage shutdown on SIGTERM/SIGINT (SPEC §6):
 * - first signal: run `stop()` (which lets in-flight reconciles finish), then exit 0 (1 if stop failed);
 * - any further signal while stopping: exit 1 at once, for an operator who will not wait.
 *
 * The process and `exit` are injected so the behaviour is tested with a plain EventEmitter.
 */

/** The part of `process` this needs. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface ShutdownLog {
  info(message: string, meta?: Record<string, unknown>): unknown;
  error(message: string, meta?: Record<string, unknown>): unknown;
}

export interface ShutdownSignalOptions {
  /** Stops the daemon gracefully; resolves when in-flight work is done. */
  stop: () => Promise<void>;
  /** @default process */
  source?: SignalSource;
  /** @default process.exit */
  exit?: (code: number) => void;
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
  log?: ShutdownLog;
}

/** Installs the handlers; returns a function that removes them again. */
export function handleShutdownSignals(options: ShutdownSignalOptions): () => void {
  const source = options.source ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const log = options.log;
  let state: 'running' | 'stopping' | 'exited' = 'running';

  const finish = (code: number) => {
    if (state === 'exited') return;
    state = 'exited';
    exit(code);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (state === 'exited') return;
    if (state === 'stopping') {
      log?.error('second signal received, exiting without waiting', { signal });
      finish(1);
      return;
    }
    state = 'stopping';
    log?.info('shutdown requested, finishing in-flight reconciles', { signal });
    // Wrapped so a synchronous throw from stop() takes the same path as a rejection.
    Promise.resolve()
      .then(options.stop)
      .then(
        () => {
          log?.info('shutdown complete', {});
          finish(0);
        },
        (e: unknown) => {
          log?.error('shutdown failed', { error: e instanceof Error ? e.message : String(e) });
          finish(1);
        },
      );
  };

  for (const signal of signals) source.on(signal, onSignal);
  return () => {
    for (const signal of signals) source.off(signal, onSignal);
  };
}
