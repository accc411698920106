/// <reference path="../pb_data/types.d.ts" />
// cf-reconciler schema (SPEC §2), installable into a PocketBase that already has collections with
// these names (CloudFreedom's production `tenants`, a `plans` of another shape).
//
// Up, per collection: create it when absent; otherwise add only what is missing (fields, select
// values, indexes) and keep every existing field, value, API rule and record. A field added to a
// collection that already holds records is never required (existing records could not satisfy
// it): the daemon reports such a record's missing value as an error on that record instead.
// Applying it again adds nothing.
//
// What up added is written to PocketBase's `_params` table (row `cf_reconciler_schema`), and down
// removes exactly that: the collections it created, the fields, select values and indexes it added
// to collections that existed before. Nothing that existed before up is ever dropped.
//
// All rules of created collections are null: only superusers (admins and the daemon) may read or
// write. Base collections only get `id` automatically, so `created`/`updated` are declared.
//
// Number bounds: PocketBase treats a `required` number as "not zero" and `min` as inclusive, so
// "> 0" for cpu_limit is expressed as required + min 0.001 (one millicore), and for memory_mb as
// required + onlyInt + min 1.

const SLUG_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$';
const BOOKKEEPING_ID = 'cf_reconciler_schema';
const DAEMON = 'Written by cf-reconciler; do not edit. ';

/** The schema; `collection` on a relation names the target (its id is looked up when applied). */
function schema() {
  // Autodate fields have no help text in PocketBase 0.39.
  const autodates = [
    { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ];
  return [
    {
      name: 'plans',
      fields: [
        { name: 'name', type: 'text', required: true, presentable: true, help: 'Plan name, e.g. starter. Unique.' },
        { name: 'max_stacks', type: 'number', required: false, onlyInt: true, min: 0, help: 'How many stacks (not being deleted) a tenant on this plan may have; the oldest keep their place.' },
        { name: 'cpu_limit', type: 'number', required: true, onlyInt: false, min: 0.001, help: 'CPU ceiling in cores for each container of a stack, e.g. 0.5.' },
        { name: 'memory_mb', type: 'number', required: true, onlyInt: true, min: 1, help: 'Memory ceiling in MiB for each container of a stack.' },
        { name: 'allowed_templates', type: 'json', required: false, help: 'JSON array of the template names this plan may deploy, e.g. ["telegram-bot"].' },
        { name: 'pids_limit', type: 'number', required: false, onlyInt: true, min: 0, help: 'Process limit for each container of a stack; empty or 0: 512.' },
        {
          name: 'delete_retention_days',
          type: 'number',
          required: false,
          onlyInt: false,
          min: 0,
          help: 'Days a deleted stack (service and volumes) is kept before it is really deleted; fractions allowed. Empty or 0: the daemon\'s DELETE_RETENTION_SECONDS.',
        },
        ...autodates,
      ],
      indexes: [{ name: 'idx_plans_name', unique: true, columns: ['name'] }],
    },
    {
      name: 'tenants',
      fields: [
        { name: 'name', type: 'text', required: false, presentable: true, help: 'Display name.' },
        { name: 'slug', type: 'text', required: true, pattern: SLUG_PATTERN, help: 'Stable id used in Coolify names and hosts: lower-case letters, digits and dashes, at most 32. Unique.' },
        { name: 'domain', type: 'text', required: false, help: "The tenant's base domain, e.g. acme.cloudfreedom.de; stacks' hosts must be under it." },
        {
          name: 'status',
          type: 'select',
          required: true,
          maxSelect: 1,
          values: ['active', 'suspended', 'deleted'],
          help: 'active: stacks run; suspended: every stack stopped; deleted: every stack deleted after its retention, then the Coolify project.',
        },
        { name: 'plan', type: 'relation', required: true, collection: 'plans', cascadeDelete: false, minSelect: 0, maxSelect: 1, help: "The tenant's plan: allowed templates, stack count and resource ceilings. Required by cf-reconciler." },
        { name: 'router_api_key', type: 'text', required: false, hidden: true, help: "Key for the CloudFreedom AI Router, given to the tenant's stacks as CLOUDFREEDOM_API_KEY." },
        { name: 'coolify_server_uuid', type: 'text', required: false, help: "Optional: the Coolify server this tenant's stacks are placed on; empty: the daemon's default server." },
        { name: 'paused', type: 'bool', required: false, help: 'On: cf-reconciler observes this tenant and its stacks but changes nothing in Coolify for them (e.g. while you debug there). Off: it converges again.' },
        { name: 'coolify_project_uuid', type: 'text', required: false, help: DAEMON + "The tenant's Coolify project." },
        {
          name: 'sync_status',
          type: 'select',
          required: false,
          maxSelect: 1,
          values: ['pending', 'ready', 'suspended', 'deleting', 'deleted', 'error'],
          help: DAEMON + 'Where the tenant stands in Coolify; error: see sync_message.',
        },
        { name: 'sync_message', type: 'text', required: false, help: DAEMON + 'Why, in words you can act on; empty when fine.' },
        { name: 'synced_at', type: 'date', required: false, help: DAEMON + 'Last successful reconcile.' },
        ...autodates,
      ],
      indexes: [
        { name: 'idx_tenants_slug', unique: true, columns: ['slug'] },
        { name: 'idx_tenants_plan', unique: false, columns: ['plan'] },
      ],
    },
    {
      name: 'stacks',
      fields: [
        { name: 'tenant_id', type: 'relation', required: true, collection: 'tenants', cascadeDelete: false, minSelect: 0, maxSelect: 1, help: 'The tenant this stack belongs to.' },
        { name: 'name', type: 'text', required: true, pattern: SLUG_PATTERN, presentable: true, help: 'Lower-case letters, digits and dashes, at most 32; unique within the tenant. Used in hosts and Coolify names.' },
        { name: 'template', type: 'text', required: true, help: 'Template name, e.g. telegram-bot.' },
        { name: 'params', type: 'json', required: false, help: 'JSON object of template parameters, e.g. {"BOT_NAME": "Support"}.' },
        { name: 'domains', type: 'json', required: false, help: 'JSON array of public hosts, one per ingress entry of the template, in order; empty: the default hosts.' },
        { name: 'desired_status', type: 'select', required: true, maxSelect: 1, values: ['running', 'stopped', 'deleted'], help: 'running, stopped, or deleted (carried out after the retention; set it back before then to cancel).' },
        { name: 'paused', type: 'bool', required: false, help: 'On: cf-reconciler observes this stack but changes nothing in Coolify for it (e.g. while you debug there). Off: it converges again.' },
        { name: 'restart_requested_at', type: 'date', required: false, help: 'Set to now to restart the running service once; it is carried out when later than restarted_at.' },
        {
          name: 'status',
          type: 'select',
          required: false,
          maxSelect: 1,
          values: ['pending', 'deploying', 'running', 'degraded', 'stopped', 'suspended', 'deleting', 'error'],
          help: DAEMON + 'Observed state of the service; error or degraded: see status_message.',
        },
        { name: 'status_message', type: 'text', required: false, help: DAEMON + 'Why, in words you can act on.' },
        { name: 'coolify_service_uuid', type: 'text', required: false, help: DAEMON + "The stack's Coolify service." },
        { name: 'template_version', type: 'text', required: false, help: DAEMON + 'Version of the template last applied.' },
        { name: 'applied_hash', type: 'text', required: false, help: DAEMON + 'Hash of what was last applied (compose, env, urls).' },
        { name: 'observed_at', type: 'date', required: false, help: DAEMON + 'When the service was last observed.' },
        { name: 'delete_after', type: 'date', required: false, help: DAEMON + 'When a requested deletion will be carried out.' },
        { name: 'restarted_at', type: 'date', required: false, help: DAEMON + 'The restart_requested_at last carried out.' },
        ...autodates,
      ],
      indexes: [{ name: 'idx_stacks_tenant_name', unique: true, columns: ['tenant_id', 'name'] }],
    },
    {
      name: 'reconcile_events',
      fields: [
        { name: 'subject', type: 'text', required: false, help: DAEMON + 'tenant:<id> or stack:<id>.' },
        { name: 'action', type: 'text', required: false, help: DAEMON + 'What was done, e.g. create_service, stop, restart, pause.' },
        { name: 'outcome', type: 'select', required: false, maxSelect: 1, values: ['ok', 'error'], help: DAEMON + 'ok or error.' },
        { name: 'message', type: 'text', required: false, help: DAEMON + 'What happened, in words.' },
        { name: 'coolify_uuid', type: 'text', required: false, help: DAEMON + 'The Coolify resource acted on.' },
        ...autodates,
      ],
      // `created` drives pruning; `subject` is how admins and tests look up a record's history.
      indexes: [
        { name: 'idx_reconcile_events_created', unique: false, columns: ['created'] },
        { name: 'idx_reconcile_events_subject', unique: false, columns: ['subject', 'created'] },
      ],
    },
  ];
}

function findCollection(app, name) {
  try {
    return app.findCollectionByNameOrId(name);
  } catch (_) {
    return null;
  }
}

/** PocketBase field JSON for a schema field; `required` only where no existing record can break it. */
function fieldJson(app, spec, mayRequire) {
  const out = {};
  for (const k of Object.keys(spec)) if (k !== 'collection') out[k] = spec[k];
  if (spec.collection) {
    const target = findCollection(app, spec.collection);
    if (!target) throw new Error(`cf-reconciler schema: relation ${spec.name} needs collection ${spec.collection}`);
    out.collectionId = target.id;
  }
  if (spec.type !== 'autodate') out.required = Boolean(spec.required && mayRequire);
  return out;
}

/** `create [unique] index name on table (a, b)` → { unique, columns: 'a,b' }, quotes and case ignored. */
function parseIndex(sql) {
  const flat = String(sql).replace(/[`"\[\]]/g, '').replace(/\s+/g, ' ').trim().toLowerCase();
  const m = /^create (unique )?index (?:if not exists )?(\S+) on \S+ ?\(([^)]*)\)/.exec(flat);
  if (!m) return null;
  const columns = m[3]
    .split(',')
    .map((c) => c.trim().split(' ')[0])
    .join(',');
  return { unique: Boolean(m[1]), name: m[2], columns };
}

/** An index on the same columns is enough when it is at least as strict. */
function hasEquivalentIndex(collection, spec) {
  const want = spec.columns.join(',').toLowerCase();
  for (const sql of collection.indexes) {
    const idx = parseIndex(sql);
    if (idx && idx.columns === want && (idx.unique || !spec.unique)) return true;
  }
  return false;
}

/** Number of value groups that occur more than once among records with every column non-empty. */
function duplicateGroups(app, table, columns) {
  const cols = columns.map((c) => `[[${c}]]`).join(', ');
  const nonEmpty = columns.map((c) => `[[${c}]] != ''`).join(' AND ');
  const row = new DynamicModel({ n: 0 });
  app
    .db()
    .newQuery(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM {{${table}}} WHERE ${nonEmpty} GROUP BY ${cols} HAVING COUNT(*) > 1)`)
    .one(row);
  return row.n;
}

function readBookkeeping(app) {
  const row = new DynamicModel({ value: '' });
  try {
    app.db().newQuery('SELECT [[value]] FROM {{_params}} WHERE [[id]] = {:id}').bind({ id: BOOKKEEPING_ID }).one(row);
  } catch (_) {
    return null; // no row: nothing recorded
  }
  return row.value ? JSON.parse(row.value) : null;
}

function writeBookkeeping(app, record) {
  app
    .db()
    .newQuery('INSERT OR REPLACE INTO {{_params}} ([[id]], [[value]]) VALUES ({:id}, {:value})')
    .bind({ id: BOOKKEEPING_ID, value: JSON.stringify(record) })
    .execute();
}

function union(a, b) {
  const out = (a || []).slice();
  for (const x of b || []) if (out.indexOf(x) < 0) out.push(x);
  return out;
}

/** Creates or completes one collection; returns what it added to an existing one (or null). */
function ensureCollection(app, spec, created) {
  const existing = findCollection(app, spec.name);
  if (!existing) {
    const collection = new Collection({
      type: 'base',
      name: spec.name,
      listRule: null,
      viewRule: null,
      createRule: null,
      updateRule: null,
      deleteRule: null,
      fields: spec.fields.map((f) => fieldJson(app, f, true)),
    });
    for (const idx of spec.indexes) collection.addIndex(idx.name, idx.unique, idx.columns.map((c) => `\`${c}\``).join(', '), '');
    app.save(collection);
    created.push(spec.name);
    return null;
  }
  if (existing.type !== 'base') {
    throw new Error(`cf-reconciler schema: collection ${spec.name} exists but is a ${existing.type} collection; cf-reconciler needs a base collection of that name`);
  }
  const holdsRecords = app.countRecords(existing.name) > 0;
  const added = { fields: [], values: {}, indexes: [] };
  for (const f of spec.fields) {
    const field = existing.fields.getByName(f.name);
    if (!field) {
      existing.fields.add(new Field(fieldJson(app, f, !holdsRecords)));
      added.fields.push(f.name);
      continue;
    }
    if (field.type() !== f.type) {
      // Kept as it is: the daemon reports the unreadable value on each record that has one.
      console.log(`cf-reconciler schema: ${spec.name}.${f.name} is a ${field.type()} field, cf-reconciler expects ${f.type}; left unchanged`);
      continue;
    }
    if (f.type === 'select') {
      const have = field.values || [];
      const missing = f.values.filter((v) => have.indexOf(v) < 0);
      if (missing.length > 0) {
        field.values = have.concat(missing);
        added.values[f.name] = missing;
      }
    }
  }
  for (const idx of spec.indexes) {
    if (hasEquivalentIndex(existing, idx)) continue;
    const columns = idx.columns.filter((c) => existing.fields.getByName(c));
    if (columns.length !== idx.columns.length) continue;
    // Existing records may hold empty values (a field added just now): uniqueness is only asked
    // of filled-in values, and an index the data already violates is left out with a warning.
    let where = '';
    if (idx.unique && holdsRecords) {
      where = idx.columns.map((c) => `\`${c}\` != ''`).join(' AND ');
      if (duplicateGroups(app, spec.name, idx.columns) > 0) {
        console.log(`cf-reconciler schema: ${spec.name} has duplicate values of (${idx.columns.join(', ')}); unique index ${idx.name} not created`);
        continue;
      }
    }
    const name = existing.getIndex(idx.name) ? `${idx.name}_cf` : idx.name;
    existing.addIndex(name, idx.unique, idx.columns.map((c) => `\`${c}\``).join(', '), where);
    added.indexes.push(name);
  }
  if (added.fields.length === 0 && added.indexes.length === 0 && Object.keys(added.values).length === 0) return null;
  app.save(existing);
  return added;
}

migrate(
  (app) => {
    const book = readBookkeeping(app) || { created: [], changed: {} };
    const created = [];
    for (const spec of schema()) {
      const added = ensureCollection(app, spec, created);
      if (!added) continue;
      const prev = book.changed[spec.name] || { fields: [], values: {}, indexes: [] };
      const values = Object.assign({}, prev.values);
      for (const k of Object.keys(added.values)) values[k] = union(values[k], added.values[k]);
      book.changed[spec.name] = { fields: union(prev.fields, added.fields), values, indexes: union(prev.indexes, added.indexes) };
    }
    book.created = union(book.created, created);
    writeBookkeeping(app, book);
  },
  (app) => {
    const book = readBookkeeping(app);
    // Nothing recorded: nothing is known to be ours, so nothing is removed.
    if (!book) return;
    // First what was added to collections that existed before (a relation added there may point
    // at a collection created here), then the created collections, dependents first.
    for (const name of Object.keys(book.changed)) {
      const collection = findCollection(app, name);
      if (!collection) continue;
      const added = book.changed[name];
      for (const idx of added.indexes) collection.removeIndex(idx);
      for (const f of added.fields) collection.fields.removeByName(f);
      for (const f of Object.keys(added.values)) {
        const field = collection.fields.getByName(f);
        if (field && field.type() === 'select') field.values = (field.values || []).filter((v) => added.values[f].indexOf(v) < 0);
      }
      app.save(collection);
    }
    for (const name of book.created.slice().reverse()) {
      const collection = findCollection(app, name);
      if (collection) app.delete(collection);
    }
    app.db().newQuery('DELETE FROM {{_params}} WHERE [[id]] = {:id}').bind({ id: BOOKKEEPING_ID }).execute();
  },
);
