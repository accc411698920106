/**
 * Paced env-var drift checks (SPEC §5 ENV_CHECK_INTERVAL_SECONDS). Listing a service's env vars
 * costs one Coolify call per service, so unlike the rest of drift detection it cannot ride on the
 * resync's constant list calls. Each managed service is checked once per period, the checks spread
 * evenly over it (one every period ÷ services), walking the services round robin; the spacing never
 * goes below window ÷ budget, so the checker never spends more than its share of the rate limit (a
 * quarter) and feed events and resync work keep the rest. When that share cannot cover every
 * service within the period, the period stretches (reported through `onPeriod`).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { CoolifyApi, CoolifyEnvVar } from '../coolify/types.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { EnvTarget } from './drift-plan.js';

export interface EnvCheckerOptions {
  coolify: CoolifyApi;
  clock: Clock;
  logger: Logger;
  /** Each target is checked once in this period (ms), spread evenly. */
  periodMs: number;
  /** Most calls per window this checker may spend; 0 disables it. */
  perWindow: number;
  /** The rate limiter's window (ms); default 60 000 (Coolify's limit is per minute). */
  windowMs?: number;
  /** Called with the stack id of a service whose env vars differ. */
  onDrift: (stackId: string) => void;
  /** Seconds a full rotation over the current targets takes. */
  onPeriod?: (seconds: number) => void;
}

/**
 * What an env check needs of a service's desired env vars, without their values: per key, a
 * digest of the value as Coolify compares it (trimmed: it trims values on set and on get, so a
 * value with a leading or trailing space, a router key pasted with a blank, would otherwise never
 * match and be "corrected", with a redeploy, on every check). Lines of `KEY=digest`; keys are
 * env var names, which hold neither `=` nor line breaks. About 40 bytes a key, so the checker
 * holds every service's target between resyncs instead of their values (secrets among them).
 */
export type EnvFingerprint = string;

function valueDigest(value: string): string {
  // 22 base64 characters: 132 bits, no padding.
  return createHash('sha256').update(value.trim()).digest('base64').slice(0, 22);
}

export function envFingerprint(env: readonly { key: string; value: string }[]): EnvFingerprint {
  return env.map((e) => `${e.key}=${valueDigest(e.value)}`).join('\n');
}

/** Which desired keys are missing or hold another value. Hidden values (null) cannot be compared. */
export function envDifferences(want: EnvFingerprint | readonly { key: string; value: string }[], have: CoolifyEnvVar[]): string[] {
  const print = typeof want === 'string' ? want : envFingerprint(want);
  if (print === '') return [];
  const byKey = new Map(have.map((e) => [e.key, e]));
  const differ: string[] = [];
  for (const line of print.split('\n')) {
    const at = line.lastIndexOf('=');
    const key = line.slice(0, at);
    const h = byKey.get(key);
    if (!h || (h.value !== null && valueDigest(h.value) !== line.slice(at + 1))) differ.push(key);
  }
  return differ;
}

export class EnvChecker {
  readonly #o: EnvCheckerOptions;
  /** Shortest spacing between two checks (ms): the budget's bound. */
  readonly #minSpacingMs: number;
  #targets: EnvTarget[] = [];
  #next = 0;
  #cancel: (() => void) | undefined;
  /** When the pending timer fires (epoch ms by the clock), if one is pending. */
  #dueAt: number | undefined;
  /**
   * When the last check ended (or the checker started), epoch ms. Spacing counts from the end, so
   * a check held back by the rate limiter never lets the next one follow it closely.
   */
  #lastAt = 0;
  #running: Promise<void> | undefined;
  #stopped = true;
  /**
   * service uuid → when a reconcile last read its env vars (epoch ms), kept for one period: such a
   * service was just compared (adoption reads every one) and its turn in the rotation is skipped.
   */
  readonly #readAt = new Map<string, number>();

  constructor(options: EnvCheckerOptions) {
    this.#o = options;
    this.#minSpacingMs = options.perWindow > 0 ? (options.windowMs ?? 60_000) / options.perWindow : Infinity;
  }

  /** Time between two checks (ms) for the current targets; Infinity when there is nothing to check. */
  get spacingMs(): number {
    if (this.#targets.length === 0 || !Number.isFinite(this.#minSpacingMs)) return Infinity;
    return Math.max(this.#o.periodMs / this.#targets.length, this.#minSpacingMs);
  }

  /** Replaces the rotation, keeping the position so a resync does not restart it from the top. */
  setTargets(targets: EnvTarget[]): void {
    const now = this.#o.clock.now();
    for (const [uuid, at] of this.#readAt) if (now - at >= this.#o.periodMs) this.#readAt.delete(uuid);
    const current = this.#targets[this.#next % Math.max(1, this.#targets.length)]?.stackId;
    // Compared by code unit, as the position lookup below is.
    this.#targets = [...targets].sort((a, b) => (a.stackId < b.stackId ? -1 : a.stackId > b.stackId ? 1 : 0));
    const at = current === undefined ? -1 : this.#targets.findIndex((t) => t.stackId >= current);
    this.#next = at < 0 ? 0 : at;
    const spacing = this.spacingMs;
    if (Number.isFinite(this.#minSpacingMs)) this.#o.onPeriod?.(Number.isFinite(spacing) ? (this.#targets.length * spacing) / 1000 : 0);
    // More services mean a shorter spacing: a timer set for the old, longer one is brought forward.
    if (!this.#stopped && !this.#running && (this.#dueAt === undefined || this.#dueAt > this.#lastAt + spacing)) this.#schedule();
  }

  get targets(): number {
    return this.#targets.length;
  }

  start(): void {
    if (!Number.isFinite(this.#minSpacingMs) || !this.#stopped) return;
    this.#stopped = false;
    this.#lastAt = this.#o.clock.now();
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    this.#dueAt = undefined;
    await this.#running;
  }

  /** Next check one spacing after the last one ended (never sooner than now). */
  #schedule(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#dueAt = undefined;
    const spacing = this.spacingMs;
    if (this.#stopped || !Number.isFinite(spacing)) return;
    const now = this.#o.clock.now();
    const at = Math.max(now, this.#lastAt + spacing);
    this.#dueAt = at;
    this.#cancel = this.#o.clock.schedule(() => {
      this.#dueAt = undefined;
      this.#cancel = undefined;
      this.#running = this.checkNext().then(() => undefined).finally(() => {
        this.#running = undefined;
        this.#lastAt = this.#o.clock.now();
        this.#schedule();
      });
    }, at - now);
  }

  /** Forgets the reads reconciles reported: every service's next turn costs a call again. */
  forgetReads(): void {
    this.#readAt.clear();
  }

  /** A reconcile read the env vars of service `uuid` (and compared them): its next check can wait. */
  noteRead(uuid: string): void {
    this.#readAt.set(uuid, this.#o.clock.now());
  }

  /**
   * Checks the next service in the rotation; returns the keys that differ (for tests). A service a
   * reconcile read within the period has its turn passed over without a call (the rotation keeps
   * its pace: each service still comes up once per period).
   */
  async checkNext(): Promise<string[]> {
    if (this.#targets.length === 0) return [];
    const target = this.#targets[this.#next % this.#targets.length];
    this.#next = (this.#next + 1) % this.#targets.length;
    if (!target) return [];
    const readAt = this.#readAt.get(target.serviceUuid);
    this.#readAt.delete(target.serviceUuid);
    if (readAt !== undefined && this.#o.clock.now() - readAt < this.#o.periodMs) return [];
    try {
      const diff = envDifferences(target.env, await this.#o.coolify.listServiceEnvs(target.serviceUuid));
      if (diff.length > 0) {
        this.#o.logger.info('env vars differ from the stack; re-applying', { subject: `stack:${target.stackId}`, keys: diff });
        this.#o.onDrift(target.stackId);
      }
      return diff;
    } catch (e) {
      this.#o.logger.debug('env check failed', { subject: `stack:${target.stackId}`, error: errorMessage(e) });
      return [];
    }
  }
}

/** `api` with every env read a reconcile makes reported to `note` (the env checker's `noteRead`). */
export function noteEnvReads(api: CoolifyApi, note: (uuid: string) => void): CoolifyApi {
  return {
    ...api,
    listServiceEnvs: async (uuid) => {
      const envs = await api.listServiceEnvs(uuid);
      note(uuid);
      return envs;
    },
  };
}
