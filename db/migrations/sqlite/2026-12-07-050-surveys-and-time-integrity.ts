import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// Pre-clock-in surveys and their responses (README "Surveys"), and the time rules the database
// can hold by itself: a shift's closed breaks never exceed its duration, durations are never
// negative, and a closed entry always has its duration. A time entry points at the survey
// response that let it start.
//
// SQLite cannot add a CHECK to an existing table, so time_entries is rebuilt the documented way:
// foreign keys off, then in one transaction create the new table, copy, drop the old one,
// rename, recreate every index, verify foreign keys, commit, foreign keys back on.

const TIME_ENTRY_COLUMNS = [
  'id', 'account_id', 'type', 'parent_id', 'worker_id', 'location_id', 'cost_code_id', 'clock_in', 'clock_out',
  'duration_seconds', 'break_seconds', 'status', 'source', 'notes', 'latitude', 'longitude', 'gps_accuracy',
  'within_geofence', 'distance_meters', 'low_gps_confidence', 'created_at', 'updated_at'
]

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('surveys')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    /** JSON array of location ids, or null = every location of the account */
    .addColumn('location_ids', 'text')
    /** JSON array of questions ({id, text, type, required, options, accept}) */
    .addColumn('questions', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint('surveys_active', sql`active in (0, 1)`)
    .execute()
  await db.schema.createIndex('surveys_account_active').on('surveys').columns(['account_id', 'active']).execute()
  await db.schema.createIndex('surveys_account_updated').on('surveys').columns(['account_id', 'updated_at']).execute()
  // at most one active account-wide survey; per-location uniqueness is checked in the write
  // transaction (location_ids is a list)
  await sql`create unique index surveys_one_account_wide on surveys (account_id) where active = 1 and location_ids is null`.execute(db)

  await db.schema.createTable('survey_responses')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('survey_id', 'integer', (c) => c.notNull().references('surveys.id'))
    .addColumn('worker_id', 'integer', (c) => c.notNull().references('workers.id'))
    .addColumn('location_id', 'integer', (c) => c.references('locations.id'))
    .addColumn('passed', 'integer', (c) => c.notNull())
    /** JSON object: question id → answer */
    .addColumn('answers', 'text', (c) => c.notNull())
    /** JSON array of the question ids whose answers were not accepted */
    .addColumn('failed_questions', 'text', (c) => c.notNull())
    .addColumn('submitted_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint('survey_responses_passed', sql`passed in (0, 1)`)
    .execute()
  await db.schema.createIndex('survey_responses_account_submitted').on('survey_responses').columns(['account_id', 'submitted_at']).execute()
  await db.schema.createIndex('survey_responses_account_survey').on('survey_responses').columns(['account_id', 'survey_id']).execute()
  await db.schema.createIndex('survey_responses_account_worker').on('survey_responses').columns(['account_id', 'worker_id']).execute()
  await db.schema.createIndex('survey_responses_account_updated').on('survey_responses').columns(['account_id', 'updated_at']).execute()

  await withoutForeignKeys(db, async (conn) => { await rebuildTimeEntries(conn, true) })
}

/** The table-rebuild frame: foreign keys off (only possible outside a transaction), one transaction, a foreign key check before commit. */
async function withoutForeignKeys (db: Kysely<any>, fn: (conn: Kysely<any>) => Promise<void>): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`pragma foreign_keys = off`.execute(conn)
    try {
      await sql`begin immediate`.execute(conn)
      try {
        await fn(conn)
        const broken = await sql`pragma foreign_key_check`.execute(conn)
        if (broken.rows.length > 0) throw new Error(`time_entries rebuild left ${broken.rows.length} broken foreign keys`)
        await sql`commit`.execute(conn)
      } catch (err) {
        await sql`rollback`.execute(conn)
        throw err
      }
    } finally {
      await sql`pragma foreign_keys = on`.execute(conn)
    }
  })
}

/** `integrity`: the new table (CHECKs and survey_response_id); false rebuilds the previous shape (down). */
async function rebuildTimeEntries (db: Kysely<any>, integrity: boolean): Promise<void> {
  let table = db.schema.createTable('time_entries_new')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'integer', (c) => c.references('time_entries.id'))
    .addColumn('worker_id', 'integer', (c) => c.notNull().references('workers.id'))
    .addColumn('location_id', 'integer', (c) => c.references('locations.id'))
    .addColumn('cost_code_id', 'integer', (c) => c.references('cost_codes.id'))
    .addColumn('clock_in', 'text', (c) => c.notNull())
    .addColumn('clock_out', 'text')
    .addColumn('duration_seconds', 'integer')
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
  if (integrity) {
    table = table
      /** the survey response that let this shift start (a location with a survey) */
      .addColumn('survey_response_id', 'integer', (c) => c.references('survey_responses.id'))
      .addCheckConstraint('time_entries_duration', sql`(duration_seconds is null) = (clock_out is null) and (duration_seconds is null or duration_seconds >= 0)`)
      .addCheckConstraint('time_entries_breaks', sql`break_seconds >= 0 and (type = 'shift' or break_seconds = 0) and (duration_seconds is null or break_seconds <= duration_seconds)`)
      .addCheckConstraint('time_entries_survey', sql`survey_response_id is null or type = 'shift'`)
  }
  await table.execute()
  const columns = sql.join(TIME_ENTRY_COLUMNS.map((c) => sql.ref(c)))
  // Rows written before these rules could close a shift inside one of its breaks; their
  // break_seconds is capped at the shift's duration so that paid time is never negative.
  await sql`insert into time_entries_new (${columns})
    select ${sql.join(TIME_ENTRY_COLUMNS.map((c) => c === 'break_seconds' && integrity
      ? sql`case when duration_seconds is not null and break_seconds > duration_seconds then duration_seconds else max(break_seconds, 0) end`
      : sql.ref(c)))}
    from time_entries`.execute(db)
  await sql`drop table time_entries`.execute(db)
  await sql`alter table time_entries_new rename to time_entries`.execute(db)

  // the same indexes as before, plus the survey response link
  await sql`create unique index time_entries_one_open on time_entries (worker_id, type) where status = 'active'`.execute(db)
  await db.schema.createIndex('time_entries_account_worker_in').on('time_entries').columns(['account_id', 'worker_id', 'clock_in']).execute()
  await db.schema.createIndex('time_entries_account_in').on('time_entries').columns(['account_id', 'clock_in']).execute()
  await db.schema.createIndex('time_entries_account_location').on('time_entries').columns(['account_id', 'location_id', 'clock_in']).execute()
  await db.schema.createIndex('time_entries_account_updated').on('time_entries').columns(['account_id', 'updated_at']).execute()
  await db.schema.createIndex('time_entries_parent').on('time_entries').column('parent_id').execute()
  await sql`create index time_entries_account_open on time_entries (account_id, location_id) where status = 'active'`.execute(db)
  if (integrity) await sql`create index time_entries_survey_response on time_entries (survey_response_id) where survey_response_id is not null`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await withoutForeignKeys(db, async (conn) => { await rebuildTimeEntries(conn, false) })
  await db.schema.dropTable('survey_responses').execute()
  await db.schema.dropTable('surveys').execute()
}
