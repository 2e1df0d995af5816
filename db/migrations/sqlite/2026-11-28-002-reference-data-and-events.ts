import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// Departments, cost codes and workers (docs/api.md "Workers, departments, cost codes"), and the event outbox that
// every change writes to in its own transaction (webhooks deliver from it).

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('departments')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('location_id', 'integer', (c) => c.references('locations.id'))
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('departments_account').on('departments').columns(['account_id', 'id']).execute()
  await db.schema.createIndex('departments_account_updated').on('departments').columns(['account_id', 'updated_at']).execute()

  await db.schema.createTable('cost_codes')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('cost_codes_account').on('cost_codes').columns(['account_id', 'id']).execute()
  await db.schema.createIndex('cost_codes_account_code').unique().on('cost_codes').columns(['account_id', 'code']).execute()
  await db.schema.createIndex('cost_codes_account_updated').on('cost_codes').columns(['account_id', 'updated_at']).execute()

  await db.schema.createTable('workers')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('first_name', 'text', (c) => c.notNull())
    .addColumn('last_name', 'text', (c) => c.notNull())
    .addColumn('employee_ref', 'text')
    .addColumn('email', 'text')
    .addColumn('phone', 'text')
    .addColumn('location_id', 'integer', (c) => c.references('locations.id'))
    .addColumn('department_id', 'integer', (c) => c.references('departments.id'))
    .addColumn('preferred_language', 'text', (c) => c.notNull().defaultTo('en'))
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint('workers_language', sql`preferred_language in ('en', 'pl', 'ro', 'lt')`)
    .execute()
  await db.schema.createIndex('workers_account').on('workers').columns(['account_id', 'id']).execute()
  await sql`create unique index workers_account_employee_ref on workers (account_id, employee_ref) where employee_ref is not null`.execute(db)
  await db.schema.createIndex('workers_account_location').on('workers').columns(['account_id', 'location_id', 'id']).execute()
  await db.schema.createIndex('workers_account_department').on('workers').columns(['account_id', 'department_id', 'id']).execute()
  await db.schema.createIndex('workers_account_active').on('workers').columns(['account_id', 'active', 'id']).execute()
  await db.schema.createIndex('workers_account_updated').on('workers').columns(['account_id', 'updated_at']).execute()

  // The outbox: one row per event, written in the same transaction as the change that caused it.
  await db.schema.createTable('events')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    /** set once the webhook dispatcher has fanned the event out to subscriptions */
    .addColumn('dispatched_at', 'text')
    .execute()
  await sql`create index events_undispatched on events (id) where dispatched_at is null`.execute(db)
  await db.schema.createIndex('events_account').on('events').columns(['account_id', 'id']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('events').execute()
  await db.schema.dropTable('workers').execute()
  await db.schema.dropTable('cost_codes').execute()
  await db.schema.dropTable('departments').execute()
}
