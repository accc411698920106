/// <reference path="../pb_data/types.d.ts" />
// cf-reconciler schema (SPEC §2). All rules are null: only superusers (admins and the daemon) may
// read or write. Base collections only get `id` automatically, so `created`/`updated` are declared.
//
// Field ownership: admin fields are edited by people and billing; daemon fields are a cache of what
// Coolify holds and are written only by the daemon.
//
// Number bounds: PocketBase treats a `required` number as "not zero" and `min` as inclusive, so
// "> 0" for cpu_limit is expressed as required + min 0.001 (one millicore), and for memory_mb as
// required + onlyInt + min 1.

const SLUG_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$';

function autodates() {
  return [
    { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ];
}

function superuserOnly() {
  return { listRule: null, viewRule: null, createRule: null, updateRule: null, deleteRule: null };
}

migrate(
  (app) => {
    const plans = new Collection({
      type: 'base',
      name: 'plans',
      ...superuserOnly(),
      fields: [
        { name: 'name', type: 'text', required: true, presentable: true },
        { name: 'max_stacks', type: 'number', required: false, onlyInt: true, min: 0 },
        { name: 'cpu_limit', type: 'number', required: true, onlyInt: false, min: 0.001 },
        { name: 'memory_mb', type: 'number', required: true, onlyInt: true, min: 1 },
        { name: 'allowed_templates', type: 'json', required: false },
        // Processes per container; empty or 0 means 512 (SPEC §2).
        { name: 'pids_limit', type: 'number', required: false, onlyInt: true, min: 0 },
        ...autodates(),
      ],
      indexes: ['CREATE UNIQUE INDEX idx_plans_name ON plans (name)'],
    });
    app.save(plans);

    const tenants = new Collection({
      type: 'base',
      name: 'tenants',
      ...superuserOnly(),
      fields: [
        { name: 'name', type: 'text', required: false, presentable: true },
        { name: 'slug', type: 'text', required: true, pattern: SLUG_PATTERN },
        { name: 'domain', type: 'text', required: false },
        { name: 'status', type: 'select', required: true, maxSelect: 1, values: ['active', 'suspended', 'deleted'] },
        { name: 'plan', type: 'relation', required: true, collectionId: plans.id, cascadeDelete: false, minSelect: 0, maxSelect: 1 },
        { name: 'router_api_key', type: 'text', required: false, hidden: true },
        { name: 'coolify_server_uuid', type: 'text', required: false },
        { name: 'coolify_project_uuid', type: 'text', required: false },
        {
          name: 'sync_status',
          type: 'select',
          required: false,
          maxSelect: 1,
          values: ['pending', 'ready', 'suspended', 'deleting', 'deleted', 'error'],
        },
        { name: 'sync_message', type: 'text', required: false },
        { name: 'synced_at', type: 'date', required: false },
        ...autodates(),
      ],
      indexes: ['CREATE UNIQUE INDEX idx_tenants_slug ON tenants (slug)', 'CREATE INDEX idx_tenants_plan ON tenants (plan)'],
    });
    app.save(tenants);

    const stacks = new Collection({
      type: 'base',
      name: 'stacks',
      ...superuserOnly(),
      fields: [
        { name: 'tenant_id', type: 'relation', required: true, collectionId: tenants.id, cascadeDelete: false, minSelect: 0, maxSelect: 1 },
        { name: 'name', type: 'text', required: true, pattern: SLUG_PATTERN, presentable: true },
        { name: 'template', type: 'text', required: true },
        { name: 'params', type: 'json', required: false },
        { name: 'domains', type: 'json', required: false },
        { name: 'desired_status', type: 'select', required: true, maxSelect: 1, values: ['running', 'stopped', 'deleted'] },
        {
          name: 'status',
          type: 'select',
          required: false,
          maxSelect: 1,
          values: ['pending', 'deploying', 'running', 'degraded', 'stopped', 'suspended', 'deleting', 'error'],
        },
        { name: 'status_message', type: 'text', required: false },
        { name: 'coolify_service_uuid', type: 'text', required: false },
        { name: 'template_version', type: 'text', required: false },
        { name: 'applied_hash', type: 'text', required: false },
        { name: 'observed_at', type: 'date', required: false },
        { name: 'delete_after', type: 'date', required: false },
        ...autodates(),
      ],
      indexes: ['CREATE UNIQUE INDEX idx_stacks_tenant_name ON stacks (tenant_id, name)'],
    });
    app.save(stacks);

    const events = new Collection({
      type: 'base',
      name: 'reconcile_events',
      ...superuserOnly(),
      fields: [
        { name: 'subject', type: 'text', required: false },
        { name: 'action', type: 'text', required: false },
        { name: 'outcome', type: 'select', required: false, maxSelect: 1, values: ['ok', 'error'] },
        { name: 'message', type: 'text', required: false },
        { name: 'coolify_uuid', type: 'text', required: false },
        ...autodates(),
      ],
      // `created` drives pruning; `subject` is how admins and tests look up a record's history.
      indexes: [
        'CREATE INDEX idx_reconcile_events_created ON reconcile_events (created)',
        'CREATE INDEX idx_reconcile_events_subject ON reconcile_events (subject, created)',
      ],
    });
    app.save(events);
  },
  (app) => {
    // Reverse dependency order: stacks reference tenants, tenants reference plans.
    for (const name of ['reconcile_events', 'stacks', 'tenants', 'plans']) {
      const c = app.findCollectionByNameOrId(name);
      app.delete(c);
    }
  },
);
