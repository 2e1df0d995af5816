import { join } from 'node:path'
import t, { type Test } from 'tap'
import { AsyncLocalStorage } from 'node:async_hooks'
import { openSqliteEngine, type SqliteEngine, type SqliteEngineOptions } from '../db/engine/sqlite/index.js'
import { DB_INSIDE_WRITE, NESTED_WRITE } from '../db/engine/write-scope.js'
import { LocationStore } from '../db/locations.js'
import { buildTestApp, call, createTestAccount, sqliteOf } from './helper.js'

// Each misuse below used to hang every later write (a query on the database inside a write batch,
// a nested write) or to run with swapped values (positional parameters): now it throws at once,
// and the engine keeps working.

async function engineFor (t: Test, file = ':memory:', options: Omit<SqliteEngineOptions, 'file'> = {}): Promise<SqliteEngine> {
  const engine = openSqliteEngine({ file, ...options })
  t.teardown(async () => { await engine.close() })
  await engine.migrate()
  return engine
}

const now = '2026-01-01T00:00:00Z'
const account = (name: string) => ({ name, timezone: 'UTC', api_enabled: true, created_at: now, updated_at: now })

/** Settles within `ms`, or fails the test instead of hanging the suite. */
async function within<T> (ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`still waiting after ${ms} ms`)) }, ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

for (const file of [':memory:', 'file']) {
  t.test(`a query on engine.db inside write() throws at once, and later writes still work (${file})`, async (t) => {
    const engine = await engineFor(t, file === 'file' ? join(t.testdir(), 'e.db') : ':memory:')
    await t.rejects(within(2000, engine.write(async () => await engine.db.selectFrom('accounts').selectAll().execute())), { message: DB_INSIDE_WRITE })
    // also a write built on engine.db, and one awaited deeper in the unit
    await t.rejects(within(2000, engine.write(async (trx) => {
      await trx.insertInto('accounts').values(account('A')).execute()
      await Promise.resolve()
      await engine.db.insertInto('accounts').values(account('B')).execute()
    })), { message: DB_INSIDE_WRITE })
    const id = await within(2000, engine.write(async (trx) => (await trx.insertInto('accounts').values(account('C')).returning('id').executeTakeFirstOrThrow()).id))
    t.same((await engine.db.selectFrom('accounts').select('name').execute()).map((r) => r.name), ['C'], 'the refused units rolled back; the next one committed')
    t.ok(id > 0)
  })
}

t.test('a write inside a write throws at once, and later writes still work', async (t) => {
  const engine = await engineFor(t)
  await t.rejects(within(2000, engine.write(async () => await engine.write(async () => 1))), { message: NESTED_WRITE })
  t.equal(await within(2000, engine.write(async () => 2)), 2)
})

// Production runs without the guard (no AsyncLocalStorage): the same mistakes must still never hang.

t.test('guard off: a query on engine.db inside a write reads the committed state instead of waiting for the writer', async (t) => {
  const engine = await engineFor(t, join(t.testdir(), 'off.db'), { writeGuard: false })
  await engine.write(async (trx) => { await trx.insertInto('accounts').values(account('Committed')).execute() })
  const seen = await within(2000, engine.write(async (trx) => {
    await trx.insertInto('accounts').values(account('Mine')).execute()
    return (await engine.db.selectFrom('accounts').select('name').execute()).map((r) => r.name)
  }))
  t.same(seen, ['Committed'], 'engine.db is outside the transaction: it does not see the unit\'s own write')
  const byName = engine.compile((param) => engine.db.selectFrom('accounts').select('name').where('name', '=', param('name')))
  t.same(await within(2000, engine.write(async (trx) => {
    await trx.insertInto('accounts').values(account('Later')).execute()
    return await byName.read({ name: 'Later' })
  })), [], 'a compiled read too')
  // a write on engine.db fails at once, inside a write or not: writes belong in engine.write
  await t.rejects(within(2000, engine.db.insertInto('accounts').values(account('Stray')).execute()), /readonly|query_only|attempt to write/i)
  await t.rejects(within(2000, engine.write(async () => await engine.db.insertInto('accounts').values(account('Stray')).execute())), /readonly|query_only|attempt to write/i)
  t.same((await engine.db.selectFrom('accounts').select('name').orderBy('id').execute()).map((r) => r.name), ['Committed', 'Mine', 'Later'])
})

for (const file of [':memory:', 'file']) {
  t.test(`guard off: a write inside a write fails its unit after the wait limit, and later writes still work (${file})`, async (t) => {
    const engine = await engineFor(t, file === 'file' ? join(t.testdir(), 'nested.db') : ':memory:', { writeGuard: false, writeWaitLimitMs: 200 })
    const started = Date.now()
    const nested = engine.write(async (trx) => {
      await trx.insertInto('accounts').values(account('Outer')).execute()
      await engine.write(async (inner) => { await inner.insertInto('accounts').values(account('Inner')).execute() })
    })
    // another request's write queued behind the stuck unit is refused too, not kept waiting
    await new Promise((resolve) => setImmediate(resolve))
    const behind = engine.write(async () => 'behind')
    await t.rejects(within(2000, nested), { name: 'WriteWaitExceeded' })
    await t.rejects(within(2000, nested), /most likely a write was started inside a write/)
    await t.rejects(within(2000, behind), { name: 'WriteWaitExceeded' })
    t.ok(Date.now() - started >= 190, 'refused at the limit, not before')
    t.equal(await within(2000, engine.write(async (trx) => (await trx.insertInto('accounts').values(account('After')).returning('id').executeTakeFirstOrThrow()).id > 0)), true)
    t.same((await engine.db.selectFrom('accounts').select('name').execute()).map((r) => r.name), ['After'], 'the refused unit rolled back')
  })
}

t.test('a batch slower than the wait limit commits; only what waited behind it is refused', async (t) => {
  const engine = await engineFor(t, ':memory:', { writeWaitLimitMs: 100 })
  const slow = engine.write(async (trx) => {
    await new Promise((resolve) => setTimeout(resolve, 250))
    await trx.insertInto('accounts').values(account('Slow')).execute()
  })
  await new Promise((resolve) => setImmediate(resolve))
  const behind = engine.write(async () => 1)
  await t.rejects(behind, { name: 'WriteWaitExceeded' })
  await slow
  t.equal(await engine.write(async () => 2), 2)
  t.same((await engine.db.selectFrom('accounts').select('name').execute()).map((r) => r.name), ['Slow'])
})

t.test('guard off: no AsyncLocalStorage is used (on Node 20 its first run turns on promise hooks for the whole process)', async (t) => {
  const used: string[] = []
  const proto = AsyncLocalStorage.prototype as unknown as Record<string, (...args: unknown[]) => unknown>
  for (const method of ['run', 'getStore', 'enterWith']) {
    const original = proto[method]!
    proto[method] = function (this: unknown, ...args: unknown[]) {
      used.push(method)
      return original.apply(this, args)
    }
    t.teardown(() => { proto[method] = original })
  }
  const exercise = async (engine: SqliteEngine): Promise<void> => {
    const byName = engine.compile((param) => engine.db.selectFrom('accounts').select('id').where('name', '=', param('name')))
    await engine.write(async (trx) => { await trx.insertInto('accounts').values(account('A')).execute() })
    await Promise.all([engine.write(async (trx) => await byName.run(trx, { name: 'A' })), engine.write(async () => 1)])
    await engine.db.selectFrom('accounts').selectAll().execute()
    await byName.read({ name: 'A' })
  }
  await exercise(await engineFor(t, join(t.testdir(), 'plain.db'), { writeGuard: false }))
  t.same(used, [], 'guard off: none')
  await exercise(await engineFor(t, join(t.testdir(), 'guarded.db')))
  t.ok(used.includes('run') && used.includes('getStore'), 'guard on (the default): it is what the check uses')
})

t.test('a compiled read inside a write throws: run(trx, …) is the way in', async (t) => {
  const engine = await engineFor(t)
  const byName = engine.compile((param) => engine.db.selectFrom('accounts').select('id').where('name', '=', param('name')))
  await t.rejects(within(2000, engine.write(async () => await byName.read({ name: 'x' }))), { message: DB_INSIDE_WRITE })
  t.same(await engine.write(async (trx) => await byName.run(trx, { name: 'x' })), [])
})

t.test('a compiled query run with a value missing, or one it does not use, throws with both lists', async (t) => {
  const engine = await engineFor(t)
  const query = engine.compile((param) => engine.db.selectFrom('accounts').select('id').where('name', '=', param('name')).where('timezone', '=', param('zone')))
  await t.rejects(query.read({ name: 'A' } as never), /without a value for 'zone' \(it takes 'name', 'zone'\)/)
  await t.rejects(query.read({ name: 'A', zone: 'UTC', extra: 1 } as never), /with 'extra', which it does not use/)
  await t.rejects(engine.write(async (trx) => await query.run(trx, { zone: 'UTC' } as never)), /without a value for 'name'/)
  t.same(await query.read({ name: 'A', zone: 'UTC' }), [], 'with exactly its values it runs')
})

t.test('an unanswered statement runs in its write and answers no rows; one that could answer rows is refused', async (t) => {
  const engine = await engineFor(t)
  const insert = engine.compile((param) => engine.db.insertInto('accounts').values({ ...account('x'), name: param('name') }), { unanswered: true })
  t.same(await engine.write(async (trx) => await insert.run(trx, { name: 'Unanswered' })), [])
  t.same((await engine.db.selectFrom('accounts').select('name').execute()).map((r) => r.name), ['Unanswered'])
  t.throws(() => engine.compile((param) => engine.db.insertInto('accounts').values({ ...account('x'), name: param('name') }).returning('id'), { unanswered: true }), /without RETURNING/)
  t.throws(() => engine.compile((param) => engine.db.selectFrom('accounts').select('id').where('name', '=', param('name')), { unanswered: true }), /without RETURNING/)
})

t.test('named values: the order of .set() keys, or of the values given, changes nothing', async (t) => {
  const engine = await engineFor(t)
  const id = await engine.write(async (trx) => (await trx.insertInto('accounts').values(account('Old')).returning('id').executeTakeFirstOrThrow()).id)
  const ab = engine.compile((param) => engine.db.updateTable('accounts').set({ name: param('name'), timezone: param('zone') }).where('id', '=', param('id')).returning(['name', 'timezone']))
  const ba = engine.compile((param) => engine.db.updateTable('accounts').set({ timezone: param('zone'), name: param('name') }).where('id', '=', param('id')).returning(['name', 'timezone']))
  t.same(await engine.write(async (trx) => await ab.runFirst(trx, { name: 'First', zone: 'Europe/London', id })), { name: 'First', timezone: 'Europe/London' })
  t.same(await engine.write(async (trx) => await ba.runFirst(trx, { id, zone: 'Europe/Paris', name: 'Second' })), { name: 'Second', timezone: 'Europe/Paris' })
  // a literal value of the builder stays where it is, between named ones
  const literal = engine.compile((param) => engine.db.selectFrom('accounts').select('name').where('id', '=', param('id')).where('timezone', '!=', 'Nowhere').where('name', '=', param('name')))
  t.same(await literal.read({ name: 'Second', id }), [{ name: 'Second' }])
})

t.test('booleans go in as booleans and come out as booleans (columns and computed aliases)', async (t) => {
  const engine = await engineFor(t, join(t.testdir(), 'b.db'))
  const on = await engine.write(async (trx) => await trx.insertInto('accounts').values({ ...account('On'), api_enabled: true }).returningAll().executeTakeFirstOrThrow())
  const off = await engine.write(async (trx) => await trx.insertInto('accounts').values({ ...account('Off'), api_enabled: false }).returningAll().executeTakeFirstOrThrow())
  t.equal(on.api_enabled, true)
  t.equal(off.api_enabled, false)
  t.same(engine.sqlite.prepare('select api_enabled from accounts order by id').all(), [{ api_enabled: 1 }, { api_enabled: 0 }], 'stored as SQLite 1/0')
  t.same(await engine.db.selectFrom('accounts').select(['name', 'api_enabled']).where('api_enabled', '=', false).execute(), [{ name: 'Off', api_enabled: false }])
  const compiled = engine.compile((param) => engine.db.selectFrom('accounts').select(['id', 'api_enabled']).where('api_enabled', '=', param('enabled')))
  t.same(await compiled.read({ enabled: true }), [{ id: on.id, api_enabled: true }], 'compiled reads on the read connection convert too')
  const worker = await engine.write(async (trx) => await trx.insertInto('workers').values({
    account_id: on.id, first_name: 'A', last_name: 'B', employee_ref: null, email: null, phone: null, location_id: null,
    department_id: null, preferred_language: 'en', active: true, created_at: now, updated_at: now
  }).returning('active').executeTakeFirstOrThrow())
  t.equal(worker.active, true)
})

t.test('through the API: a worker created inactive answers active: false and is stored as 0', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = (await call(app, acct.key, { method: 'POST', url: '/api/v1/workers.php', payload: { first_name: 'Ada', last_name: 'L', active: false } })).json().data
  t.equal(worker.active, false)
  t.equal(sqliteOf(app).prepare('select active from workers where id = ?').pluck().get(worker.id), 0)
})

t.test('the database closed under the server: requests answer 503 service_unavailable and /ready 503, never a 500', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  t.equal((await call(app, acct.key, { url: '/api/v1/locations.php' })).statusCode, 200)
  sqliteOf(app).close()
  const res = await call(app, acct.key, { url: '/api/v1/locations.php' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'service_unavailable')
  t.equal((await app.inject({ url: '/ready' })).statusCode, 503)
})

t.test('the caches keep rows only when the engine can tell nothing changed (changes defined)', async (t) => {
  const engine = await engineFor(t, join(t.testdir(), 'c.db'))
  const id = await engine.write(async (trx) => (await trx.insertInto('accounts').values(account('A')).returning('id').executeTakeFirstOrThrow()).id)
  const cached = new LocationStore(engine)
  const uncached = new LocationStore({ ...engine, changes: undefined })
  const location = await cached.create(id, { name: 'Depot' })
  t.equal(await cached.get(id, location.id), await cached.get(id, location.id), 'kept while nothing changed')
  t.not(await uncached.get(id, location.id), await uncached.get(id, location.id), 'without a change source, every read loads')
  engine.sqlite.prepare("update locations set name = 'Moved' where id = ?").run(location.id)
  t.equal((await uncached.get(id, location.id)).name, 'Moved')
})

t.test('lockedForWrite leaves the query as it is: the single writer is already serial', async (t) => {
  const engine = await engineFor(t)
  const query = engine.db.selectFrom('accounts').select('id').where('id', '=', 1)
  t.same(engine.sql.lockedForWrite(query).compile(), query.compile())
  t.same(await engine.write(async (trx) => await engine.sql.lockedForWrite(trx.selectFrom('accounts').select('id')).execute()), [])
})
