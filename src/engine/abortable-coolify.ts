/**
 * A per-reconcile view of the Coolify API that gives up when the reconcile's signal aborts (the
 * queue's reconcile timeout, or the shutdown deadline). The CoolifyApi signatures take no signal,
 * so each call is raced against it: the caller is released at once with the abort reason, while
 * the HTTP request underneath runs on until the client's own deadline bounds it. A call made
 * after the abort is not sent at all.
 *
 * An abandoned write may still land in Coolify; the next run finds its result (a created service
 * is adopted by its marker), exactly as after a crash.
 */
import type { CoolifyApi } from '../coolify/types.js';

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error('reconcile aborted');
}

/** Settles like `call()`, or rejects with the abort reason as soon as `signal` aborts. */
export function raceAbort<T>(signal: AbortSignal, call: () => Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  const pending = call();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * The same API with every call passed through `around` (one wrapper for every method, so adding
 * a method to CoolifyApi cannot be forgotten in one of the views).
 */
export function wrapCoolify(api: CoolifyApi, around: <T>(call: () => Promise<T>) => Promise<T>): CoolifyApi {
  const r = around;
  return {
    version: () => r(() => api.version()),
    listProjects: () => r(() => api.listProjects()),
    getProject: (uuid) => r(() => api.getProject(uuid)),
    createProject: (input) => r(() => api.createProject(input)),
    updateProject: (uuid, input) => r(() => api.updateProject(uuid, input)),
    createEnvironment: (projectUuid, name) => r(() => api.createEnvironment(projectUuid, name)),
    deleteProject: (uuid) => r(() => api.deleteProject(uuid)),
    listServers: () => r(() => api.listServers()),
    listDestinations: (serverUuid) => r(() => api.listDestinations(serverUuid)),
    listServices: () => r(() => api.listServices()),
    ...(api.listServicesMapped ? { listServicesMapped: (map) => r(() => api.listServicesMapped!(map)) } : {}),
    getService: (uuid) => r(() => api.getService(uuid)),
    createService: (input) => r(() => api.createService(input)),
    updateService: (uuid, input) => r(() => api.updateService(uuid, input)),
    deleteService: (uuid) => r(() => api.deleteService(uuid)),
    startService: (uuid) => r(() => api.startService(uuid)),
    stopService: (uuid) => r(() => api.stopService(uuid)),
    restartService: (uuid) => r(() => api.restartService(uuid)),
    deployService: (uuid) => r(() => api.deployService(uuid)),
    listServiceEnvs: (uuid) => r(() => api.listServiceEnvs(uuid)),
    upsertServiceEnvs: (uuid, vars) => r(() => api.upsertServiceEnvs(uuid, vars)),
    deleteServiceEnv: (serviceUuid, envUuid) => r(() => api.deleteServiceEnv(serviceUuid, envUuid)),
  };
}

export function abortableCoolify(api: CoolifyApi, signal: AbortSignal): CoolifyApi {
  return wrapCoolify(api, (call) => raceAbort(signal, call));
}
