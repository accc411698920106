import { Reply, json, notFound, readJsonBody, validationFailed } from '../http.js';
import { envRow } from '../serialize.js';
import type { SimEnvVar, SimService } from '../state.js';
import { asBool, check, type Rules } from '../validation.js';
import { param, type Handler, type SimContext } from './context.js';

/** Service environment variables (notes §5.8). */

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.]*$/;

const ENV_RULES: Rules = {
  key: ['required', 'string', { max: 255 }, { regex: KEY_PATTERN }],
  value: ['nullable', 'string'],
  is_literal: ['boolean'],
  is_multiline: ['boolean'],
  is_shown_once: ['boolean'],
  comment: ['nullable', 'string', { max: 256 }],
};

function findService(ctx: SimContext): SimService {
  const service = ctx.state.service(param(ctx, 'uuid'));
  if (!service) throw notFound('Service not found.');
  return service;
}

/** Coolify trims values when it stores them (and again when it reads them). */
function storedValue(value: unknown): string | null {
  return typeof value === 'string' ? value.trim() : null;
}

/** Keys are trimmed and spaces become `_` before validation. */
function normaliseKey(body: Record<string, unknown>): Record<string, unknown> {
  return typeof body.key === 'string' ? { ...body, key: body.key.trim().replace(/ /g, '_') } : body;
}

function validateItem(body: Record<string, unknown>): void {
  // Only the rule fields are looked at: unknown keys are silently ignored on env routes.
  const errors = check(body, ENV_RULES);
  if (Object.keys(errors).length > 0) throw validationFailed(errors);
}

function applyFlags(env: SimEnvVar, body: Record<string, unknown>): void {
  if (body.is_literal !== undefined) env.isLiteral = asBool(body.is_literal);
  if (body.is_multiline !== undefined) env.isMultiline = asBool(body.is_multiline);
  if (body.is_shown_once !== undefined) env.isShownOnce = asBool(body.is_shown_once);
  if (body.comment !== undefined) env.comment = typeof body.comment === 'string' ? body.comment : null;
}

export const listEnvs: Handler = (ctx) => {
  const service = findService(ctx);
  return json(200, service.envs.map((e) => envRow(ctx.state, service, e, ctx.principal.sensitive)));
};

export const createEnv: Handler = (ctx) => {
  const body = normaliseKey(readJsonBody(ctx.req));
  const service = findService(ctx);
  validateItem(body);
  const key = String(body.key);
  if (service.envs.some((e) => e.key === key)) {
    throw new Reply(409, { message: 'Environment variable already exists. Use PATCH request to update it.' });
  }
  const env = ctx.state.newEnv(key, storedValue(body.value), ctx.now);
  applyFlags(env, body);
  service.envs.push(env);
  return json(201, envRow(ctx.state, service, env, ctx.principal.sensitive));
};

/** Identifies the variable by `key`; always sets `value`, so omitting it nulls the value. */
export const updateEnv: Handler = (ctx) => {
  const body = normaliseKey(readJsonBody(ctx.req));
  const service = findService(ctx);
  validateItem(body);
  const env = service.envs.find((e) => e.key === body.key);
  if (!env) throw notFound('Environment variable not found.');
  env.value = storedValue(body.value);
  applyFlags(env, body);
  env.updatedAt = ctx.now;
  return json(201, envRow(ctx.state, service, env, ctx.principal.sensitive));
};

/** `updateOrCreate` by key; the first invalid item answers 422 with earlier items already saved. */
export const bulkEnvs: Handler = (ctx) => {
  const body = readJsonBody(ctx.req);
  const service = findService(ctx);
  if (!Array.isArray(body.data) || body.data.length === 0) throw new Reply(400, { message: 'Bulk data is required.' });
  const saved: SimEnvVar[] = [];
  for (const raw of body.data as unknown[]) {
    const item = normaliseKey(typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {});
    validateItem(item);
    const key = String(item.key);
    let env = service.envs.find((e) => e.key === key);
    if (!env) {
      env = ctx.state.newEnv(key, null, ctx.now);
      service.envs.push(env);
    }
    if (item.value !== undefined) env.value = storedValue(item.value);
    if (item.is_preview !== undefined) env.isPreview = asBool(item.is_preview);
    applyFlags(env, item);
    env.updatedAt = ctx.now;
    saved.push(env);
  }
  return json(201, saved.map((e) => envRow(ctx.state, service, e, ctx.principal.sensitive)));
};

export const deleteEnv: Handler = (ctx) => {
  const service = findService(ctx);
  const env = service.envs.find((e) => e.uuid === param(ctx, 'env_uuid'));
  if (!env) throw notFound('Environment variable not found.');
  service.envs = service.envs.filter((e) => e !== env);
  return json(200, { message: 'Environment variable deleted.' });
};
