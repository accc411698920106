/// <reference path="../pb_data/types.d.ts" />
// cf-reconciler: the leader lease and the create intents (SPEC §3 "One active daemon", "Unknown
// outcomes"). Two collections the daemon alone reads and writes (all API rules null: superusers
// only):
//
// - `cf_leases`: one record per lease epoch. A daemon takes the lease by creating the record of
//   the next epoch; the unique index on (name, epoch) makes that create the atomic step, so two
//   daemons contending for the same epoch cannot both win. The holder renews by updating its own
//   epoch's record and gives the lease back by setting `released`.
// - `cf_create_intents`: a record per tenant or stack whose create was sent to Coolify and not yet
//   confirmed (Crossplane's create-pending); its id is derived from the subject.
//
// Up creates each collection only when absent; what it created is written to `_params` (row
// `cf_reconciler_lease`) and down removes exactly that. Applying it again adds nothing.

const BOOKKEEPING_ID = 'cf_reconciler_lease';
const DAEMON = 'Written by cf-reconciler; do not edit. ';

function collections() {
  const autodates = [
    { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ];
  return [
    {
      name: 'cf_leases',
      fields: [
        { name: 'name', type: 'text', required: true, max: 100, help: DAEMON + 'The lease (one per PocketBase/Coolify pair).' },
        { name: 'epoch', type: 'number', required: true, onlyInt: true, min: 1, help: DAEMON + 'Taken by creating the next epoch.' },
        { name: 'holder', type: 'text', required: false, max: 200, help: DAEMON + 'Identity of the daemon holding this epoch.' },
        { name: 'renewed_at', type: 'date', required: false, help: DAEMON + "Holder's clock at its last renewal (for people; expiry is judged by observers)." },
        { name: 'released', type: 'bool', required: false, help: DAEMON + 'Given back on shutdown: a standby takes over at once.' },
        ...autodates,
      ],
      indexes: ['CREATE UNIQUE INDEX idx_cf_leases_name_epoch ON cf_leases (name, epoch)'],
    },
    {
      name: 'cf_create_intents',
      fields: [
        { name: 'subject', type: 'text', required: true, max: 100, help: DAEMON + '`tenant:<id>` or `stack:<id>`.' },
        { name: 'sent_at', type: 'date', required: true, help: DAEMON + 'When the create was sent; no second create before it is found or a grace period passes.' },
        ...autodates,
      ],
      indexes: [],
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

function readBookkeeping(app) {
  const row = new DynamicModel({ value: '' });
  try {
    app.db().newQuery('SELECT [[value]] FROM {{_params}} WHERE [[id]] = {:id}').bind({ id: BOOKKEEPING_ID }).one(row);
  } catch (_) {
    return null;
  }
  return row.value ? JSON.parse(row.value) : null;
}

migrate(
  (app) => {
    const book = readBookkeeping(app) || { created: [] };
    for (const spec of collections()) {
      if (findCollection(app, spec.name)) continue;
      const collection = new Collection({
        type: 'base',
        name: spec.name,
        listRule: null,
        viewRule: null,
        createRule: null,
        updateRule: null,
        deleteRule: null,
        fields: spec.fields,
        indexes: spec.indexes,
      });
      app.save(collection);
      if (book.created.indexOf(spec.name) < 0) book.created.push(spec.name);
    }
    app
      .db()
      .newQuery('INSERT OR REPLACE INTO {{_params}} ([[id]], [[value]]) VALUES ({:id}, {:value})')
      .bind({ id: BOOKKEEPING_ID, value: JSON.stringify(book) })
      .execute();
  },
  (app) => {
    const book = readBookkeeping(app);
    if (!book) return;
    for (const name of book.created) {
      const collection = findCollection(app, name);
      if (collection) app.delete(collection);
    }
    app.db().newQuery('DELETE FROM {{_params}} WHERE [[id]] = {:id}').bind({ id: BOOKKEEPING_ID }).execute();
  },
);
