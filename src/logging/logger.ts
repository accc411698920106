import winston from 'winston';
import { Redactor } from './redactor.js';

export type LogFormat = 'json' | 'text';
export type Logger = winston.Logger;

export interface LoggerOptions {
  level?: string;
  format?: LogFormat;
  redactor: Redactor;
  /** Defaults to one Console transport writing to stderr-free stdout. Tests pass their own. */
  transports?: winston.transport[];
}

/** Symbol keys winston keeps on info objects; they must survive redaction untouched. */
const KEPT = [Symbol.for('level'), Symbol.for('message'), Symbol.for('splat')];

/**
 * Redaction runs as a format, where logs are written, so no call site can forget it:
 * message, metadata and errors are deep-copied with secrets masked.
 */
function redactFormat(redactor: Redactor): winston.Logform.Format {
  return winston.format((info) => {
    const copy = redactor.redactValue({ ...info }) as winston.Logform.TransformableInfo;
    for (const sym of KEPT) {
      const v = (info as unknown as Record<symbol, unknown>)[sym];
      if (v !== undefined) (copy as unknown as Record<symbol, unknown>)[sym] = v;
    }
    return copy;
  })();
}

export function createLogger(options: LoggerOptions): Logger {
  const { redactor } = options;
  // Winston runs the logger's formats before its transports drop a level they do not write: a
  // debug line at LOG_LEVEL=info was redacted and serialised for nothing (one per Coolify request).
  // Dropped first instead, by the same test the transports make.
  const levels = { enabled: (_level: string): boolean => true };
  const enabledOnly = winston.format((info) => (levels.enabled(info.level) ? info : false));
  // errors() first so a logged Error is flattened into message/stack before it is redacted.
  const base = [enabledOnly(), winston.format.errors({ stack: true }), redactFormat(redactor), winston.format.timestamp()];
  const format =
    options.format === 'text'
      ? winston.format.combine(
          ...base,
          winston.format.printf((info) => {
            const { level, message, timestamp, ...rest } = info;
            const meta = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
            return `${String(timestamp)} ${level} ${String(message)}${meta}`;
          }),
        )
      : winston.format.combine(...base, winston.format.json());
  const logger = winston.createLogger({
    level: options.level ?? 'info',
    format,
    transports: options.transports ?? [new winston.transports.Console()],
  });
  levels.enabled = (level) => logger.isLevelEnabled(level);
  return logger;
}

/** A logger that drops everything: for tests and tools that do not want daemon logs. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
