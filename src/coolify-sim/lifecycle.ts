import type { SimService, SimState } from './state.js';

/**
 * Coolify's queued jobs (notes §5.5, §5.6, §6), on real timers so tests see the asynchronous
 * transitions a real instance shows:
 *  - start/restart/deploy: activity queued (`starting:unhealthy`) → containers starting
 *    (`starting:unknown`) after lag/2 → `running:healthy` after lag;
 *  - stop: after lag every sub-resource is `exited`;
 *  - delete: the row stays visible until the job runs after lag.
 * `lagMs: 0` runs every job synchronously inside the request.
 * A new lifecycle request supersedes the steps of earlier jobs of the same service.
 */
export class SimLifecycle {
  readonly #state: SimState;
  readonly #lagMs: number;
  readonly #now: () => number;
  #timers = new Set<NodeJS.Timeout>();

  constructor(state: SimState, lagMs: number, now: () => number) {
    this.#state = state;
    this.#lagMs = lagMs;
    this.#now = now;
  }

  start(service: SimService): void {
    const gen = ++service.generation;
    service.activityQueued = true;
    const current = () => service.generation === gen;
    this.#later(this.#lagMs / 2, current, () => {
      service.activityQueued = false;
      this.#setSubs(service, 'starting');
    });
    this.#later(this.#lagMs, current, () => this.#setSubs(service, service.failsToStart ? 'exited' : 'running:healthy'));
  }

  stop(service: SimService): void {
    const gen = ++service.generation;
    // StopService cancels queued or running start activities.
    service.activityQueued = false;
    this.#later(this.#lagMs, () => service.generation === gen, () => this.#setSubs(service, 'exited'));
  }

  restart(service: SimService): void {
    this.start(service);
  }

  delete(service: SimService): void {
    service.deletionQueued = true;
    // DeleteResourceJob is not cancelled by later requests; only a hand deletion beats it.
    this.#later(this.#lagMs, () => this.#state.services.includes(service), () => {
      this.#setSubs(service, 'exited');
      this.#state.removeService(service);
    });
  }

  /** Cancels every job of a service (hand edits that crash or delete it). */
  cancel(service: SimService): void {
    service.generation++;
    service.activityQueued = false;
  }

  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #setSubs(service: SimService, status: string): void {
    const now = this.#now();
    for (const sub of service.subs) {
      sub.status = status;
      sub.updatedAt = now;
    }
    service.updatedAt = now;
  }

  #later(ms: number, stillValid: () => boolean, step: () => void): void {
    const run = () => {
      if (stillValid()) step();
    };
    if (this.#lagMs <= 0) {
      run();
      return;
    }
    const t = setTimeout(() => {
      this.#timers.delete(t);
      run();
    }, ms);
    this.#timers.add(t);
  }
}
