import t, { type Test } from 'tap'
import fc from 'fast-check'
import BetterSqlite3 from 'better-sqlite3'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely'
import pg from 'pg'
import { CostCodeStore } from '../db/cost-codes.js'
import { DepartmentStore } from '../db/departments.js'
import { openPostgresEngine, type PostgresEngine } from '../db/engine/postgres/index.js'
import { IdempotencyStore } from '../db/idempotency.js'
import { LocationStore } from '../db/locations.js'
import { syncIdSequences } from '../db/engine/postgres/sequences.js'
import { postgresMigrations } from '../db/migrations/postgres/index.js'
import { migrations as sqliteMigrations } from '../db/migrations/sqlite/index.js'
import { DB_INSIDE_WRITE, NESTED_WRITE, type WriteOptions } from '../db/engine/write-scope.js'
import { emptyPostgresDatabase, freshPostgresDatabase, postgresSkip, TestPostgresServer } from './postgres.js'
import { waitFor } from './webhook-receiver.js'

const skip = await postgresSkip()
const NOW = '2026-12-07T06:35:43Z'

/** Raw rows, whatever db/types.ts says of their defaults and column types. */
const untyped = (db: Kysely<any>): Kysely<any> => db

function open (t: Test, url: string, options: { statementTimeoutMs?: number, writeGuard?: boolean, poolSize?: number, connectionTimeoutMs?: number } = {}): PostgresEngine {
  const engine = openPostgresEngine({ url, ...options })
  t.teardown(async () => { await engine.close() })
  return engine
}

async function freshEngine (t: Test): Promise<PostgresEngine> {
  return open(t, await freshPostgresDatabase(t))
}

async function insertAccount (engine: PostgresEngine, name = 'Acme', options?: WriteOptions): Promise<number> {
  return await engine.write(async (trx) => (await untyped(trx).insertInto('accounts')
    .values({ name, timezone: 'UTC', api_enabled: true as any, created_at: NOW, updated_at: NOW })
    .returning('id').executeTakeFirstOrThrow()).id, options)
}

async function insertDepartment (engine: PostgresEngine, accountId: number): Promise<number> {
  return await engine.write(async (trx) => (await untyped(trx).insertInto('departments')
    .values({ account_id: accountId, name: 'Stores', created_at: NOW, updated_at: NOW })
    .returning('id').executeTakeFirstOrThrow()).id as number)
}

t.test('migrations apply once when two processes start together', { skip }, async (t) => {
  const url = await emptyPostgresDatabase(t)
  const a = open(t, url)
  const b = open(t, url)
  await Promise.all([a.migrate(), b.migrate()])
  await a.migrate()
  const applied = await a.db.selectFrom('kysely_migration' as any).select('name').execute()
  t.same(applied.map((r: any) => r.name), Object.keys(postgresMigrations))
  t.equal((await a.db.selectFrom('accounts').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n, 0)
})

t.test('compiled queries run as prepared statements, except those whose columns are `*`', { skip }, async (t) => {
  const url = await freshPostgresDatabase(t)
  const engine = openPostgresEngine({ url, poolSize: 1 })
  t.teardown(async () => { await engine.close() })
  const accountId = await insertAccount(engine, 'Acme')
  const listed = engine.compile((param: (name: 'id') => any) => engine.db.selectFrom('accounts').select(['id', 'name']).where('id', '=', param('id')))
  const starred = engine.compile((param: (name: 'id') => any) => engine.db.selectFrom('accounts').selectAll().where('id', '=', param('id')))
  const counted = engine.compile((param: (name: 'name') => any) => engine.db.selectFrom('accounts').select(sql<number>`count(*)`.as('n')).where('name', '=', param('name')))
  const rename = engine.compile((param: (name: 'id' | 'name') => any) => engine.db.updateTable('accounts').set({ name: param('name') }).where('id', '=', param('id')).returning(['id', 'name']))
  const preparedTexts = async (): Promise<string[]> => (await sql<{ statement: string }>`select statement from pg_prepared_statements order by prepare_time`.execute(engine.db)).rows.map((r) => r.statement)

  t.same(await listed.read({ id: accountId }), [{ id: accountId, name: 'Acme' }])
  t.equal((await starred.read({ id: accountId }))[0]?.name, 'Acme')
  t.same(await counted.read({ name: 'Acme' }), [{ n: 1 }])
  t.same(await engine.write(async (trx) => await rename.run(trx, { id: accountId, name: 'Renamed' })), [{ id: accountId, name: 'Renamed' }])
  // the one connection has prepared what it ran, inside a write too
  const texts = await preparedTexts()
  t.equal(texts.length, 3, 'three statements prepared: not the one with `select *`')
  t.ok(texts.some((text) => text.includes('select "id", "name" from "accounts"')))
  t.ok(texts.some((text) => text.includes('count(*)')))
  t.ok(texts.some((text) => text.startsWith('update "accounts"')))
  t.notOk(texts.some((text) => text.includes('select * from')))

  // a rolling deploy's migration adds a column while the statements are prepared: both still answer
  await sql`alter table accounts add column extra text`.execute(engine.db)
  t.same(await listed.read({ id: accountId }), [{ id: accountId, name: 'Renamed' }])
  t.equal(((await starred.read({ id: accountId }))[0] as Record<string, unknown> | undefined)?.extra, null, '`select *` was never prepared, so it sees the new column')
  t.same(await engine.write(async (trx) => await rename.run(trx, { id: accountId, name: 'Again' })), [{ id: accountId, name: 'Again' }])
})

t.test('the stores\' whole-row reads by id list their columns, so they are prepared too', { skip }, async (t) => {
  const url = await freshPostgresDatabase(t)
  const engine = openPostgresEngine({ url, poolSize: 1 })
  t.teardown(async () => { await engine.close() })
  const accountId = await insertAccount(engine, 'Acme')
  const stores = [new LocationStore(engine), new DepartmentStore(engine), new CostCodeStore(engine)]
  for (const store of stores) t.equal(await store.find(accountId, 1), undefined)
  t.equal(await new IdempotencyStore(engine).find(1, 'key-1'), undefined)
  const prepared = (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(engine.db)).rows.map((r) => r.statement)
  for (const table of ['locations', 'departments', 'cost_codes', 'idempotency_keys']) {
    t.ok(prepared.some((text) => text.includes(`from "${table}" where`)), `the read of ${table} by its key is prepared`)
  }
})

t.test('misuse throws at once: engine.db inside a write, a write inside a write', { skip }, async (t) => {
  const engine = await freshEngine(t)
  await t.rejects(engine.write(async () => await engine.db.selectFrom('accounts').selectAll().execute()), { message: DB_INSIDE_WRITE })
  await t.rejects(engine.write(async () => await engine.write(async () => 1)), { message: NESTED_WRITE })
  const query = engine.compile((param: (name: 'id') => any) => engine.db.selectFrom('accounts').select('id').where('id', '=', param('id')))
  await t.rejects(engine.write(async () => await query.read({ id: 1 })), { message: DB_INSIDE_WRITE })
  await t.rejects(query.run(engine.db, { id: 1 }), /needs the trx/)
  await t.rejects(engine.write(async () => { await engine.sql.lockKey(engine.db, 'k') }), /lockKey needs the trx/)
  // and the engine still works afterwards (nothing left waiting)
  t.type(await insertAccount(engine), 'number')
})

t.test('guard off (production): the same misuse never hangs; it reads outside the write, or fails at a timeout', { skip }, async (t) => {
  const url = await freshPostgresDatabase(t)
  const engine = open(t, url, { writeGuard: false, statementTimeoutMs: 500 })
  await insertAccount(engine, 'Committed')
  // engine.db inside a write: another pool connection, which sees the committed state only
  const seen = await engine.write(async (trx) => {
    await untyped(trx).insertInto('accounts').values({ name: 'Mine', timezone: 'UTC', api_enabled: true as any, created_at: NOW, updated_at: NOW }).execute()
    return (await engine.db.selectFrom('accounts').select('name').execute()).map((r) => r.name)
  })
  t.same(seen, ['Committed'])
  // a nested write that waits for a lock the outer unit holds: the statement timeout ends it
  const started = Date.now()
  await t.rejects(engine.write(async (trx) => {
    await engine.sql.lockKey(trx, 'same')
    await engine.write(async (inner) => { await engine.sql.lockKey(inner, 'same') })
  }), /statement timeout/)
  t.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms`)
  // with every connection taken by the unit itself, the wait for another ends at the pool's timeout
  const single = open(t, url, { writeGuard: false, poolSize: 1, connectionTimeoutMs: 300 })
  await t.rejects(single.write(async () => await single.db.selectFrom('accounts').select('id').execute()), /timeout/i)
  t.type(await insertAccount(engine, 'After'), 'number', 'the engine still works')
})

t.test('compiled queries take named values; a missing or unknown one throws', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const id = await insertAccount(engine, 'Named')
  await insertAccount(engine, 'Other')
  // the builder's own constants stay in place between the named values
  const withConstant = engine.compile((param: (name: 'id' | 'name') => any) => engine.db.selectFrom('accounts')
    .select(['id', 'name'])
    .where('name', '=', param('name'))
    .where('timezone', '=', 'UTC')
    .where('id', '=', param('id')))
  t.same(await withConstant.read({ name: 'Named', id }), [{ id, name: 'Named' }])
  const simple = engine.compile((param: (name: 'id' | 'name') => any) => engine.db.selectFrom('accounts')
    .select(['id', 'name']).where('name', '=', param('name')).where('id', '=', param('id')))
  t.same(await simple.readFirst({ id, name: 'Named' }), { id, name: 'Named' })
  t.same(await simple.read({ name: 'Named', id: id + 1 }), [])
  await t.rejects(simple.read({ id } as any), /without a value for 'name'/)
  await t.rejects(simple.read({ id, name: 'Named', extra: 1 } as any), /with 'extra', which it does not use/)
  const rename = engine.compile((param: (name: 'id' | 'name') => any) => engine.db.updateTable('accounts')
    .set({ name: param('name'), updated_at: NOW }).where('id', '=', param('id')).returning('name'))
  t.same(await engine.write(async (trx) => await rename.runFirst(trx, { id, name: 'Renamed' })), { name: 'Renamed' })
  t.same(await simple.readFirst({ id, name: 'Renamed' }), { id, name: 'Renamed' })
})

t.test('rows look as on SQLite: booleans, ISO timestamps, dates, JSON text, counts as numbers', { skip }, async (t) => {
  const url = await freshPostgresDatabase(t)
  // a server whose default time zone is not UTC: the engine's sessions run in UTC all the same
  const setup = open(t, url)
  const { name } = (await sql<{ name: string }>`select current_database() as name`.execute(setup.db)).rows[0]!
  await sql`alter database ${sql.id(name)} set timezone = 'Pacific/Auckland'`.execute(setup.db)
  await setup.close()
  const engine = open(t, url)
  const accountId = await insertAccount(engine)
  const row = await engine.write(async (trx) => {
    const key = await untyped(trx).insertInto('api_keys').values({
      account_id: accountId, name: 'k', key_hash: 'h', key_prefix: 'tc_live_ab', scopes: '["workers:read","clock:write"]',
      full_access: false as any, expires_at: '2026-12-07T08:35:43.999+02:00', created_at: NOW, updated_at: NOW
    }).returningAll().executeTakeFirstOrThrow()
    const worker = await untyped(trx).insertInto('workers').values({ account_id: accountId, first_name: 'A', last_name: 'B', created_at: NOW, updated_at: NOW }).returning('id').executeTakeFirstOrThrow()
    await untyped(trx).insertInto('documents').values({ account_id: accountId, worker_id: worker.id, type: 'licence', issued_on: '2026-01-31', expires_on: '2026-12-31', created_at: NOW, updated_at: NOW }).execute()
    return key
  })
  t.equal(row.full_access, false)
  t.equal(row.expires_at, '2026-12-07T06:35:43Z', 'another offset and a fraction: UTC at second precision')
  t.equal(row.created_at, NOW)
  t.equal(row.revoked_at, null)
  t.equal(typeof row.scopes, 'string', 'jsonb comes back as its text')
  t.same(JSON.parse(row.scopes), ['workers:read', 'clock:write'])
  const account = await engine.db.selectFrom('accounts').selectAll().executeTakeFirstOrThrow()
  t.equal(account.api_enabled, true)
  const document = await engine.db.selectFrom('documents').select(['issued_on', 'expires_on', 'expired_notified_on']).executeTakeFirstOrThrow()
  t.same(document, { issued_on: '2026-01-31', expires_on: '2026-12-31', expired_notified_on: null })
  const counted = await engine.db.selectFrom('api_keys').select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('expires_at').as('latest')]).executeTakeFirstOrThrow()
  t.same(counted, { n: 1, latest: '2026-12-07T06:35:43Z' })
  // dates and timestamps computed in SQL are UTC whatever the server's time zone
  const computed = await sql<{ day: string, at: string, ms: number }>`select (timestamptz '2026-12-07T23:30:00Z')::date as day,
    timestamptz '2026-12-08T01:30:00+02:00' as at, 1765089343000::bigint as ms`.execute(engine.db)
  t.same(computed.rows[0], { day: '2026-12-07', at: '2026-12-07T23:30:00Z', ms: 1765089343000 })
  // a statement that changes its session's zone still reads UTC; a timestamp without zone is UTC
  const zoned = await engine.write(async (trx) => {
    await sql`set local time zone 'Asia/Kolkata'`.execute(trx)
    return (await sql<{ at: string, naive: string, sum: number }>`select timestamptz '2026-12-07T06:35:43.5Z' as at,
      timestamp '2026-12-07 06:35:43' as naive, sum(x)::numeric as sum from (values (1), (2)) as v (x)`.execute(trx)).rows[0]
  })
  t.same(zoned, { at: '2026-12-07T06:35:43Z', naive: '2026-12-07T06:35:43Z', sum: 3 })
})

t.test('a write commits with its unit extension, and the extension hears after the commit', { skip }, async (t) => {
  const engine = await freshEngine(t)
  let committed = 0
  const extension = {
    extend: <T>(fn: (trx: any) => Promise<T>) => async (trx: any): Promise<T> => {
      const value = await fn(trx)
      await untyped(trx).insertInto('accounts').values({ name: 'from the extension', created_at: NOW, updated_at: NOW }).execute()
      t.equal(committed, 0)
      return value
    },
    committed: () => { committed++ }
  }
  await insertAccount(engine, 'from the unit', { extension })
  t.equal(committed, 1)
  const names = (await engine.db.selectFrom('accounts').select('name').orderBy('id').execute()).map((r) => r.name)
  t.same(names, ['from the unit', 'from the extension'])
  await t.rejects(engine.write(async () => { throw new Error('no') }, { extension }), { message: 'no' })
  t.equal(committed, 1, 'a unit that fails commits nothing and is not reported')
  t.equal((await engine.db.selectFrom('accounts').select('id').execute()).length, 2)
})

/**
 * Two writes of a counter, each reading it and writing it back. With `meet`, each waits after its
 * read until the other has read too (both read the same value, unless one could not read at all).
 */
async function raceCounter (engine: PostgresEngine, accountId: number, key: (i: number) => string | null, meet: boolean): Promise<string> {
  let read = 0
  let bothRead!: () => void
  const met = new Promise<void>((resolve) => { bothRead = resolve })
  const bump = async (i: number): Promise<void> => {
    await engine.write(async (trx) => {
      const k = key(i)
      if (k !== null) await engine.sql.lockKey(trx, k)
      const { name } = await trx.selectFrom('accounts').select('name').where('id', '=', accountId).executeTakeFirstOrThrow()
      if (++read === 2) bothRead()
      if (meet) {
        await Promise.race([met, sleep(5_000).then(() => { throw new Error('the other write never read: it was kept waiting') })])
      } else {
        await sleep(100)
      }
      await trx.updateTable('accounts').set({ name: String(Number(name) + 1) }).where('id', '=', accountId).execute()
    })
  }
  await Promise.all([bump(0), bump(1)])
  return (await engine.db.selectFrom('accounts').select('name').where('id', '=', accountId).executeTakeFirstOrThrow()).name
}

t.test('lockKey serialises the writes that take the same key', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const accountId = await insertAccount(engine, '0')
  t.equal(await raceCounter(engine, accountId, () => null, true), '1', 'without the lock one update is lost (the race is real)')
  t.equal(await raceCounter(engine, accountId, () => 'counter', false), '3', 'with it both count')
  t.equal(await raceCounter(engine, accountId, (i) => `counter ${i}`, true), '4', 'different keys do not wait for each other')
})

t.test('lockedForWrite: writes that lock the same row take turns, and each reads what the previous committed', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const accountId = await insertAccount(engine, '0')
  // each reads the counter in the statement that locks its row, then writes it back
  const bump = async (): Promise<void> => {
    await engine.write(async (trx) => {
      const { name } = await engine.sql.lockedForWrite(untyped(trx).selectFrom('accounts').select('name').where('id', '=', accountId)).executeTakeFirstOrThrow()
      await sleep(50)
      await untyped(trx).updateTable('accounts').set({ name: String(Number(name) + 1) }).where('id', '=', accountId).execute()
    })
  }
  await Promise.all([bump(), bump(), bump()])
  t.equal((await engine.db.selectFrom('accounts').select('name').where('id', '=', accountId).executeTakeFirstOrThrow()).name, '3', 'no update lost')
})

t.test('lockedForWrite locks only `of`, and lets other writes insert rows that reference the locked row', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const account = await insertAccount(engine, 'owner')
  const department = await insertDepartment(engine, account)
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  let locked!: () => void
  const isLocked = new Promise<void>((resolve) => { locked = resolve })
  const holder = engine.write(async (trx) => {
    await engine.sql.lockedForWrite(untyped(trx).selectFrom('departments as d').innerJoin('accounts as a', 'a.id', 'd.account_id').select('d.id')
      .where('d.id', '=', department), 'd').execute()
    locked()
    await held
  })
  await isLocked
  // a foreign key check takes a KEY SHARE lock on the row it references; FOR UPDATE would block it
  const inserted = await Promise.race([
    engine.write(async (trx) => await untyped(trx).insertInto('workers')
      .values({ account_id: account, first_name: 'A', last_name: 'B', department_id: department, preferred_language: 'en', active: true, created_at: NOW, updated_at: NOW })
      .returning('id').executeTakeFirstOrThrow()).then(() => 'inserted'),
    sleep(3_000).then(() => 'kept waiting')
  ])
  const accountFree = await Promise.race([
    engine.write(async (trx) => { await untyped(trx).updateTable('accounts').set({ name: 'renamed' }).where('id', '=', account).execute() }).then(() => 'updated'),
    sleep(3_000).then(() => 'kept waiting')
  ])
  const departmentUpdate = engine.write(async (trx) => { await untyped(trx).updateTable('departments').set({ name: 'renamed' }).where('id', '=', department).execute() })
  const departmentHeld = await Promise.race([departmentUpdate.then(() => 'updated'), sleep(500).then(() => 'kept waiting')])
  release()
  await holder
  await departmentUpdate
  t.equal(inserted, 'inserted', 'a row referencing the locked one is inserted meanwhile')
  t.equal(accountFree, 'updated', 'the joined row is not locked')
  t.equal(departmentHeld, 'kept waiting', 'the locked row itself waits for the holder')
})

t.test('claimable rows: a second claimer skips the row the first holds', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const first = await insertAccount(engine, 'first')
  const second = await insertAccount(engine, 'second')
  const claim = async (trx: Kysely<any>): Promise<number | undefined> =>
    (await engine.sql.claimable(trx.selectFrom('accounts').select('id').orderBy('id').limit(1)).executeTakeFirst())?.id
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  let claimedFirst!: () => void
  const firstClaimed = new Promise<void>((resolve) => { claimedFirst = resolve })
  const a = engine.write(async (trx) => {
    const id = await claim(trx)
    claimedFirst()
    await held
    return id
  })
  await firstClaimed
  const b = await engine.write(async (trx) => await claim(trx))
  release()
  t.equal(await a, first)
  t.equal(b, second)
})

t.test('claimable with `of` locks only the claimed table\'s rows: a joined row another write holds does not hide them', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const account = await insertAccount(engine, 'owner')
  const department = await insertDepartment(engine, account)
  const claim = async (trx: Kysely<any>, of?: 'd'): Promise<number | undefined> =>
    (await engine.sql.claimable(trx.selectFrom('departments as d').innerJoin('accounts as a', 'a.id', 'd.account_id')
      .select('d.id'), of).executeTakeFirst())?.id
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  let lockedAccount!: () => void
  const accountLocked = new Promise<void>((resolve) => { lockedAccount = resolve })
  // another write holds the account row, as a subscription update holds a subscription
  const holder = engine.write(async (trx) => {
    await untyped(trx).selectFrom('accounts').select('id').where('id', '=', account).forUpdate().execute()
    lockedAccount()
    await held
  })
  await accountLocked
  const withOf = await engine.write(async (trx) => await claim(trx, 'd'))
  const withoutOf = await engine.write(async (trx) => await claim(trx))
  release()
  await holder
  t.equal(withOf, department, 'claimed although its account row is locked')
  t.equal(withoutOf, undefined, 'without `of` the joined row\'s lock hides it (what `of` is for)')
})

t.test('a deadlock rolls one write back and runs it again', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const one = await insertAccount(engine, 'one')
  const two = await insertAccount(engine, 'two')
  let runs = 0
  let bothLocked!: () => void
  let locked = 0
  const barrier = new Promise<void>((resolve) => { bothLocked = resolve })
  const cross = async (first: number, second: number): Promise<void> => {
    await engine.write(async (trx) => {
      runs++
      await trx.updateTable('accounts').set({ timezone: 'Europe/London' }).where('id', '=', first).execute()
      if (++locked === 2) bothLocked()
      await barrier
      await trx.updateTable('accounts').set({ timezone: 'Europe/London' }).where('id', '=', second).execute()
    })
  }
  await Promise.all([cross(one, two), cross(two, one)])
  t.equal(runs, 3, 'the deadlock victim ran twice, the other once')
})

t.test('an unanswered statement is sent with the next one: a write commits it, or fails with its own error and commits nothing', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const accountId = await insertAccount(engine)
  const outbox = engine.compile((param: (name: 'accountId' | 'type') => any) => untyped(engine.db).insertInto('events')
    .values({ account_id: param('accountId'), type: param('type'), payload: '{}', created_at: NOW }), { unanswered: true })
  const events = async (): Promise<string[]> => (await untyped(engine.db).selectFrom('events').select('type').orderBy('id').execute()).map((r) => r.type as string)

  // the statements after it see what it wrote, in order; the commit keeps both
  const seen = await engine.write(async (trx) => {
    t.same(await outbox.run(trx, { accountId, type: 'clock_in' }), [], 'it answers no rows')
    await outbox.run(trx, { accountId, type: 'clock_out' })
    return (await untyped(trx).selectFrom('events').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n
  })
  t.equal(seen, 2)
  t.same(await events(), ['clock_in', 'clock_out'])

  // its failure (a foreign key) is the write's, with its own error, and nothing of the write stays:
  // when it is the last statement before COMMIT, and when statements follow it
  const failing = [
    async (trx: Kysely<any>) => { await trx.updateTable('accounts').set({ name: 'Renamed' }).where('id', '=', accountId).execute(); await outbox.run(trx, { accountId: accountId + 1000, type: 'clock_in' }) },
    async (trx: Kysely<any>) => { await outbox.run(trx, { accountId: accountId + 1000, type: 'clock_in' }); await trx.updateTable('accounts').set({ name: 'Renamed' }).where('id', '=', accountId).execute() }
  ]
  for (const unit of failing) {
    await t.rejects(engine.write(unit), { code: '23503', constraint: 'events_account_id_fkey' })
    t.equal((await untyped(engine.db).selectFrom('accounts').select('name').where('id', '=', accountId).executeTakeFirstOrThrow()).name, 'Acme', 'the write before it is rolled back')
  }
  t.same(await events(), ['clock_in', 'clock_out'])
  // and the pool's connections are clean for the next write
  await engine.write(async (trx) => { await outbox.run(trx, { accountId, type: 'worker_created' }) })
  t.same(await events(), ['clock_in', 'clock_out', 'worker_created'])

  // a unit that throws after it: rolled back, the unit's own error
  await t.rejects(engine.write(async (trx) => { await outbox.run(trx, { accountId, type: 'ping' }); throw new Error('the unit gives up') }), /the unit gives up/)
  t.same(await events(), ['clock_in', 'clock_out', 'worker_created'])

  t.throws(() => engine.compile((param: (name: 'accountId') => any) => untyped(engine.db).insertInto('events')
    .values({ account_id: param('accountId'), type: 'ping', payload: '{}', created_at: NOW }).returning('id'), { unanswered: true }), /without RETURNING/)

  // the same SQL built per call is not taken for the unanswered statement: it waits for its answer
  const inserted = await engine.write(async (trx) => await untyped(trx).insertInto('events')
    .values({ account_id: accountId, type: 'ping', payload: '{}', created_at: NOW }).executeTakeFirst())
  t.equal(inserted.numInsertedOrUpdatedRows, 1n, 'an answer of its own')

  // a value pg cannot send, right after the BEGIN sent ahead of it: the write fails, the process
  // carries on (pg rejects it before BEGIN is answered), and so does the next write
  await t.rejects(engine.write(async (trx) => await sql`select ${{ big: 1n }}::jsonb as v`.execute(trx)), /BigInt/)
  await engine.write(async (trx) => { await outbox.run(trx, { accountId, type: 'worker_updated' }) })
  t.same((await events()).slice(-2), ['ping', 'worker_updated'])
})

t.test('unique violations are recognised with their column', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const accountId = await insertAccount(engine)
  const failure = async (fn: (trx: Kysely<any>) => Promise<unknown>): Promise<unknown> =>
    await engine.write(fn).then(() => { throw new Error('expected a unique violation') }, (err: unknown) => err)
  const costCode = { account_id: accountId, code: 'C1', name: 'x', created_at: NOW, updated_at: NOW }
  await engine.write(async (trx) => await untyped(trx).insertInto('cost_codes').values(costCode).execute())
  const err = await failure(async (trx) => await untyped(trx).insertInto('cost_codes').values(costCode).execute())
  t.ok(engine.sql.isUniqueViolation(err))
  t.ok(engine.sql.isUniqueViolation(err, 'cost_codes.code'))
  t.ok(engine.sql.isUniqueViolation(err, 'cost_codes.account_id'))
  t.notOk(engine.sql.isUniqueViolation(err, 'cost_codes.name'))
  t.notOk(engine.sql.isUniqueViolation(err, 'workers.code'))
  t.notOk(engine.isUnavailable(err))

  // a partial unique index
  const survey = { account_id: accountId, name: 's', questions: '[]', created_at: NOW, updated_at: NOW }
  await engine.write(async (trx) => await untyped(trx).insertInto('surveys').values(survey).execute())
  const surveyErr = await failure(async (trx) => await untyped(trx).insertInto('surveys').values(survey).execute())
  t.ok(engine.sql.isUniqueViolation(surveyErr, 'surveys.account_id'))
  await engine.write(async (trx) => await untyped(trx).insertInto('surveys').values({ ...survey, active: false as any }).execute())

  const notNull = await failure(async (trx) => await untyped(trx).insertInto('cost_codes').values({ ...costCode, code: null as any }).execute())
  t.notOk(engine.sql.isUniqueViolation(notNull))
})

// the reference the search must agree with (README.md, "Lists"), as in test/search.test.ts
const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase())
const contains = (value: string | null, term: string): boolean => value !== null && asciiLower(value).includes(asciiLower(term))
const ALPHABET = ['a', 'b', 'A', 'B', 'k', 'K', 'i', 'é', 'É', '\u212A', 'İ', 'ß', '%', '_', '\\', '"', '*', ':', '(', ' ', '-', '1', '😀']
const text = (max: number): fc.Arbitrary<string> => fc.array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: max }).map((cs) => cs.join(''))

t.test('search: an ASCII-case-insensitive substring, every character literal, as on SQLite', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const accountId = await insertAccount(engine)
  const names = fc.sample(fc.tuple(text(8), text(8), fc.option(text(6))), { numRuns: 60, seed: 14 })
  await engine.write(async (trx) => {
    await untyped(trx).insertInto('workers').values(names.map(([first, last, ref], i) => ({
      account_id: accountId, first_name: first, last_name: last, employee_ref: ref === null ? null : `${ref}#${i}`, created_at: NOW, updated_at: NOW
    }))).execute()
  })
  const workers = await engine.db.selectFrom('workers').select(['id', 'first_name', 'last_name', 'employee_ref']).orderBy('id').execute()
  const columns = ['first_name', 'last_name', 'employee_ref'] as const
  await fc.assert(fc.asyncProperty(fc.oneof(text(4), fc.constantFrom(...names.map(([first]) => [...first].slice(1, 4).join('')))), async (term) => {
    const found = await engine.db.selectFrom('workers').select('id')
      .where(engine.sql.matchesSearch('workers', columns, term)).orderBy('id').execute()
    const expected = workers.filter((w) => columns.some((c) => contains(w[c], term))).map((w) => w.id)
    t.same(found.map((r) => r.id), expected, `search ${JSON.stringify(term)}`)
    const first = await engine.db.selectFrom('workers').select('id').where(engine.sql.containsText('workers.first_name', term)).orderBy('id').execute()
    t.same(first.map((r) => r.id), workers.filter((w) => contains(w.first_name, term)).map((w) => w.id))
  }), { numRuns: 80, seed: 14 })

  // the trigram index serves the search (when the planner is told to avoid scanning the table or a whole index)
  const plan = await engine.write(async (trx) => {
    // (a plain index scan would walk a whole btree index instead: also off)
    for (const setting of ['enable_seqscan', 'enable_indexscan', 'enable_indexonlyscan']) await sql`select set_config(${setting}, 'off', true)`.execute(trx)
    const query = trx.selectFrom('workers').select('id').where(engine.sql.matchesSearch('workers', columns, 'abc')).compile()
    const explained = await trx.executeQuery<{ 'QUERY PLAN': string }>({ ...query, sql: `explain ${query.sql}` })
    return explained.rows.map((r) => r['QUERY PLAN']).join('\n')
  })
  t.match(plan, /workers_search/)
})

t.test('jsonArrayContains finds a number in a JSON array column', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const accountId = await insertAccount(engine)
  await engine.write(async (trx) => {
    await untyped(trx).insertInto('surveys').values([
      { account_id: accountId, name: 'a', active: false as any, location_ids: '[1, 2]', questions: '[]', created_at: NOW, updated_at: NOW },
      { account_id: accountId, name: 'b', active: false as any, location_ids: '[12]', questions: '[]', created_at: NOW, updated_at: NOW },
      { account_id: accountId, name: 'c', active: false as any, location_ids: null, questions: '[]', created_at: NOW, updated_at: NOW }
    ]).execute()
  })
  const named = async (value: number): Promise<string[]> => (await engine.db.selectFrom('surveys').select('name')
    .where(engine.sql.jsonArrayContains('surveys.location_ids', value)).orderBy('id').execute()).map((r) => r.name)
  t.same(await named(1), ['a'])
  t.same(await named(2), ['a'])
  t.same(await named(12), ['b'])
  t.same(await named(3), [])
})

async function closedPort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

t.test('wakeups: a notification wakes the other processes, not its sender; a lost listener reconnects and wakes once', { skip }, async (t) => {
  const url = await freshPostgresDatabase(t)
  const applicationName = `wakeups-test-${process.pid}`
  const a = openPostgresEngine({ url, applicationName })
  t.teardown(async () => { await a.close() })
  const b = open(t, url)
  let woken = 0
  let sender = 0
  await a.wakeups!.listen('tempclock_test', () => { woken++ })
  await b.wakeups!.listen('tempclock_test', () => { sender++ })
  await b.wakeups!.notify('tempclock_test')
  await waitFor(() => woken === 1, 5000, 'the other process woken')
  await sleep(100)
  t.equal(sender, 0, 'the sender is not woken by itself')

  // the listening connection is cut (a restarted server): it comes back, and wakes once for
  // whatever was announced while it was away
  const cut = await b.pool.query('select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1', [`${applicationName} listener`])
  t.same(cut.rows, [{ ok: true }])
  await waitFor(() => woken === 2, 5000, 'the reconnected listener')
  await b.wakeups!.notify('tempclock_test')
  await waitFor(() => woken === 3, 5000, 'a notification after the reconnect')

  await t.rejects(b.wakeups!.notify('Robert\'); drop table accounts; --'), /not a channel name/)
})

t.test('an unreachable server: unavailable errors, fast, and no crash', async (t) => {
  const port = await closedPort()
  for (const url of [`postgres://tempclock@127.0.0.1:${port}/tempclock`, 'postgres://tempclock@/tempclock?host=/nonexistent-socket-dir']) {
    const engine = open(t, url)
    const started = Date.now()
    const ping = await engine.ping().then(() => undefined, (err: unknown) => err)
    t.ok(ping instanceof Error, `${url}: ping rejects`)
    t.ok(engine.isUnavailable(ping), `${url}: as unavailable (${String(ping)})`)
    const query = await engine.db.selectFrom('accounts').selectAll().execute().then(() => undefined, (err: unknown) => err)
    t.ok(engine.isUnavailable(query), `${url}: a query fails as unavailable`)
    const write = await engine.write(async (trx) => await trx.selectFrom('accounts').selectAll().execute()).then(() => undefined, (err: unknown) => err)
    t.ok(engine.isUnavailable(write), `${url}: a write fails as unavailable`)
    t.ok(Date.now() - started < 3_000, 'within the connection timeout')
  }
  t.notOk(openPostgresEngine({ url: 'postgres://x@127.0.0.1:1/x' }).isUnavailable(new Error('syntax error at or near "selec"')))
})

t.test('a connection the server ends is an unavailable error, not a crash; the pool reconnects', { skip }, async (t) => {
  const errors: Error[] = []
  const engine = openPostgresEngine({ url: await freshPostgresDatabase(t), onError: (err) => { errors.push(err) } })
  t.teardown(async () => { await engine.close() })
  await engine.ping()
  const admin = new pg.Pool({ connectionString: engine.pool.options.connectionString as string, max: 1 })
  // pool.end() resolves before its connections have closed: the next test's database lease may end
  // this one first (test/postgres.ts), and an idle client's error with no listener ends the process
  admin.on('error', () => {})
  t.teardown(async () => { await admin.end() })
  // one query in flight, one idle connection, then the server ends both
  const slow = engine.db.selectNoFrom(sql<number>`pg_sleep(5)`.as('x')).execute().then(() => undefined, (err: unknown) => err)
  await sleep(200)
  await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and datname = current_database() and pid <> pg_backend_pid()', ['tempclock'])
  const err = await slow
  t.ok(engine.isUnavailable(err), `the query in flight fails as unavailable (${String(err)})`)
  await sleep(100)
  t.ok(errors.length >= 1, 'the lost connections are reported')
  await engine.ping()
  t.same(await engine.db.selectFrom('accounts').select('id').execute(), [], 'and the engine carries on')
})

t.test('a statement past the statement timeout fails as unavailable', { skip }, async (t) => {
  const engine = open(t, await freshPostgresDatabase(t), { statementTimeoutMs: 200 })
  const err = await engine.db.selectNoFrom(sql<number>`pg_sleep(2)`.as('x')).execute().then(() => undefined, (e: unknown) => e)
  t.equal((err as { code?: string }).code, '57014')
  t.ok(engine.isUnavailable(err))
})

interface SchemaFacts {
  /** table → column → declared type */
  columns: Map<string, Map<string, string>>
  /** "index: unique? partial?" for every named index */
  indexes: string[]
  /** "table.column → table.column on delete …" */
  foreignKeys: string[]
}

/** A migrated SQLite database's schema, FTS5 tables and their shadow tables aside. */
async function sqliteSchema (): Promise<SchemaFacts> {
  const raw = new BetterSqlite3(':memory:')
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) })
  try {
    const result = await new Migrator({ db, provider: { getMigrations: async () => sqliteMigrations }, allowUnorderedMigrations: true }).migrateToLatest()
    if (result.error !== undefined) throw result.error
    const tables = raw.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%' and sql not like 'create virtual table%' and name not like '%_search_%'").pluck().all() as string[]
    const columns = new Map(tables.map((table) => [table, new Map((raw.prepare(`pragma table_info(${JSON.stringify(table)})`).all() as Array<{ name: string, type: string }>).map((c) => [c.name, c.type.toLowerCase()]))]))
    const indexes = tables.flatMap((table) => (raw.prepare(`pragma index_list(${JSON.stringify(table)})`).all() as Array<{ name: string, unique: number, partial: number, origin: string }>)
      .filter((i) => i.origin === 'c').map((i) => `${i.name}: ${i.unique === 1 ? 'unique' : 'plain'} ${i.partial === 1 ? 'partial' : 'full'}`)).sort()
    const foreignKeys = tables.flatMap((table) => (raw.prepare(`pragma foreign_key_list(${JSON.stringify(table)})`).all() as Array<{ table: string, from: string, to: string, on_delete: string }>)
      .map((f) => `${table}.${f.from} → ${f.table}.${f.to} on delete ${f.on_delete.toLowerCase()}`)).sort()
    return { columns, indexes, foreignKeys }
  } finally {
    await db.destroy()
  }
}

t.test('the PostgreSQL schema has the SQLite schema\'s tables and columns, with real types', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const rows = await sql<{ table_name: string, column_name: string, data_type: string }>`select table_name, column_name, data_type
    from information_schema.columns where table_schema = 'public' and table_name not like 'kysely_%' order by table_name, ordinal_position`.execute(engine.db)
  const postgres = new Map<string, Map<string, string>>()
  for (const r of rows.rows) {
    if (!postgres.has(r.table_name)) postgres.set(r.table_name, new Map())
    postgres.get(r.table_name)!.set(r.column_name, r.data_type)
  }
  const schema = await sqliteSchema()
  const sqlite = schema.columns
  t.same([...postgres.keys()].sort(), [...sqlite.keys()].sort(), 'the same tables')

  // the same indexes (primary keys and the search indexes aside), unique and partial alike
  const indexes = await sql<{ name: string, unique: boolean, partial: boolean }>`select c.relname as name, i.indisunique as unique, i.indpred is not null as partial
    from pg_index i join pg_class c on c.oid = i.indexrelid join pg_class tc on tc.oid = i.indrelid join pg_namespace n on n.oid = tc.relnamespace
    where n.nspname = 'public' and not i.indisprimary and tc.relname not like 'kysely_%' and c.relname not like '%_search'`.execute(engine.db)
  t.same(indexes.rows.map((i) => `${i.name}: ${i.unique ? 'unique' : 'plain'} ${i.partial ? 'partial' : 'full'}`).sort(), schema.indexes, 'the same indexes')
  const foreignKeys = await sql<{ fk: string }>`select format('%s.%s → %s.%s on delete %s', tc.relname, a.attname, rc.relname, ra.attname,
      case c.confdeltype when 'c' then 'cascade' when 'a' then 'no action' when 'r' then 'restrict' when 'n' then 'set null' else 'set default' end) as fk
    from pg_constraint c join pg_class tc on tc.oid = c.conrelid join pg_class rc on rc.oid = c.confrelid
    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1] join pg_attribute ra on ra.attrelid = c.confrelid and ra.attnum = c.confkey[1]
    join pg_namespace n on n.oid = tc.relnamespace where c.contype = 'f' and n.nspname = 'public'`.execute(engine.db)
  t.same(foreignKeys.rows.map((r) => r.fk).sort(), schema.foreignKeys, 'the same foreign keys')
  for (const [table, columns] of sqlite) {
    t.same([...(postgres.get(table)?.keys() ?? [])], [...columns.keys()], `${table}: the same columns in the same order`)
  }
  // what each SQLite column becomes
  const expected = (table: string, column: string, sqliteType: string): string => {
    if (BOOLEANS.has(`${table}.${column}`)) return 'boolean'
    if (DATES.has(`${table}.${column}`)) return 'date'
    if (JSONB.has(`${table}.${column}`)) return 'jsonb'
    if (/(_at|^clock_in|^clock_out|^start_time|^end_time)$/.test(column)) return 'timestamp with time zone'
    if (column.endsWith('_ms')) return 'bigint'
    return { integer: 'integer', text: 'text', real: 'double precision' }[sqliteType] ?? sqliteType
  }
  for (const [table, columns] of sqlite) {
    for (const [column, type] of columns) {
      t.equal(postgres.get(table)?.get(column), expected(table, column, type), `${table}.${column}`)
    }
  }
})

const BOOLEANS = new Set(['accounts.api_enabled', 'api_keys.full_access', 'locations.active', 'departments.active', 'cost_codes.active',
  'workers.active', 'webhook_subscriptions.active', 'time_entries.within_geofence', 'time_entries.low_gps_confidence', 'surveys.active',
  'survey_responses.passed'])
const DATES = new Set(['documents.issued_on', 'documents.expires_on', 'documents.expired_notified_on'])
const JSONB = new Set(['api_keys.scopes', 'webhook_subscriptions.events', 'surveys.location_ids', 'surveys.questions', 'survey_responses.failed_questions'])

t.test('the server stopped: requests fail fast as unavailable; started again: the engine resumes by itself', { skip: existsSync('/usr/lib/postgresql/15/bin/postgres') ? false : 'PostgreSQL 15 is not installed' }, async (t) => {
  const server = await TestPostgresServer.start(t)
  const errors: Error[] = []
  const engine = openPostgresEngine({ url: server.url, onError: (err) => { errors.push(err) } })
  t.teardown(async () => { await engine.close() })
  await engine.migrate()
  await insertAccount(engine, 'before')

  await server.stop()
  const started = Date.now()
  const ping = await engine.ping().then(() => undefined, (err: unknown) => err)
  t.ok(engine.isUnavailable(ping), `ping: ${String(ping)}`)
  const read = await engine.db.selectFrom('accounts').select('name').execute().then(() => undefined, (err: unknown) => err)
  t.ok(engine.isUnavailable(read), `read: ${String(read)}`)
  const write = await insertAccount(engine, 'while down').then(() => undefined, (err: unknown) => err)
  t.ok(engine.isUnavailable(write), `write: ${String(write)}`)
  t.ok(Date.now() - started < 5_000, 'fast')

  await server.restart()
  await engine.ping()
  await insertAccount(engine, 'after')
  t.same((await engine.db.selectFrom('accounts').select('name').orderBy('id').execute()).map((r) => r.name), ['before', 'after'])
})

t.test('rows copied with their ids keep them, and new rows continue after them once the sequences are synced', { skip }, async (t) => {
  const engine = await freshEngine(t)
  const account = (id?: number): Record<string, unknown> => ({ ...(id === undefined ? {} : { id }), name: `a${id ?? 'new'}`, created_at: NOW, updated_at: NOW })
  await engine.write(async (trx) => { await untyped(trx).insertInto('accounts').values([account(1), account(2), account(7)]).execute() })
  const collision = await insertAccount(engine).then(() => undefined, (err: unknown) => err)
  t.ok(engine.sql.isUniqueViolation(collision, 'accounts.id'), 'without the sync the next id collides with a copied one')
  await engine.write(async (trx) => { await syncIdSequences(trx) })
  t.equal(await insertAccount(engine), 8)
  t.same((await engine.db.selectFrom('accounts').select('id').orderBy('id').execute()).map((r) => r.id), [1, 2, 7, 8])
  await engine.write(async (trx) => { await syncIdSequences(trx) })
  t.equal(await insertAccount(engine), 9, 'syncing again changes nothing')
  // an empty table starts at 1
  t.equal(await engine.write(async (trx) => (await untyped(trx).insertInto('cost_codes')
    .values({ account_id: 1, code: 'c', name: 'n', created_at: NOW, updated_at: NOW }).returning('id').executeTakeFirstOrThrow()).id), 1)
})

t.test('a role that may not create pg_trgm still gets the whole schema, and the same search without the index', { skip: existsSync('/usr/lib/postgresql/15/bin/postgres') ? false : 'PostgreSQL 15 is not installed' }, async (t) => {
  const server = await TestPostgresServer.start(t)
  const admin = new pg.Client({ connectionString: server.url })
  await admin.connect()
  // the database's owner may create a trusted extension; this role owns nothing but its tables
  await admin.query('create role app login')
  await admin.query('create database plain')
  await admin.query('revoke create on database plain from public')
  await admin.end()
  const owner = new pg.Client({ connectionString: server.databaseUrl('plain') })
  await owner.connect()
  await owner.query('grant create, usage on schema public to app')
  await owner.end()

  const engine = open(t, server.databaseUrl('plain').replace('postgres@', 'app@'))
  await engine.migrate()
  const indexes = await sql<{ n: number }>`select count(*) as n from pg_indexes where indexname like '%_search'`.execute(engine.db)
  t.equal(indexes.rows[0]!.n, 0, 'no trigram index')
  const accountId = await insertAccount(engine)
  await engine.write(async (trx) => {
    await untyped(trx).insertInto('cost_codes').values([
      { account_id: accountId, code: 'SITE-50%', name: 'Overtime', created_at: NOW, updated_at: NOW },
      { account_id: accountId, code: 'SITE-500', name: 'Éclair', created_at: NOW, updated_at: NOW }
    ]).execute()
  })
  const search = async (term: string): Promise<string[]> => (await engine.db.selectFrom('cost_codes').select('code')
    .where(engine.sql.matchesSearch('cost_codes', ['code', 'name'], term)).orderBy('id').execute()).map((r) => r.code)
  t.same(await search('site-50'), ['SITE-50%', 'SITE-500'])
  t.same(await search('50%'), ['SITE-50%'])
  t.same(await search('overTIME'), ['SITE-50%'])
  t.same(await search('éclair'), [], 'É is not an ASCII letter: it does not fold')
})
