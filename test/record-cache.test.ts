import { join } from 'node:path'
import t, { type Test } from 'tap'
import BetterSqlite3 from 'better-sqlite3'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { createAccount } from '../db/accounts.js'
import { LocationStore } from '../db/locations.js'

const site = { name: 'Leeds', city: 'Leeds', geofence_mode: 'off' as const }

/** A migrated database with one account and one location in it. */
async function oneLocation (t: Test, path: string) {
  const handle = openSqliteEngine({ file: path })
  t.teardown(async () => { await handle.close() })
  await handle.migrate()
  const account = await createAccount(handle, { name: 'A', apiEnabled: true })
  const store = new LocationStore(handle)
  const { id } = await store.create(account.id, site)
  return { handle, account, store, id }
}

for (const file of ['file', ':memory:']) {
  t.test(`single-record reads come from memory until anything commits (${file})`, async (t) => {
    const path = file === 'file' ? join(t.testdir(), 'c.db') : ':memory:'
    const { account, store, id } = await oneLocation(t, path)

    const first = await store.get(account.id, id)
    t.equal(await store.get(account.id, id), first, 'the same object while nothing changed')
    t.ok(Object.isFrozen(first), 'shared, so frozen')
    t.throws(() => { (first as { name: string }).name = 'x' }, TypeError)

    await store.update(account.id, id, { name: 'Renamed' })
    t.equal((await store.get(account.id, id)).name, 'Renamed', "this server's own write is seen at once")

    if (file === 'file') {
      // another connection stands in for another process (the CLI, a second server)
      const other = new BetterSqlite3(path)
      other.prepare("update locations set name = 'Elsewhere' where id = ?").run(id)
      other.close()
      t.equal((await store.get(account.id, id)).name, 'Elsewhere', "another connection's commit is seen on the next read")
    }

    await t.rejects(store.get(account.id + 1, id), { code: 'not_found' }, 'still per account')
  })
}

t.test('a read with the version its request saw is at least that new', async (t) => {
  const path = join(t.testdir(), 'v.db')
  const { handle, account, store, id } = await oneLocation(t, path)
  const watch = handle.changes!

  const before = watch.version()
  const cached = await store.get(account.id, id, before)
  const other = new BetterSqlite3(path)
  t.teardown(() => { other.close() })
  other.prepare("update locations set name = 'Changed' where id = ?").run(id)
  t.equal(await store.get(account.id, id, before), cached, 'a request authenticated before the commit may still be answered from before it')
  const after = watch.version()
  t.ok(after > before)
  t.equal((await store.get(account.id, id, after)).name, 'Changed', 'one authenticated after it may not')
  t.equal((await store.get(account.id, id, before)).name, 'Changed', 'and an older request never takes the cache back')
})
