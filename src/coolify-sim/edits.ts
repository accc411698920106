import { applyCompose, parseComposeText } from './compose.js';
import { insertService } from './handlers/services.js';
import { Reply } from './http.js';
import type { SimLifecycle } from './lifecycle.js';
import type { SharedScope } from './shared-variables.js';
import type { SimEnvVar, SimProject, SimService, SimState } from './state.js';

/**
 * What a person does in Coolify's UI behind the daemon's back: crash a service, edit its compose,
 * delete it, create resources the daemon does not own. Applied directly to the state, with no
 * HTTP request and no rate limit.
 */
export class SimEdits {
  readonly #state: SimState;
  readonly #lifecycle: SimLifecycle;
  readonly #now: () => number;

  constructor(state: SimState, lifecycle: SimLifecycle, now: () => number) {
    this.#state = state;
    this.#lifecycle = lifecycle;
    this.#now = now;
  }

  #service(uuid: string): SimService {
    const s = this.#state.service(uuid);
    if (!s) throw new Error(`simulator has no service ${uuid}`);
    return s;
  }

  /** Containers die: every sub-resource `exited`, or `degraded:unhealthy`. Pending jobs are dropped. */
  crashService(uuid: string, how: 'exited' | 'degraded' = 'exited'): void {
    const s = this.#service(uuid);
    this.#lifecycle.cancel(s);
    for (const sub of s.subs) sub.status = how === 'exited' ? 'exited' : 'degraded:unhealthy';
    s.updatedAt = this.#now();
  }

  /** From now on its containers exit right after every start (or start normally again). */
  failStarts(uuid: string, fails = true): void {
    this.#service(uuid).failsToStart = fails;
  }

  /** Sets every sub-resource's stored status, e.g. `running:healthy`, with no job. */
  setStatus(uuid: string, subStatus: string): void {
    const s = this.#service(uuid);
    this.#lifecycle.cancel(s);
    for (const sub of s.subs) sub.status = subStatus;
  }

  /** Replaces the compose as the UI editor would (parsed, checked and re-dumped like the API). */
  editCompose(uuid: string, yaml: string): void {
    const s = this.#service(uuid);
    let parsed;
    try {
      parsed = parseComposeText(yaml);
    } catch (e) {
      if (e instanceof Reply) throw new Error(`compose rejected: ${JSON.stringify(e.response.body)}`, { cause: e });
      throw e;
    }
    applyCompose(this.#state, s, parsed, this.#now());
    s.updatedAt = this.#now();
  }

  /** Sets (or creates) an env var value. */
  setEnv(uuid: string, key: string, value: string | null): SimEnvVar {
    const s = this.#service(uuid);
    const now = this.#now();
    let env = s.envs.find((e) => e.key === key);
    if (!env) {
      env = this.#state.newEnv(key, value, now);
      s.envs.push(env);
    }
    env.value = value;
    env.updatedAt = now;
    return env;
  }

  /**
   * A shared variable as set in Coolify's UI: `team` (no owner), or the `project`, `environment` or
   * `server` given by uuid. Replaces one with the same scope, owner and key.
   */
  setSharedVariable(scope: SharedScope, key: string, value: string, ownerUuid?: string): void {
    const state = this.#state;
    const ownerId =
      scope === 'team'
        ? 0
        : scope === 'project'
          ? state.project(ownerUuid ?? '')?.id
          : scope === 'server'
            ? state.server(ownerUuid ?? '')?.id
            : state.environments.find((e) => e.uuid === ownerUuid)?.id;
    if (ownerId === undefined) throw new Error(`simulator has no ${scope} ${ownerUuid ?? ''}`);
    state.sharedVariables = state.sharedVariables.filter((v) => !(v.scope === scope && v.ownerId === ownerId && v.key === key));
    state.sharedVariables.push({ scope, ownerId, key, value });
  }

  /** Deletes a service at once (the UI's delete after its job ran). */
  deleteService(uuid: string): void {
    const s = this.#service(uuid);
    this.#lifecycle.cancel(s);
    this.#state.removeService(s);
  }

  createForeignProject(input: { name: string; description?: string }): SimProject {
    return this.#state.createProject({ name: input.name, description: input.description ?? '' }, this.#now());
  }

  /** A service without our marker, in `projectUuid` (or a new foreign project). */
  createForeignService(
    input: { projectUuid?: string; environmentName?: string; name?: string; description?: string | null; composeYaml?: string; urls?: Record<string, string> } = {},
  ): SimService {
    const state = this.#state;
    const project = input.projectUuid ? state.project(input.projectUuid) : this.createForeignProject({ name: 'someone elses project' });
    if (!project) throw new Error(`simulator has no project ${input.projectUuid}`);
    const env = state.environmentByNameOrUuid(project.id, input.environmentName ?? 'production');
    if (!env) throw new Error(`project ${project.uuid} has no environment ${input.environmentName}`);
    const server = state.servers[0];
    const destination = server ? state.destinationsOf(server.id)[0] : undefined;
    if (!server || !destination) throw new Error('simulator has no server');
    const compose = parseComposeText(input.composeYaml ?? 'services:\n  web:\n    image: nginx:alpine\n');
    const service = insertService(
      state,
      {
        name: input.name ?? 'hand-made',
        description: input.description ?? null,
        environmentId: env.id,
        serverId: server.id,
        destinationId: destination.id,
        compose,
      },
      this.#now(),
    );
    for (const [name, url] of Object.entries(input.urls ?? {})) {
      const sub = service.subs.find((s) => s.name === name);
      if (sub) sub.fqdn = url;
    }
    return service;
  }
}
