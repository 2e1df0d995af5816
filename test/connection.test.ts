import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import BetterSqlite3 from 'better-sqlite3'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { ChangeWatch } from '../db/engine/sqlite/change-watch.js'
import { createAccount, setApiEnabled } from '../db/accounts.js'
import { revokeApiKey } from '../db/api-keys.js'
import { LocationStore } from '../db/locations.js'
import { nowIso } from '../domain/time.js'
import { bearer, buildTestApp, createTestAccount, createTestKey } from './helper.js'

t.test('file databases get a query-only read connection; :memory: does not', async (t) => {
  const file = openSqliteEngine({ file: join(t.testdir(), 'r.db') })
  const memory = openSqliteEngine({ file: ':memory:' })
  t.teardown(async () => { await file.close(); await memory.close() })
  const reader = file.readConnection
  t.ok(reader, 'a reader for a file')
  t.equal(memory.readConnection, undefined, 'none for :memory:')
  t.throws(() => reader!.prepare('create table x (a)').run(), /readonly|query_only|attempt to write/i, 'the reader cannot write')
})

t.test('hot-path reads see committed data only, never an open write transaction', async (t) => {
  // without the write guard, which would refuse the read inside the write that this test makes on purpose
  const handle = openSqliteEngine({ file: join(t.testdir(), 'r.db'), writeGuard: false })
  t.teardown(async () => { await handle.close() })
  await handle.migrate()
  const account = await createAccount(handle, { name: 'A', apiEnabled: true })
  const store = new LocationStore(handle)
  const now = nowIso()
  let seenInside: unknown = 'not run'
  const id = await handle.write(async (trx) => {
    const row = await trx.insertInto('locations').values({
      account_id: account.id, name: 'Uncommitted', address_line1: null, address_line2: null, city: null, postcode: null,
      latitude: null, longitude: null, geofence_radius_m: null, geofence_mode: 'off', gps_accuracy_threshold: null,
      kiosk_language: 'en', timezone: null, active: true, created_at: now, updated_at: now
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

t.test('the change watch moves on every commit, by any connection, and only then', async (t) => {
  const path = join(t.testdir(), 'w.db')
  const handle = openSqliteEngine({ file: path })
  t.teardown(async () => { await handle.close() })
  await handle.migrate()
  const watch = handle.changes!
  const first = watch.version()
  t.equal(watch.version(), first, 'steady without commits')
  await handle.db.selectFrom('accounts').selectAll().execute()
  handle.readConnection!.prepare('select count(*) from api_keys').get()
  t.equal(watch.version(), first, 'reads change nothing')
  await createAccount(handle, { name: 'Own writer', apiEnabled: true })
  const second = watch.version()
  t.not(second, first, "this process's own writer")
  const other = new BetterSqlite3(path)
  t.teardown(() => { other.close() })
  other.prepare("update accounts set name = 'Other' where id = 1").run()
  const third = watch.version()
  t.not(third, second, 'another connection (as another process would)')
  t.equal(watch.version(), third)
  other.prepare('begin immediate').run()
  other.prepare("update accounts set name = 'Open' where id = 1").run()
  t.equal(watch.version(), third, 'an open transaction is not a change yet')
  other.prepare('commit').run()
  t.not(watch.version(), third, 'its commit is')
})

t.test('without a -shm file the watch falls back to data_version and total_changes', async (t) => {
  const memory = new BetterSqlite3(':memory:')
  t.teardown(() => { memory.close() })
  memory.exec('create table t (a)')
  const watch = new ChangeWatch(':memory:', memory, true)
  const first = watch.version()
  t.equal(watch.version(), first)
  memory.prepare('insert into t values (1)').run()
  t.not(watch.version(), first, 'its own write')
  const missing = new ChangeWatch(join(t.testdir(), 'nothing-here.db'), memory, true)
  const before = missing.version()
  memory.prepare('insert into t values (2)').run()
  t.not(missing.version(), before, 'a file whose -shm cannot be opened falls back too')
  missing.close()
  watch.close()
})

/** A wal-index that belongs to no open database: a copy of another database's `-shm`. */
function staleShm (dir: string): Buffer {
  const other = new BetterSqlite3(join(dir, 'other.db'))
  other.pragma('journal_mode = WAL')
  other.exec('create table t (a); insert into t values (1)')
  const bytes = readFileSync(join(dir, 'other.db-shm'))
  other.close()
  return bytes
}

t.test('TEMPCLOCK_DB through a symlink with a stale <link>-shm beside it: the watch follows the file SQLite uses', async (t) => {
  const dir = t.testdir()
  mkdirSync(join(dir, 'volume'))
  const link = join(dir, 'tempclock.db')
  symlinkSync(join(dir, 'volume', 'real.db'), link)
  writeFileSync(`${link}-shm`, staleShm(dir))

  const app = await buildTestApp(t, { dbPath: link })
  const account = await createTestAccount(app)
  const revocable = await createTestKey(app, account.id)
  const other = openSqliteEngine({ file: link })
  t.teardown(async () => { await other.close() })
  const get = async (key: string, url = '/api/v1/locations.php') => await app.inject({ url, headers: bearer(key) })

  t.equal((await get(revocable.key)).statusCode, 200)
  t.equal((await get(revocable.key)).statusCode, 200, 'cached')
  await revokeApiKey(other, revocable.id)
  t.equal((await get(revocable.key)).json().code, 'api_key_revoked', 'a key revoked by another process is refused at once')

  const location = await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: bearer(account.key), payload: { name: 'Depot' } })
  const id = location.json().data.id as number
  t.equal((await get(account.key, `/api/v1/locations.php?id=${id}`)).json().data.name, 'Depot')
  const renamed = await app.inject({ method: 'PUT', url: `/api/v1/locations.php?id=${id}`, headers: bearer(account.key), payload: { name: 'Renamed' } })
  t.equal(renamed.statusCode, 200)
  t.equal((await get(account.key, `/api/v1/locations.php?id=${id}`)).json().data.name, 'Renamed', "the server's own write is seen")

  await setApiEnabled(other, account.id, false)
  t.equal((await get(account.key)).json().code, 'api_access_disabled', 'API access switched off by another process')
})

t.test('a stale -shm beside a database that is not in WAL mode is not watched: data_version is', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'rollback.db')
  const connection = new BetterSqlite3(path)
  t.teardown(() => { connection.close() })
  connection.exec('create table t (a)')
  writeFileSync(`${path}-shm`, staleShm(dir))
  const watch = new ChangeWatch(path, connection, false)
  t.teardown(() => { watch.close() })
  const before = watch.version()
  const writer = new BetterSqlite3(path)
  t.teardown(() => { writer.close() })
  writer.prepare('insert into t values (1)').run()
  t.not(watch.version(), before, "another connection's commit is seen")
})
