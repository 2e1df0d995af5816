import t from 'tap'
import { sql } from 'kysely'
import { openPostgresEngine } from '../db/engine/postgres/index.js'
import { leaseAppDatabase, postgresSkip } from './postgres.js'

// The PostgreSQL run's isolation (test/postgres.ts, leaseAppDatabase): every app starts on an
// empty migrated database, whatever the app before it wrote or changed.

const skip = await postgresSkip()

async function withEngine<T> (url: string, fn: (engine: ReturnType<typeof openPostgresEngine>) => Promise<T>): Promise<T> {
  const engine = openPostgresEngine({ url })
  try {
    return await fn(engine)
  } finally {
    await engine.close()
  }
}

const insertAccount = async (engine: ReturnType<typeof openPostgresEngine>): Promise<number> => await engine.write(async (trx) =>
  (await trx.insertInto('accounts').values({ name: 'A', timezone: 'UTC', api_enabled: true, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' })
    .returning('id').executeTakeFirstOrThrow()).id)

t.test('a reused database is empty, with every id starting at 1 again', { skip }, async (t) => {
  const first = await leaseAppDatabase()
  await withEngine(first.url, async (engine) => {
    await engine.migrate()
    await insertAccount(engine)
    t.equal(await insertAccount(engine), 2)
  })
  first.release()
  const second = await leaseAppDatabase()
  t.equal(second.url, first.url, 'the same database, emptied')
  await withEngine(second.url, async (engine) => {
    t.same(await engine.db.selectFrom('accounts').select('id').execute(), [])
    t.equal(await insertAccount(engine), 1, 'ids start at 1 again')
  })
  second.release()
})

t.test('a database whose schema a test changed is not reused', { skip }, async (t) => {
  const first = await leaseAppDatabase()
  await withEngine(first.url, async (engine) => { await sql`alter table locations rename to locations_moved`.execute(engine.db) })
  first.release()
  const second = await leaseAppDatabase()
  t.not(second.url, first.url)
  await withEngine(second.url, async (engine) => {
    t.same(await engine.db.selectFrom('locations').select('id').execute(), [], 'the schema is whole')
  })
  second.release()
})
