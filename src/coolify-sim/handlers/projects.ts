import { Reply, json, notFound, readJsonBody } from '../http.js';
import { environmentRow, projectDetail, projectListItem, serviceItem } from '../serialize.js';
import { DESCRIPTION_RULES, NAME_RULES, enforce, stripTags } from '../validation.js';
import { param, type Handler, type SimContext } from './context.js';

/** `ProjectController` (notes §3). */

function findProject(ctx: SimContext) {
  const project = ctx.state.project(param(ctx, 'uuid'));
  if (!project) throw notFound('Project not found.');
  return project;
}

export const listProjects: Handler = (ctx) => json(200, ctx.state.projects.map(projectListItem));

export const getProject: Handler = (ctx) => json(200, projectDetail(ctx.state, findProject(ctx)));

export const createProject: Handler = (ctx) => {
  const body = readJsonBody(ctx.req);
  enforce(body, { name: NAME_RULES, description: DESCRIPTION_RULES }, ['name', 'description']);
  const project = ctx.state.createProject(
    { name: stripTags(String(body.name)), description: typeof body.description === 'string' ? stripTags(body.description) : '' },
    ctx.now,
  );
  return json(201, { uuid: project.uuid });
};

export const updateProject: Handler = (ctx) => {
  const body = readJsonBody(ctx.req);
  enforce(body, { name: NAME_RULES.filter((r) => r !== 'required'), description: DESCRIPTION_RULES }, ['name', 'description']);
  const project = findProject(ctx);
  if (typeof body.name === 'string') project.name = stripTags(body.name);
  if (body.description !== undefined) project.description = typeof body.description === 'string' ? stripTags(body.description) : '';
  project.updatedAt = ctx.now;
  // 201 (sic): the controller answers a PATCH with Created (notes §3, §12).
  return json(201, { uuid: project.uuid, name: project.name, description: project.description });
};

export const deleteProject: Handler = (ctx) => {
  const project = findProject(ctx);
  // Services queued for deletion still count until their job has run (notes §3, §5.5).
  if (ctx.state.servicesOfProject(project.id).length > 0) {
    throw new Reply(400, { message: 'Project has resources, so it cannot be deleted.' });
  }
  ctx.state.deleteProject(project);
  return json(200, { message: 'Project deleted.' });
};

export const listEnvironments: Handler = (ctx) => {
  const project = findProject(ctx);
  return json(200, ctx.state.environmentsOf(project.id).map((e) => ({ id: e.id, name: e.name, uuid: e.uuid })));
};

/** Environment::customizeName: lower-cased, trimmed, `/` → `-`. */
function normaliseEnvironmentName(name: string): string {
  return name.trim().toLowerCase().replace(/\//g, '-');
}

export const createEnvironment: Handler = (ctx) => {
  const body = readJsonBody(ctx.req);
  enforce(body, { name: NAME_RULES }, ['name']);
  const project = findProject(ctx);
  const raw = String(body.name);
  // The pre-check compares the raw name; the stored name is normalised (notes §3).
  if (ctx.state.environmentsOf(project.id).some((e) => e.name === raw)) {
    throw new Reply(409, { message: 'Environment with this name already exists.' });
  }
  const name = normaliseEnvironmentName(raw);
  if (ctx.state.environmentsOf(project.id).some((e) => e.name === name)) {
    // The unique index fires instead (inferred).
    throw new Reply(500, { message: 'Server Error' });
  }
  const env = ctx.state.createEnvironment(project, name, ctx.now);
  return json(201, { uuid: env.uuid });
};

export const getEnvironment: Handler = (ctx) => {
  const project = findProject(ctx);
  const env = ctx.state.environmentByNameOrUuid(project.id, param(ctx, 'environment'));
  if (!env) throw notFound('Environment not found.');
  return json(200, {
    ...environmentRow(env),
    applications: [],
    postgresqls: [],
    redis: [],
    mongodbs: [],
    mysqls: [],
    mariadbs: [],
    services: ctx.state.servicesIn(env.id).map((s) => serviceItem(ctx.state, s, ctx.principal.sensitive)),
  });
};
