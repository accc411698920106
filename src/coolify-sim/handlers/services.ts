import { applyCompose, parseComposeBase64, type ParsedCompose } from '../compose.js';
import { Reply, json, notFound, readJsonBody, readJsonBodyLenient, validationFailed } from '../http.js';
import { randomSecret } from '../ids.js';
import { serviceDetail, serviceItem, serviceStatus } from '../serialize.js';
import type { SimService, SimState } from '../state.js';
import { domainsOf, planUrls } from '../urls.js';
import { asBool, enforce, queryFlag, type Rules } from '../validation.js';
import { param, type Handler, type SimContext } from './context.js';

/** `ServicesController` and the service branch of `DeployController` (notes §5). */

const CREATE_ALLOWED = [
  'type',
  'name',
  'description',
  'project_uuid',
  'environment_name',
  'environment_uuid',
  'server_uuid',
  'destination_uuid',
  'instant_deploy',
  'docker_compose_raw',
  'urls',
  'force_domain_override',
  'is_container_label_escape_enabled',
  'tags',
] as const;

const UPDATE_ALLOWED = [
  'name',
  'description',
  'instant_deploy',
  'docker_compose_raw',
  'connect_to_docker_network',
  'urls',
  'force_domain_override',
  'is_container_label_escape_enabled',
] as const;

const COMMON_RULES: Rules = {
  name: ['string', { max: 255 }],
  description: ['nullable', 'string'],
  instant_deploy: ['boolean'],
  urls: ['array'],
  force_domain_override: ['boolean'],
  is_container_label_escape_enabled: ['boolean'],
};

const CREATE_RULES: Rules = {
  ...COMMON_RULES,
  type: ['string', { requiredWithout: 'docker_compose_raw' }],
  docker_compose_raw: ['string', { requiredWithout: 'type' }],
  project_uuid: ['required', 'string'],
  server_uuid: ['required', 'string'],
  environment_name: ['nullable', 'string'],
  environment_uuid: ['nullable', 'string'],
  destination_uuid: ['nullable', 'string'],
  tags: ['array'],
};

const UPDATE_RULES: Rules = { ...COMMON_RULES, docker_compose_raw: ['string'], connect_to_docker_network: ['boolean'] };

/** A few one-click template keys, for the "Invalid service type." answer. */
const ONE_CLICK_TYPES = ['actualbudget', 'calibre-web', 'gitea-with-mysql', 'n8n', 'uptime-kuma'];

/** `urls.*` is `array:name,url` with `name` required and `url` nullable. */
function urlEntries(urls: unknown): { name: string; url: string | null }[] {
  if (urls === undefined || urls === null) return [];
  const errors: Record<string, string[]> = {};
  const out: { name: string; url: string | null }[] = [];
  (Array.isArray(urls) ? urls : []).forEach((entry: unknown, i) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (Object.keys(e).some((k) => k !== 'name' && k !== 'url')) errors[`urls.${i}`] = [`The urls.${i} field must be an array.`];
    if (typeof e.name !== 'string' || e.name === '') errors[`urls.${i}.name`] = [`The urls.${i}.name field is required.`];
    if (e.url !== undefined && e.url !== null && typeof e.url !== 'string') errors[`urls.${i}.url`] = [`The urls.${i}.url field must be a string.`];
    out.push({ name: String(e.name ?? ''), url: typeof e.url === 'string' ? e.url : null });
  });
  if (Object.keys(errors).length > 0) throw validationFailed(errors);
  return out;
}

function findService(ctx: SimContext): SimService {
  const service = ctx.state.service(param(ctx, 'uuid'));
  if (!service) throw notFound('Service not found.');
  return service;
}

/** Creates the row and parses the compose, as `create_service` and hand edits do. */
export function insertService(
  state: SimState,
  input: {
    name: string;
    description: string | null;
    environmentId: number;
    serverId: number;
    destinationId: number;
    compose: ParsedCompose;
    /** `is_container_label_escape_enabled`, saved before the compose is parsed (default true). */
    labelEscape?: boolean;
  },
  now: number,
): SimService {
  const service: SimService = {
    id: state.nextId('services'),
    uuid: state.newUuid(),
    name: input.name,
    description: input.description,
    environmentId: input.environmentId,
    serverId: input.serverId,
    destinationId: input.destinationId,
    composeRaw: '',
    compose: '',
    connectToDockerNetwork: false,
    isContainerLabelEscapeEnabled: input.labelEscape ?? true,
    subs: [],
    envs: [],
    activityQueued: false,
    deletionQueued: false,
    generation: 0,
    createdAt: now,
    updatedAt: now,
  };
  state.services.push(service);
  applyCompose(state, service, input.compose, now);
  return service;
}

export const listServices: Handler = (ctx) =>
  json(200, ctx.state.services.map((s) => serviceItem(ctx.state, s, ctx.principal.sensitive)));

export const getService: Handler = (ctx) => json(200, serviceDetail(ctx.state, findService(ctx), ctx.principal.sensitive));

export const createService: Handler = (ctx) => {
  const body = readJsonBody(ctx.req);
  enforce(body, CREATE_RULES, CREATE_ALLOWED);
  const urls = urlEntries(body.urls);
  if (body.type !== undefined && body.docker_compose_raw !== undefined) {
    throw new Reply(422, { message: 'You cannot provide both service type and docker_compose_raw. Use one or the other.' });
  }
  if (!body.environment_name && !body.environment_uuid) {
    throw new Reply(422, { message: 'You need to provide at least one of environment_name or environment_uuid.' });
  }
  const { state } = ctx;
  const project = state.project(String(body.project_uuid));
  if (!project) throw notFound('Project not found.');
  const envs = state.environmentsOf(project.id);
  const env =
    (typeof body.environment_name === 'string' ? envs.find((e) => e.name === body.environment_name) : undefined) ??
    (typeof body.environment_uuid === 'string' ? envs.find((e) => e.uuid === body.environment_uuid) : undefined);
  if (!env) throw notFound('Environment not found.');
  const server = state.server(String(body.server_uuid));
  if (!server) throw notFound('Server not found.');
  const destinations = state.destinationsOf(server.id);
  let destination = destinations[0];
  if (!destination) throw new Reply(400, { message: 'Server has no destinations.' });
  if (destinations.length > 1) {
    if (!('destination_uuid' in body)) {
      throw new Reply(400, { message: 'Server has multiple destinations and you do not set destination_uuid.' });
    }
    destination = destinations.find((d) => d.uuid === body.destination_uuid);
    if (!destination) {
      throw validationFailed({ destination_uuid: 'Provided destination_uuid does not belong to the specified server.' });
    }
  }
  if (body.type !== undefined) {
    throw new Reply(404, { message: 'Invalid service type.', valid_service_types: ONE_CLICK_TYPES });
  }
  const compose = parseComposeBase64(body.docker_compose_raw);
  const service = insertService(
    state,
    {
      name: typeof body.name === 'string' && body.name !== '' ? body.name : `service-${randomSecret(10)}`,
      description: typeof body.description === 'string' ? body.description.replace(/<[^>]*>?/g, '') : null,
      environmentId: env.id,
      serverId: server.id,
      destinationId: destination.id,
      compose,
      ...(body.is_container_label_escape_enabled === undefined ? {} : { labelEscape: asBool(body.is_container_label_escape_enabled) }),
    },
    ctx.now,
  );
  let domains = domainsOf(service);
  if (urls.length > 0) {
    try {
      domains = planUrls(state, service, urls, asBool(body.force_domain_override))();
    } catch (e) {
      // The controller deletes the half-created service before answering (notes §5.2).
      state.removeService(service);
      throw e;
    }
  }
  if (asBool(body.instant_deploy)) ctx.lifecycle.start(service);
  return json(201, { uuid: service.uuid, domains });
};

export const updateService: Handler = (ctx) => {
  const body = readJsonBody(ctx.req);
  enforce(body, UPDATE_RULES, UPDATE_ALLOWED);
  const urls = body.urls === undefined ? undefined : urlEntries(body.urls);
  const service = findService(ctx);
  const compose = body.docker_compose_raw === undefined ? undefined : parseComposeBase64(body.docker_compose_raw);
  if (typeof body.name === 'string') service.name = body.name;
  if (body.description !== undefined) {
    service.description = typeof body.description === 'string' ? body.description.replace(/<[^>]*>?/g, '') : null;
  }
  if (body.connect_to_docker_network !== undefined) service.connectToDockerNetwork = asBool(body.connect_to_docker_network);
  if (body.is_container_label_escape_enabled !== undefined) {
    service.isContainerLabelEscapeEnabled = asBool(body.is_container_label_escape_enabled);
  }
  if (compose) applyCompose(ctx.state, service, compose, ctx.now);
  service.updatedAt = ctx.now;
  // Saved before the urls are checked: a 409/422 here leaves the other changes applied (notes §5.4).
  const domains = urls ? planUrls(ctx.state, service, urls, asBool(body.force_domain_override))() : domainsOf(service);
  if (asBool(body.instant_deploy)) ctx.lifecycle.start(service);
  return json(200, { uuid: service.uuid, domains });
};

export const deleteService: Handler = (ctx) => {
  const service = findService(ctx);
  const q = ctx.req.query;
  service.deletionOptions = {
    delete_configurations: queryFlag(q, 'delete_configurations', true),
    delete_volumes: queryFlag(q, 'delete_volumes', true),
    docker_cleanup: queryFlag(q, 'docker_cleanup', true),
    delete_connected_networks: queryFlag(q, 'delete_connected_networks', true),
  };
  ctx.lifecycle.delete(service);
  return json(200, { message: 'Service deletion request queued.' });
};

export const startService: Handler = (ctx) => {
  const service = findService(ctx);
  if (serviceStatus(service).includes('running')) throw new Reply(400, { message: 'Service is already running.' });
  ctx.lifecycle.start(service);
  return json(200, { message: 'Service starting request queued.' });
};

export const stopService: Handler = (ctx) => {
  const service = findService(ctx);
  const status = serviceStatus(service);
  if (status.includes('stopped') || status.includes('exited')) throw new Reply(400, { message: 'Service is already stopped.' });
  ctx.lifecycle.stop(service);
  return json(200, { message: 'Service stopping request queued.' });
};

export const restartService: Handler = (ctx) => {
  const service = findService(ctx);
  ctx.lifecycle.restart(service);
  return json(200, { message: 'Service restarting request queued.' });
};

/** `POST /deploy`: services start synchronously, with no "already running" check (notes §5.7). */
export const deploy: Handler = (ctx) => {
  const q = ctx.req.query;
  const body = readJsonBodyLenient(ctx.req);
  const uuids = q.get('uuid') ?? (typeof body.uuid === 'string' ? body.uuid : null);
  const tags = q.get('tag') ?? (typeof body.tag === 'string' ? body.tag : null);
  if (uuids && tags) throw new Reply(400, { message: 'You can only use uuid or tag, not both.' });
  if (!uuids && !tags) throw new Reply(400, { message: 'You must provide uuid or tag.' });
  const deployments: { message: string; resource_uuid: string }[] = [];
  for (const uuid of (uuids ?? '').split(',').map((u) => u.trim()).filter(Boolean)) {
    const service = ctx.state.service(uuid);
    if (!service) continue;
    ctx.lifecycle.start(service);
    deployments.push({ message: `Service ${service.name} started. It could take a while, be patient.`, resource_uuid: uuid });
  }
  if (deployments.length === 0) throw notFound('No resources found.');
  return json(200, { deployments });
};
