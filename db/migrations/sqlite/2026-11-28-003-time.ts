import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// Time (docs/api.md "Time rules"): clock entries (shifts worked and their breaks), scheduled shifts, and
// the stored responses behind Idempotency-Key.

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('time_entries')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('type', 'text', (c) => c.notNull())
    /** a break's shift entry; null for shift entries */
    .addColumn('parent_id', 'integer', (c) => c.references('time_entries.id'))
    .addColumn('worker_id', 'integer', (c) => c.notNull().references('workers.id'))
    .addColumn('location_id', 'integer', (c) => c.references('locations.id'))
    .addColumn('cost_code_id', 'integer', (c) => c.references('cost_codes.id'))
    .addColumn('clock_in', 'text', (c) => c.notNull())
    .addColumn('clock_out', 'text')
    /** clock_out − clock_in in seconds, set when the entry closes */
    .addColumn('duration_seconds', 'integer')
    /** a shift entry's closed breaks, kept up to date as each break closes */
    .addColumn('break_seconds', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().defaultTo('api'))
    .addColumn('notes', 'text')
    .addColumn('latitude', 'real')
    .addColumn('longitude', 'real')
    .addColumn('gps_accuracy', 'real')
    .addColumn('within_geofence', 'integer')
    .addColumn('distance_meters', 'integer')
    .addColumn('low_gps_confidence', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint('time_entries_type', sql`type in ('shift', 'break')`)
    .addCheckConstraint('time_entries_status', sql`(status = 'active' and clock_out is null) or (status = 'completed' and clock_out is not null)`)
    .addCheckConstraint('time_entries_parent', sql`(type = 'shift') = (parent_id is null)`)
    .addCheckConstraint('time_entries_order', sql`clock_out is null or clock_out >= clock_in`)
    .execute()
  // The rule payroll depends on: at most one open shift and one open break per worker, whatever
  // the concurrency (two requests, two processes). The clock code checks first for a clear
  // answer; this index is what makes it true.
  await sql`create unique index time_entries_one_open on time_entries (worker_id, type) where status = 'active'`.execute(db)
  // timesheets: one worker's date range (clock_in is UTC text, so it sorts as time)
  await db.schema.createIndex('time_entries_account_worker_in').on('time_entries').columns(['account_id', 'worker_id', 'clock_in']).execute()
  // timesheets over the whole account by date, and location/cost code filters
  await db.schema.createIndex('time_entries_account_in').on('time_entries').columns(['account_id', 'clock_in']).execute()
  await db.schema.createIndex('time_entries_account_location').on('time_entries').columns(['account_id', 'location_id', 'clock_in']).execute()
  await db.schema.createIndex('time_entries_account_updated').on('time_entries').columns(['account_id', 'updated_at']).execute()
  await db.schema.createIndex('time_entries_parent').on('time_entries').column('parent_id').execute()
  // on-site-now: the open entries of an account
  await sql`create index time_entries_account_open on time_entries (account_id, location_id) where status = 'active'`.execute(db)

  await db.schema.createTable('shifts')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    /** null = an open shift nobody has taken yet */
    .addColumn('worker_id', 'integer', (c) => c.references('workers.id'))
    .addColumn('location_id', 'integer', (c) => c.notNull().references('locations.id'))
    .addColumn('department_id', 'integer', (c) => c.references('departments.id'))
    .addColumn('cost_code_id', 'integer', (c) => c.references('cost_codes.id'))
    .addColumn('start_time', 'text', (c) => c.notNull())
    .addColumn('end_time', 'text', (c) => c.notNull())
    .addColumn('break_minutes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('draft'))
    .addColumn('notes', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint('shifts_status', sql`status in ('draft', 'published')`)
    .addCheckConstraint('shifts_order', sql`end_time > start_time`)
    .execute()
  await db.schema.createIndex('shifts_account_start').on('shifts').columns(['account_id', 'start_time']).execute()
  await db.schema.createIndex('shifts_account_worker_start').on('shifts').columns(['account_id', 'worker_id', 'start_time']).execute()
  await db.schema.createIndex('shifts_account_updated').on('shifts').columns(['account_id', 'updated_at']).execute()

  // One row per (API key, Idempotency-Key): 'pending' while the first request runs, then the
  // response it got. Rows expire after 24 hours and are purged.
  await db.schema.createTable('idempotency_keys')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('api_key_id', 'integer', (c) => c.notNull().references('api_keys.id'))
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    /** hex SHA-256 of method, path, query and body */
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('response_body', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addCheckConstraint('idempotency_keys_state', sql`state in ('pending', 'completed')`)
    .execute()
  await db.schema.createIndex('idempotency_keys_key').unique().on('idempotency_keys').columns(['api_key_id', 'idempotency_key']).execute()
  await db.schema.createIndex('idempotency_keys_expires').on('idempotency_keys').column('expires_at').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').execute()
  await db.schema.dropTable('shifts').execute()
  await db.schema.dropTable('time_entries').execute()
}
