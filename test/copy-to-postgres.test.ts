import t, { type Test } from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { setImmediate } from 'node:timers/promises'
import BetterSqlite3 from 'better-sqlite3'
import { sql } from 'kysely'
import pg from 'pg'
import { copySqliteToPostgres, CopyVerificationFailed, TableChecksum } from '../db/engine/copy-to-postgres.js'
import { buildTestApp, call, createTestKey, runCli } from './helper.js'
import { emptyPostgresDatabase, freshPostgresDatabase, postgresSkip } from './postgres.js'

const skip = await postgresSkip()

/** `tempclock demo` on a new SQLite file: the file, the demo's full-access key and its id. */
async function demoDatabase (t: Test): Promise<{ file: string, key: string, counts: Record<string, number> }> {
  const file = join(t.testdir(), 'data', 'tempclock.db')
  const demo = await runCli(['--db', file, '--json', 'demo'])
  t.equal(demo.code, 0, demo.stderr)
  const { key, counts } = JSON.parse(demo.stdout) as { key: string, counts: Record<string, number> }
  return { file, key, counts }
}

/** Row counts of the app's tables on PostgreSQL. */
async function postgresCounts (url: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const tables = await client.query<{ table_name: string }>(`select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'kysely%'`)
    const counts: Record<string, number> = {}
    for (const { table_name: table } of tables.rows) {
      counts[table] = Number((await client.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0]!.n)
    }
    return counts
  } finally {
    await client.end()
  }
}

function sqliteCount (file: string, table: string): number {
  const db = new BetterSqlite3(file, { readonly: true })
  try {
    return (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n
  } finally {
    db.close()
  }
}

t.test('a demo database copied to PostgreSQL carries on through the API with the same ids', { skip }, async (t) => {
  const { file, key, counts: demoCounts } = await demoDatabase(t)
  t.equal((await runCli(['--db', file, 'users', 'create', '--account', '1', '--email', 'admin@example.com'])).code, 0)

  // the SQLite server stays open (and writes) until the copy is made: the copy reads a snapshot
  const before = await buildTestApp(t, { dbPath: file, webhooksAllowLoopback: true })
  const hook = await call(before, key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: 'http://127.0.0.1:9/hook', events: ['*'] } })
  t.equal(hook.statusCode, 201)
  const created = await call(before, key, {
    method: 'POST', url: '/api/v1/workers.php', headers: { 'idempotency-key': 'copy-test-1' }, payload: { first_name: 'Ada', last_name: 'Lovelace' }
  })
  t.equal(created.statusCode, 201)
  const workerId = created.json().data.id as number
  // the newest shift is deleted: its id must never be given out again (SQLite's AUTOINCREMENT)
  // (the demo's shifts are numbered from 1 on a new database)
  const lastShift = demoCounts.shifts!
  const deleted = await call(before, key, { method: 'DELETE', url: `/api/v1/shifts.php?id=${lastShift}` })
  t.equal(deleted.statusCode, 200)
  const shift = deleted.json().data as { id: number, location_id: number }
  t.equal(shift.id, lastShift)

  const reads = ['/api/v1/workers.php?id=3', `/api/v1/workers.php?id=${workerId}`, '/api/v1/workers.php?search=ada&limit=5',
    '/api/v1/timesheets.php?entry_filter=all&limit=50', '/api/v1/locations.php', '/api/v1/surveys.php', `/api/v1/webhooks.php?id=${hook.json().data.id as number}`,
    '/api/v1/documents.php?limit=20']
  const onSqlite = await Promise.all(reads.map(async (url) => await call(before, key, { method: 'GET', url })))

  const url = await emptyPostgresDatabase(t)
  const copy = await runCli(['--db', file, '--json', 'copy-to-postgres', '--to', url])
  t.equal(copy.code, 0, copy.stderr)
  const report = JSON.parse(copy.stdout) as { ok: boolean, tables: Array<{ table: string, rows: number, sha256: string }>, skipped: string[] }
  t.equal(report.ok, true)
  const counts = await postgresCounts(url)
  t.same(report.tables.map((r) => r.table).sort(), Object.keys(counts).sort(), 'every table is copied')
  for (const { table, rows, sha256 } of report.tables) {
    t.equal(rows, sqliteCount(file, table), `${table}: the SQLite row count`)
    t.equal(counts[table], rows, `${table}: the same count on PostgreSQL`)
    t.match(sha256, /^[0-9a-f]{64}$/)
  }
  t.ok(report.tables.find((r) => r.table === 'workers')!.rows > 60)
  t.ok(report.tables.find((r) => r.table === 'idempotency_keys')!.rows > 0)
  t.ok(report.skipped.includes('workers_search') && report.skipped.includes('kysely_migration'), 'the search index and migration records stay behind')
  // the human summary, one line per table
  await before.close()

  const after = await buildTestApp(t, { databaseUrl: url })
  for (const [i, url] of reads.entries()) {
    const res = await call(after, key, { method: 'GET', url })
    t.equal(res.statusCode, 200, url)
    t.same(res.json(), onSqlite[i]!.json(), `${url}: the same answer on PostgreSQL, with the SQLite key`)
  }
  const replay = await call(after, key, {
    method: 'POST', url: '/api/v1/workers.php', headers: { 'idempotency-key': 'copy-test-1' }, payload: { first_name: 'Ada', last_name: 'Lovelace' }
  })
  t.same(replay.json(), created.json(), 'an Idempotency-Key used on SQLite replays on PostgreSQL')
  const next = await call(after, key, { method: 'POST', url: '/api/v1/workers.php', payload: { first_name: 'Grace', last_name: 'Hopper' } })
  t.equal(next.statusCode, 201)
  t.equal(next.json().data.id, workerId + 1, 'a new worker gets the next id')
  const nextShift = await call(after, key, {
    method: 'POST', url: '/api/v1/shifts.php', payload: { location_id: shift.location_id, start_time: '2027-01-04T08:00:00Z', end_time: '2027-01-04T16:00:00Z' }
  })
  t.equal(nextShift.statusCode, 201)
  t.equal(nextShift.json().data.id, lastShift + 1, 'the deleted shift\'s id is not given out again')
})

t.test('the human summary lists every table', { skip }, async (t) => {
  const { file } = await demoDatabase(t)
  const url = await freshPostgresDatabase(t)
  const copy = await runCli(['--db', file, 'copy-to-postgres', '--to', url])
  t.equal(copy.code, 0, copy.stderr)
  t.match(copy.stdout, /^Copied .*tempclock\.db to postgres.*: 17 tables, \d+ rows, every row count and checksum verified\n/)
  t.match(copy.stdout, /\nTABLE\s+ROWS\s+SHA-256\n/)
  t.match(copy.stdout, /\nworkers\s+60\s+[0-9a-f]{64}\n/)
  t.match(copy.stdout, /\nNot copied \(SQLite only\): .*workers_search/)
})

t.test('a copy made while the server writes is a consistent snapshot', { skip }, async (t) => {
  const { file } = await demoDatabase(t)
  const app = await buildTestApp(t, { dbPath: file })
  // a key without the demo key's 60 a minute
  const { key } = await createTestKey(app, 1)
  const demoEvents = sqliteCount(file, 'events')
  let writing = true
  let written = 0
  const writer = (async () => {
    while (writing) {
      const res = await call(app, key, { method: 'POST', url: '/api/v1/workers.php', payload: { first_name: 'During', last_name: `Copy ${written}` } })
      t.equal(res.statusCode, 201)
      written++
      // let the copy's own I/O run between the writes
      await setImmediate()
    }
  })()
  const url = await emptyPostgresDatabase(t)
  const copy = await runCli(['--db', file, '--json', 'copy-to-postgres', '--to', url])
  writing = false
  await writer
  t.equal(copy.code, 0, copy.stderr)
  const rows = Object.fromEntries((JSON.parse(copy.stdout) as { tables: Array<{ table: string, rows: number }> }).tables.map((r) => [r.table, r.rows]))
  t.ok(written > 0, 'the server wrote while the copy ran')
  t.ok(rows.workers! >= 60 && rows.workers! <= 60 + written)
  // each new worker commits with its worker_created event: a snapshot holds both or neither
  t.equal(rows.events! - demoEvents, rows.workers! - 60)
  t.equal(sqliteCount(file, 'workers'), 60 + written, 'the source is untouched by the copy')
})

t.test('a non-empty target is refused and left as it was', { skip }, async (t) => {
  const { file } = await demoDatabase(t)
  const url = await freshPostgresDatabase(t)
  t.equal((await runCli(['--database-url', url, 'accounts', 'create', '--name', 'Already here'])).code, 0)
  const copy = await runCli(['--db', file, 'copy-to-postgres', '--to', url])
  t.equal(copy.code, 1)
  t.equal(copy.stdout, '')
  t.match(copy.stderr, /^tempclock: error: the target database is not empty \(table accounts has rows\): copy-to-postgres only writes into an empty database/)
  const counts = await postgresCounts(url)
  t.equal(counts.accounts, 1)
  t.equal(counts.workers, 0)

  // a copy made once is refused the second time, too
  const target = await emptyPostgresDatabase(t)
  t.equal((await runCli(['--db', file, 'copy-to-postgres', '--to', target])).code, 0)
  const again = await runCli(['--db', file, 'copy-to-postgres', '--to', target])
  t.equal(again.code, 1)
  t.match(again.stderr, /not empty/)
})

t.test('a source that is missing or not a TempClock database is refused', { skip }, async (t) => {
  const dir = t.testdir({ 'other.db': '' })
  const url = await emptyPostgresDatabase(t)
  const missing = await runCli(['--db', join(dir, 'none.db'), 'copy-to-postgres', '--to', url])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^tempclock: error: cannot open the SQLite database .*none\.db/)
  t.notOk(existsSync(join(dir, 'none.db')), 'nothing is created')
  const other = await runCli(['--db', join(dir, 'other.db'), 'copy-to-postgres', '--to', url])
  t.equal(other.code, 1)
  t.match(other.stderr, /other\.db is not a TempClock database/)
  const notPostgres = await runCli(['--db', join(dir, 'other.db'), 'copy-to-postgres', '--to', 'mysql://u:pw@h/db'])
  t.equal(notPostgres.code, 1)
  t.match(notPostgres.stderr, /--to must be a postgres:\/\/ or postgresql:\/\/ URL/)
  t.notMatch(notPostgres.stderr, /pw/)
  t.same(await postgresCounts(url), {}, 'the target is untouched')
})

t.test('rows that differ after the copy fail verification and nothing is committed', { skip }, async (t) => {
  const { file } = await demoDatabase(t)
  const url = await freshPostgresDatabase(t)
  const failure = await copySqliteToPostgres({
    from: file,
    to: url,
    beforeVerify: async (trx) => {
      await sql`update workers set first_name = 'Tampered' where id = 3`.execute(trx)
      await sql`delete from documents where id = (select max(id) from documents)`.execute(trx)
    }
  }).then(() => undefined, (err: unknown) => err)
  t.type(failure, CopyVerificationFailed)
  const { message, tables } = failure as CopyVerificationFailed
  t.match(message, /^verification failed, nothing was committed: /)
  t.match(message, /workers has 60 rows \(sha256 [0-9a-f]{12}\) on SQLite and 60 \(sha256 [0-9a-f]{12}\) on PostgreSQL/)
  t.match(message, /documents has 90 rows .* and 89 /)
  t.same(tables.filter((r) => r.target !== undefined).map((r) => r.table).sort(), ['documents', 'workers'], 'only the tampered tables differ')
  t.same(Object.values(await postgresCounts(url)).filter((n) => n > 0), [], 'every copied row was rolled back')
})

t.test('the checksum: the same rows on both engines match, any changed value does not', async (t) => {
  const columns = [
    { name: 'id', type: 'integer' },
    { name: 'active', type: 'boolean' },
    { name: 'scopes', type: 'jsonb' },
    { name: 'payload', type: 'text' },
    { name: 'created_at', type: 'timestamp with time zone' },
    { name: 'latitude', type: 'double precision' }
  ]
  const digest = (rows: Array<Record<string, unknown>>): string => {
    const sum = new TableChecksum(columns)
    for (const row of rows) sum.add(row)
    return sum.digest()
  }
  const sqliteRow = { id: 1, active: 1, scopes: '["workers:read","locations:read"]', payload: '{"b":1,"a":2}', created_at: '2026-12-07T06:35:43Z', latitude: 53.80128 }
  // as PostgreSQL gives it: a boolean, and jsonb's own spacing and key order
  const postgresRow = { latitude: 53.80128, created_at: '2026-12-07T06:35:43Z', payload: '{"b":1,"a":2}', scopes: '["workers:read", "locations:read"]', active: true, id: 1 }
  t.equal(digest([sqliteRow]), digest([postgresRow]))
  t.equal(digest([{ ...sqliteRow, scopes: '{"b":[1,{"y":1,"x":2}],"a":null}' }]), digest([{ ...postgresRow, scopes: '{"a": null, "b": [1, {"x": 2, "y": 1}]}' }]))
  for (const changed of [{ active: false }, { scopes: '["locations:read", "workers:read"]' }, { payload: '{"a":2,"b":1}' },
    { created_at: '2026-12-07T06:35:44Z' }, { latitude: 53.8013 }, { id: 2 }, { payload: null }]) {
    t.not(digest([sqliteRow]), digest([{ ...postgresRow, ...changed }]), `a different ${Object.keys(changed)[0]!}`)
  }
  t.not(digest([sqliteRow, { ...sqliteRow, id: 2 }]), digest([{ ...sqliteRow, id: 2 }, sqliteRow]), 'row order counts')
  t.not(digest([sqliteRow]), digest([sqliteRow, sqliteRow]), 'a row more counts')
})
