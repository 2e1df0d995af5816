import { join } from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import { buildTestApp, call, createTestAccount, ON_POSTGRES, sqliteOnly, startServer } from './helper.js'
import { insertWorker } from './time-fixtures.js'

const N = 50

function tally (results: Array<{ status: number, body: any }>): Map<number, number> {
  const m = new Map<number, number>()
  for (const r of results) m.set(r.status, (m.get(r.status) ?? 0) + 1)
  return m
}

t.test('50 concurrent clock-ins for one worker in one process: exactly one 201', async (t) => {
  const dir = t.testdir()
  const app = await buildTestApp(t, { dbPath: join(dir, 'one.db') })
  const acct = await createTestAccount(app)
  const w = await app.engine.write(async (trx) => await insertWorker(trx, acct.id))
  const results = await Promise.all(Array.from({ length: N }, async () => {
    const res = await call(app, acct.key, { method: 'POST', url: '/api/v1/clock.php', payload: { worker_id: w, action: 'in' } })
    return { status: res.statusCode, body: res.json() }
  }))
  const counts = tally(results)
  t.equal(counts.get(201), 1, 'one 201')
  t.equal(counts.get(409), N - 1, 'the rest 409')
  const winner = results.find((r) => r.status === 201)!.body.data.id
  for (const r of results.filter((r) => r.status === 409)) {
    t.equal(r.body.code, 'already_clocked_in')
    t.ok(r.body.message.includes(`open entry ${winner as number}`), 'names the open entry')
  }
  const rows = await app.db.selectFrom('time_entries').selectAll().execute()
  t.equal(rows.length, 1)
  t.equal((await app.db.selectFrom('events').selectAll().where('type', '=', 'clock_in').execute()).length, 1)
})

t.test('a duplicate that gets past the check hits the unique index and answers 409, not 500', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const w = await insertWorker(app.db, acct.id)
  // Simulates another writer slipping in between the check and the insert: the trigger inserts
  // an open entry for the worker just before ours.
  const sneak = sql`insert into time_entries (account_id, type, worker_id, clock_in, status, created_at, updated_at)
    values (new.account_id, 'shift', new.worker_id, new.clock_in, 'active', new.created_at, new.updated_at);`
  if (ON_POSTGRES) {
    await sql`create function sneak() returns trigger language plpgsql as $$ begin ${sneak} return new; end $$`.execute(app.db)
    await sql`create trigger sneak before insert on time_entries for each row when (new.notes = 'race') execute function sneak()`.execute(app.db)
  } else {
    await sql`create trigger sneak before insert on time_entries when new.notes = 'race' begin ${sneak} end`.execute(app.db)
  }
  const res = await call(app, acct.key, { method: 'POST', url: '/api/v1/clock.php', payload: { worker_id: w, action: 'in', notes: 'race' } })
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'already_clocked_in')
  t.equal((await app.db.selectFrom('time_entries').selectAll().execute()).length, 0, 'rolled back whole')
  t.equal((await app.db.selectFrom('events').selectAll().execute()).length, 0)
})

t.test('50 concurrent clock-ins for one worker across two server processes: exactly one 201', { skip: sqliteOnly('two processes on one SQLite file') }, async (t) => {
  const file = join(t.testdir(), 'two.db')
  const handle = openSqliteEngine({ file })
  await handle.migrate()
  const account = await createAccount(handle, { name: 'Two', apiEnabled: true })
  const { key } = await createApiKey(handle, { accountId: account.id, name: 'k', scopes: [], expiresAt: null, rateLimit: 100_000 })
  const w = await handle.write(async (trx) => await insertWorker(trx, account.id))
  await handle.close()

  const env = { LOG_LEVEL: 'info' }
  const [a, b] = await Promise.all([startServer(file, env), startServer(file, env)])
  t.teardown(async () => { await a.stop(); await b.stop() })
  const results = await Promise.all(Array.from({ length: N }, async (_, i) => {
    const res = await fetch(`${(i % 2 === 0 ? a : b).url}/api/v1/clock.php`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ worker_id: w, action: 'in' })
    })
    return { status: res.status, body: await res.json() as any }
  }))
  const counts = tally(results)
  t.equal(counts.get(201), 1, 'one 201')
  t.equal(counts.get(409), N - 1, 'the rest 409 already_clocked_in')
  t.ok(results.every((r) => r.status === 201 || r.body.code === 'already_clocked_in'))
  await a.stop()
  await b.stop()
  const check = openSqliteEngine({ file })
  t.equal((await check.db.selectFrom('time_entries').selectAll().execute()).length, 1)
  await check.close()
})
