import t from 'tap'
import { join } from 'node:path'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import type { Database } from '../db/types.js'
import { createSqliteMigrator as createMigrator } from '../db/engine/sqlite/migrate.js'

const NOW = '2025-01-01T12:00:00Z'

t.test('the time_entries rebuild keeps rows, ids, indexes and foreign keys, and caps break time that exceeded its shift', async (t) => {
  const handle = openSqliteEngine({ file: join(t.testdir(), 'upgrade.db') })
  t.teardown(async () => { await handle.close() })
  // on the writing connection: the engine's db is its query-only read connection
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: handle.sqlite }) })
  const before = await createMigrator(db).migrateTo('2026-11-28-005-portal')
  t.equal(before.error, undefined)
  await sql`insert into accounts (id, name, timezone, api_enabled, created_at, updated_at) values (1, 'A', 'UTC', 1, ${NOW}, ${NOW})`.execute(db)
  await sql`insert into workers (id, account_id, first_name, last_name, preferred_language, active, created_at, updated_at) values (5, 1, 'Ada', 'L', 'en', 1, ${NOW}, ${NOW})`.execute(db)
  // what the old rules let through: in −3h, break −2h…−1h, out −150 min
  await sql`insert into time_entries (id, account_id, type, parent_id, worker_id, clock_in, clock_out, duration_seconds, break_seconds, status, created_at, updated_at)
    values (10, 1, 'shift', null, 5, '2025-01-01T09:00:00Z', '2025-01-01T09:30:01Z', 1801, 3600, 'completed', ${NOW}, ${NOW}),
           (11, 1, 'break', 10, 5, '2025-01-01T10:00:00Z', '2025-01-01T11:00:00Z', 3600, 0, 'completed', ${NOW}, ${NOW}),
           (12, 1, 'shift', null, 5, '2025-01-01T11:30:00Z', null, null, 0, 'active', ${NOW}, ${NOW})`.execute(db)

  await handle.migrate()
  const rows = await db.selectFrom('time_entries').select(['id', 'parent_id', 'duration_seconds', 'break_seconds', 'status', 'survey_response_id']).orderBy('id').execute()
  t.same(rows, [
    { id: 10, parent_id: null, duration_seconds: 1801, break_seconds: 1801, status: 'completed', survey_response_id: null },
    { id: 11, parent_id: 10, duration_seconds: 3600, break_seconds: 0, status: 'completed', survey_response_id: null },
    { id: 12, parent_id: null, duration_seconds: null, break_seconds: 0, status: 'active', survey_response_id: null }
  ])
  const indexes = (handle.sqlite.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'time_entries' and name not like 'sqlite_%' order by name").all() as Array<{ name: string }>).map((r) => r.name)
  t.same(indexes, ['time_entries_account_in', 'time_entries_account_location', 'time_entries_account_open', 'time_entries_account_updated',
    'time_entries_account_worker_in', 'time_entries_one_open', 'time_entries_parent', 'time_entries_survey_response'])
  t.equal(handle.sqlite.pragma('foreign_keys', { simple: true }), 1, 'foreign keys are back on')
  t.same(handle.sqlite.pragma('foreign_key_check'), [])
  t.same(handle.sqlite.prepare("select sql from sqlite_master where sql like '%time_entries_new%'").all(), [], 'nothing refers to the temporary name')
  // the rules hold on the rebuilt table: one open shift, a parent that exists
  t.throws(() => handle.sqlite.prepare("insert into time_entries (account_id, type, worker_id, clock_in, status, created_at, updated_at) values (1, 'shift', 5, '2025-01-01T12:00:00Z', 'active', 'x', 'x')").run(), { code: 'SQLITE_CONSTRAINT_UNIQUE' })
  t.throws(() => handle.sqlite.prepare("insert into time_entries (account_id, type, parent_id, worker_id, clock_in, status, created_at, updated_at) values (1, 'break', 999, 5, '2025-01-01T12:00:00Z', 'active', 'x', 'x')").run(), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' })

  // and down (to the migration before it; later ones go down first) restores the previous shape
  const down = await createMigrator(db).migrateTo('2026-12-07-040-search-index')
  t.equal(down.error, undefined)
  const columns = (handle.sqlite.pragma('table_info(time_entries)') as Array<{ name: string }>).map((c) => c.name)
  t.notOk(columns.includes('survey_response_id'))
  t.equal((await db.selectFrom('time_entries').select('id').execute()).length, 3)
  t.same(handle.sqlite.pragma('foreign_key_check'), [])
})
