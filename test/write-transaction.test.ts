import t from 'tap'
import { sql } from 'kysely'
import { buildTestApp, createTestAccount } from './helper.js'
import { insertWorker } from './time-fixtures.js'

t.test('group commit: concurrent writes share a commit, a failing one rolls back alone', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const w = await insertWorker(app.db, acct.id)
  const rename = async (name: string, fail: boolean): Promise<string> => await app.engine.write(async (trx) => {
    await trx.insertInto('departments').values({ account_id: acct.id, name, location_id: null, active: true, created_at: 'x', updated_at: 'x' }).execute()
    if (fail) throw new Error(`unit ${name} failed`)
    return name
  })
  const results = await Promise.allSettled([rename('a', false), rename('b', true), rename('c', false), rename('d', true), rename('e', false)])
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'])
  t.match((results[1] as PromiseRejectedResult).reason, { message: 'unit b failed' })
  const names = (await app.db.selectFrom('departments').select('name').orderBy('id').execute()).map((r) => r.name)
  t.same(names, ['a', 'c', 'e'], 'only the failed units were rolled back')

  // a single failing unit: nothing written
  await t.rejects(rename('f', true))
  t.equal((await app.db.selectFrom('departments').selectAll().execute()).length, 3)

  // a constraint error inside a shared batch stays inside its unit
  const row = { account_id: acct.id, type: 'shift' as const, parent_id: null, worker_id: w, location_id: null, cost_code_id: null, clock_in: '2025-01-01T08:00:00Z', clock_out: null, duration_seconds: null, status: 'active' as const, notes: null, latitude: null, longitude: null, gps_accuracy: null, within_geofence: null, distance_meters: null, low_gps_confidence: null, created_at: 'x', updated_at: 'x' }
  const open = async (): Promise<void> => await app.engine.write(async (trx) => { await trx.insertInto('time_entries').values(row).execute() })
  const both = await Promise.allSettled([open(), open(), rename('g', false)])
  t.same(both.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'])
  t.match((both[1] as PromiseRejectedResult).reason, { code: 'SQLITE_CONSTRAINT_UNIQUE' })
  const inTx = await sql<{ autocommit: number }>`select 1 as autocommit`.execute(app.db)
  t.equal(inTx.rows.length, 1, 'the connection is usable afterwards')
})

t.test('a write inside a write is refused at once instead of hanging the writer', async (t) => {
  const app = await buildTestApp(t)
  await t.rejects(app.engine.write(async () => await app.engine.write(async () => 1)), /inside a write/)
  t.equal(await app.engine.write(async () => 2), 2, 'the batcher still works')
})
