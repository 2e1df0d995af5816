import { join } from 'node:path'
import t from 'tap'
import { openDatabase, readerFor } from '../db/connection.js'
import { migrateToLatest } from '../db/migrate.js'
import { createAccount } from '../db/accounts.js'
import { LocationStore } from '../db/locations.js'
import { nowIso } from '../domain/time.js'

t.test('file databases get a query-only read connection; :memory: does not', async (t) => {
  const file = openDatabase({ file: join(t.testdir(), 'r.db') })
  const memory = openDatabase({ file: ':memory:' })
  t.teardown(async () => { await file.close(); await memory.close() })
  const reader = readerFor(file.db)
  t.ok(reader, 'a reader for a file')
  t.equal(readerFor(memory.db), undefined, 'none for :memory:')
  t.throws(() => reader!.raw.prepare('create table x (a)').run(), /readonly|query_only|attempt to write/i, 'the reader cannot write')
})

t.test('hot-path reads see committed data only, never an open write transaction', async (t) => {
  const handle = openDatabase({ file: join(t.testdir(), 'r.db') })
  t.teardown(async () => { await handle.close() })
  await migrateToLatest(handle.db)
  const account = await createAccount(handle.db, { name: 'A', apiEnabled: true })
  const store = new LocationStore(handle.db)
  const now = nowIso()
  let seenInside: unknown = 'not run'
  const id = await handle.db.transaction().execute(async (trx) => {
    const row = await trx.insertInto('locations').values({
      account_id: account.id, name: 'Uncommitted', address_line1: null, address_line2: null, city: null, postcode: null,
      latitude: null, longitude: null, geofence_radius_m: null, geofence_mode: 'off', gps_accuracy_threshold: null,
      kiosk_language: 'en', timezone: null, active: 1, created_at: now, updated_at: now
    }).returning('id').executeTakeFirstOrThrow()
    seenInside = await store.find(account.id, row.id)
    return row.id
  })
  t.equal(seenInside, undefined, 'a read while the write is open does not see it')
  t.equal((await store.find(account.id, id))?.name, 'Uncommitted', 'visible once committed')
  const renamed = await store.update(account.id, id, { name: 'Renamed' })
  t.equal(renamed.name, 'Renamed')
  t.equal((await store.find(account.id, id))?.name, 'Renamed', 'the next read sees the update at once')
})
