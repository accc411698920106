/**
 * Every environment variable the daemon reads, in one place (SPEC §5). `loadConfig` is pure: it takes
 * an env object and returns a frozen Config or throws one ConfigError naming every bad variable.
 */
import type { LogFormat } from './logging/logger.js';
import { DEFAULT_HOST_TEMPLATE, hostTemplateProblem } from './templates/hosts.js';

export interface Config {
  pocketbase: { url: string; email: string; password: string };
  coolify: {
    url: string;
    token: string;
    serverUuid: string;
    destinationUuid: string | undefined;
    environment: string;
    rateLimitPerMinute: number;
  };
  reconcileConcurrency: number;
  resyncIntervalSeconds: number;
  statusPollSeconds: number;
  /** Each managed service's env vars are read once in this period, spread evenly (SPEC §5). */
  envCheckIntervalSeconds: number;
  deleteRetentionSeconds: number;
  eventsRetentionDays: number;
  routerBaseUrl: string;
  templatesDir: string;
  http: { host: string; port: number };
  logLevel: string;
  logFormat: LogFormat;
  /** Default public host of a stack's ingress entries (SPEC §4): `{stack}`, `{tenant}`, `{domain}`. */
  defaultHostTemplate: string;
  /** This daemon's name in the leader lease; undefined = hostname plus a random suffix. */
  leaseIdentity: string | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
  }
}

/** Names of every variable, for .env.example and the README; tests check both list them all. */
export const CONFIG_VARIABLES = [
  'POCKETBASE_URL',
  'POCKETBASE_SUPERUSER_EMAIL',
  'POCKETBASE_SUPERUSER_PASSWORD',
  'COOLIFY_URL',
  'COOLIFY_TOKEN',
  'COOLIFY_SERVER_UUID',
  'COOLIFY_DESTINATION_UUID',
  'COOLIFY_ENVIRONMENT',
  'COOLIFY_RATE_LIMIT_PER_MINUTE',
  'RECONCILE_CONCURRENCY',
  'RESYNC_INTERVAL_SECONDS',
  'STATUS_POLL_SECONDS',
  'ENV_CHECK_INTERVAL_SECONDS',
  'DELETE_RETENTION_SECONDS',
  'EVENTS_RETENTION_DAYS',
  'ROUTER_BASE_URL',
  'TEMPLATES_DIR',
  'HTTP_ADDR',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'DEFAULT_HOST_TEMPLATE',
  'LEASE_IDENTITY',
] as const;

const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'];

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const raw = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const required = (name: string): string => {
    const v = raw(name);
    if (v === undefined) problems.push(`${name} is required`);
    return v ?? '';
  };
  const url = (name: string, fallback?: string): string => {
    const v = fallback === undefined ? required(name) : (raw(name) ?? fallback);
    if (v === '') return v;
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    } catch {
      problems.push(`${name} must be an http(s) URL, got "${withoutCredentials(v)}"`);
    }
    return v.replace(/\/+$/, '');
  };
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = raw(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer between ${min} and ${max}, got "${v}"`);
      return fallback;
    }
    return n;
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const v = raw(name);
    if (v === undefined) return fallback;
    if (!allowed.includes(v as T)) {
      problems.push(`${name} must be one of ${allowed.join(', ')}, got "${v}"`);
      return fallback;
    }
    return v as T;
  };

  const pocketbase = {
    url: url('POCKETBASE_URL'),
    email: required('POCKETBASE_SUPERUSER_EMAIL'),
    password: required('POCKETBASE_SUPERUSER_PASSWORD'),
  };
  const environment = raw('COOLIFY_ENVIRONMENT') ?? 'production';
  // Coolify looks environments up by exact (lower-case) name and rejects names under 3 characters.
  if (!/^[a-z0-9][a-z0-9_.-]{2,}$/.test(environment)) {
    problems.push(`COOLIFY_ENVIRONMENT must be a lower-case Coolify environment name of 3+ characters, got "${environment}"`);
  }
  const coolify = {
    url: url('COOLIFY_URL'),
    token: required('COOLIFY_TOKEN'),
    serverUuid: required('COOLIFY_SERVER_UUID'),
    destinationUuid: raw('COOLIFY_DESTINATION_UUID'),
    environment,
    rateLimitPerMinute: int('COOLIFY_RATE_LIMIT_PER_MINUTE', 120, 1, 100000),
  };
  const httpAddr = raw('HTTP_ADDR') ?? '127.0.0.1:9464';
  const m = /^(.*):(\d{1,5})$/.exec(httpAddr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || port > 65535) problems.push(`HTTP_ADDR must be host:port, got "${httpAddr}"`);
  const host = (m?.[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');

  const defaultHostTemplate = raw('DEFAULT_HOST_TEMPLATE') ?? DEFAULT_HOST_TEMPLATE;
  const hostProblem = hostTemplateProblem(defaultHostTemplate);
  if (hostProblem) problems.push(`DEFAULT_HOST_TEMPLATE ${hostProblem}, got "${defaultHostTemplate}"`);

  const config: Config = {
    pocketbase,
    coolify,
    reconcileConcurrency: int('RECONCILE_CONCURRENCY', 4, 1, 64),
    resyncIntervalSeconds: int('RESYNC_INTERVAL_SECONDS', 300, 1),
    statusPollSeconds: int('STATUS_POLL_SECONDS', 15, 1),
    envCheckIntervalSeconds: int('ENV_CHECK_INTERVAL_SECONDS', 3600, 1),
    deleteRetentionSeconds: int('DELETE_RETENTION_SECONDS', 604800, 0),
    eventsRetentionDays: int('EVENTS_RETENTION_DAYS', 30, 1),
    routerBaseUrl: url('ROUTER_BASE_URL', 'https://router.cloudfreedom.de'),
    templatesDir: raw('TEMPLATES_DIR') ?? './templates',
    http: { host, port: Number.isFinite(port) ? port : 9464 },
    logLevel: oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    logFormat: oneOf<LogFormat>('LOG_FORMAT', 'json', ['json', 'text']),
    defaultHostTemplate,
    leaseIdentity: raw('LEASE_IDENTITY'),
  };
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** A URL may carry `user:password@`; a start-up error must not print it. */
function withoutCredentials(text: string): string {
  return text.replace(/\/\/[^/@\s]*@/, '//***@');
}
