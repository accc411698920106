import { createHash } from 'node:crypto';
import { timestamp } from './ids.js';
import type { SimDestination, SimEnvVar, SimEnvironment, SimProject, SimServer, SimService, SimState, SimSubResource } from './state.js';
import { realValue } from './shared-variables.js';
import { aggregateStatus } from './status.js';

/**
 * JSON shapes as Coolify's controllers return them (notes §3-§5). Hidden fields
 * (`docker_compose_raw`, `docker_compose`, env `value`/`real_value`) appear only with sensitive
 * access.
 */

export function projectListItem(p: SimProject): Record<string, unknown> {
  return { id: p.id, uuid: p.uuid, name: p.name, description: p.description };
}

export function environmentRow(e: SimEnvironment): Record<string, unknown> {
  return {
    id: e.id,
    uuid: e.uuid,
    name: e.name,
    description: e.description,
    project_id: e.projectId,
    created_at: timestamp(e.createdAt),
    updated_at: timestamp(e.updatedAt),
  };
}

export function projectDetail(state: SimState, p: SimProject): Record<string, unknown> {
  return {
    ...projectListItem(p),
    team_id: 0,
    created_at: timestamp(p.createdAt),
    updated_at: timestamp(p.updatedAt),
    environments: state.environmentsOf(p.id).map(environmentRow),
  };
}

export function serviceStatus(s: SimService): string {
  return aggregateStatus(s.subs, s.activityQueued);
}

/** md5 of each service's compose, kept while the compose is unchanged: a list hashes no text again. */
const configHashes = new WeakMap<SimService, { compose: string; md5: string }>();

function configHash(s: SimService): string {
  const known = configHashes.get(s);
  if (known?.compose === s.compose) return known.md5;
  const md5 = createHash('md5').update(s.compose).digest('hex');
  configHashes.set(s, { compose: s.compose, md5 });
  return md5;
}

export function serviceItem(state: SimState, s: SimService, sensitive: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    uuid: s.uuid,
    name: s.name,
    description: s.description,
    environment_id: s.environmentId,
    server_id: s.serverId,
    destination_id: s.destinationId,
    destination_type: 'App\\Models\\StandaloneDocker',
    connect_to_docker_network: s.connectToDockerNetwork,
    is_container_label_escape_enabled: s.isContainerLabelEscapeEnabled,
    is_container_label_readonly_enabled: true,
    config_hash: configHash(s),
    service_type: null,
    compose_parsing_version: '5',
    created_at: timestamp(s.createdAt),
    updated_at: timestamp(s.updatedAt),
    deleted_at: null,
    server_status: state.serverById(s.serverId) !== undefined,
    status: serviceStatus(s),
  };
  if (sensitive) {
    out.docker_compose_raw = s.composeRaw;
    out.docker_compose = s.compose;
  }
  return out;
}

function subRow(s: SimService, sub: SimSubResource): Record<string, unknown> {
  const row: Record<string, unknown> = {
    uuid: sub.uuid,
    name: sub.name,
    human_name: null,
    description: null,
    image: sub.image,
    status: sub.status,
    exclude_from_status: sub.excluded,
    service_id: s.id,
    created_at: timestamp(sub.createdAt),
    updated_at: timestamp(sub.updatedAt),
  };
  if (sub.kind === 'application') row.fqdn = sub.fqdn;
  return row;
}

export function serviceDetail(state: SimState, s: SimService, sensitive: boolean): Record<string, unknown> {
  return {
    ...serviceItem(state, s, sensitive),
    applications: s.subs.filter((x) => x.kind === 'application').map((x) => subRow(s, x)),
    databases: s.subs.filter((x) => x.kind === 'database').map((x) => subRow(s, x)),
  };
}

export function envRow(state: SimState, s: SimService, e: SimEnvVar, sensitive: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    uuid: e.uuid,
    key: e.key,
    comment: e.comment,
    is_literal: e.isLiteral,
    is_multiline: e.isMultiline,
    is_preview: e.isPreview,
    is_runtime: true,
    is_buildtime: true,
    is_shown_once: e.isShownOnce,
    is_shared: false,
    is_really_required: false,
    is_buildpack_control: false,
    is_coolify: e.key.startsWith('SERVICE_'),
    version: '4.3.11',
    order: null,
    resourceable_type: 'App\\Models\\Service',
    resourceable_id: s.id,
    created_at: timestamp(e.createdAt),
    updated_at: timestamp(e.updatedAt),
  };
  if (sensitive && !e.isShownOnce) {
    out.value = e.value;
    out.real_value = realValue(state, s, e);
  }
  return out;
}

export function serverRow(s: SimServer): Record<string, unknown> {
  return {
    uuid: s.uuid,
    name: s.name,
    description: null,
    ip: s.ip,
    user: 'root',
    port: 22,
    is_reachable: true,
    is_usable: true,
    proxy: { type: 'traefik', status: 'running' },
    settings: { is_reachable: true, is_usable: true, is_build_server: false, wildcard_domain: `http://${s.wildcardDomain}` },
  };
}

export function destinationRow(state: SimState, d: SimDestination): Record<string, unknown> {
  return {
    uuid: d.uuid,
    name: d.name,
    network: d.network,
    type: 'standalone',
    server_uuid: state.serverById(d.serverId)?.uuid ?? '',
    created_at: timestamp(d.createdAt),
    updated_at: timestamp(d.updatedAt),
  };
}
