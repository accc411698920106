/**
 * Budgeted env-var drift checks. Listing a service's env vars costs one Coolify call per service,
 * so unlike the rest of drift detection it cannot ride on the resync's constant list calls. The
 * checker spends a fixed share of the rate limit (calls per minute), walking the services round
 * robin, so every service is checked within a bounded period (targets × interval) while feed
 * events and resync work keep the rest of the budget.
 */
import type { Clock } from '../clock.js';
import type { CoolifyApi, CoolifyEnvVar } from '../coolify/types.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { EnvTarget } from './drift-plan.js';

export interface EnvCheckerOptions {
  coolify: CoolifyApi;
  clock: Clock;
  logger: Logger;
  /** Calls per window this checker may spend; 0 disables it. */
  perWindow: number;
  /** The rate limiter's window (ms); default 60 000 (Coolify's limit is per minute). */
  windowMs?: number;
  /** Called with the stack id of a service whose env vars differ. */
  onDrift: (stackId: string) => void;
  /** Seconds a full rotation over the current targets takes. */
  onPeriod?: (seconds: number) => void;
}

/** Which desired keys are missing or hold another value. Hidden values (null) cannot be compared. */
export function envDifferences(want: { key: string; value: string }[], have: CoolifyEnvVar[]): string[] {
  const byKey = new Map(have.map((e) => [e.key, e]));
  return want
    .filter((w) => {
      const h = byKey.get(w.key);
      return !h || (h.value !== null && h.value !== w.value);
    })
    .map((w) => w.key);
}

export class EnvChecker {
  readonly #o: EnvCheckerOptions;
  readonly #intervalMs: number;
  #targets: EnvTarget[] = [];
  #next = 0;
  #cancel: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(options: EnvCheckerOptions) {
    this.#o = options;
    this.#intervalMs = options.perWindow > 0 ? (options.windowMs ?? 60_000) / options.perWindow : Infinity;
  }

  /** Replaces the rotation, keeping the position so a resync does not restart it from the top. */
  setTargets(targets: EnvTarget[]): void {
    const current = this.#targets[this.#next % Math.max(1, this.#targets.length)]?.stackId;
    this.#targets = [...targets].sort((a, b) => a.stackId.localeCompare(b.stackId));
    const at = current === undefined ? -1 : this.#targets.findIndex((t) => t.stackId >= current);
    this.#next = at < 0 ? 0 : at;
    if (Number.isFinite(this.#intervalMs)) this.#o.onPeriod?.((this.#targets.length * this.#intervalMs) / 1000);
  }

  get targets(): number {
    return this.#targets.length;
  }

  start(): void {
    if (!Number.isFinite(this.#intervalMs) || !this.#stopped) return;
    this.#stopped = false;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#cancel = this.#o.clock.schedule(() => {
      this.#running = this.checkNext().then(() => undefined).finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
    }, this.#intervalMs);
  }

  /** Checks the next service in the rotation; returns the keys that differ (for tests). */
  async checkNext(): Promise<string[]> {
    if (this.#targets.length === 0) return [];
    const target = this.#targets[this.#next % this.#targets.length];
    this.#next = (this.#next + 1) % this.#targets.length;
    if (!target) return [];
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
