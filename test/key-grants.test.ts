import { join } from 'node:path'
import t from 'tap'
import { Kysely, SqliteDialect } from 'kysely'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { StatementCachingDatabase } from '../db/engine/sqlite/connection.js'
import type { Database } from '../db/types.js'
import { createSqliteMigrator as createMigrator } from '../db/engine/sqlite/migrate.js'
import { listApiKeys } from '../db/api-keys.js'
import { bearer, buildTestApp, createTestAccount, createTestKey } from './helper.js'

t.test('a stored scope list that is unreadable or names an unknown scope grants nothing', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  // what another version of the server, or a hand edit, might leave behind
  for (const stored of ['["workers:read","workers:rule"]', '["bogus"]', '[]', 'not json', '{"0":"workers:read"}', '"workers:read"', '[null]']) {
    const { id, key } = await createTestKey(app, account.id, { scopes: ['workers:read'] })
    await app.db.updateTable('api_keys').set({ scopes: stored }).where('id', '=', id).execute()
    const read = await app.inject({ url: '/api/v1/workers.php', headers: bearer(key) })
    t.equal(read.statusCode, 403, `${stored}: no read`)
    t.match(read.json(), { code: 'insufficient_scope', message: /workers:read/ })
    const write = await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: bearer(key), payload: { name: 'Depot' } })
    t.equal(write.statusCode, 403, `${stored}: no full-access write`)
    const listed = (await listApiKeys(app.engine, account.id)).find((k) => k.id === id)!
    t.match(listed, { full_access: false, scopes: [] }, `${stored}: listed as granting nothing`)
  }
  const locations = await app.inject({ url: '/api/v1/locations.php', headers: bearer(account.key) })
  t.equal(locations.json().pagination.total, 0, 'no write got through')
})

t.test('full access is stored as such: the key with no scopes keeps it, whatever its list says', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const listed = await listApiKeys(app.engine, account.id)
  t.match(listed, [{ full_access: true, scopes: [] }])
  const write = await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: bearer(account.key), payload: { name: 'Depot' } })
  t.equal(write.statusCode, 201)
  const scoped = await createTestKey(app, account.id, { scopes: ['locations:read'] })
  t.match((await listApiKeys(app.engine, account.id)).find((k) => k.id === scoped.id), { full_access: false, scopes: ['locations:read'] })
})

t.test('the migration turns existing keys with an empty list into explicit full access, and nothing else', async (t) => {
  const file = join(t.testdir(), 'old.db')
  const old = openSqliteEngine({ file })
  // on the writing connection: the engine's db is its query-only read connection
  const writing = new Kysely<Database>({ dialect: new SqliteDialect({ database: new StatementCachingDatabase(old.sqlite) }) })
  const result = await createMigrator(writing).migrateTo('2026-11-28-005-portal')
  t.equal(result.error, undefined)
  old.sqlite.prepare("insert into accounts (name, timezone, api_enabled, created_at, updated_at) values ('Acme', 'UTC', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')").run()
  const insertKey = old.sqlite.prepare("insert into api_keys (account_id, name, key_hash, key_prefix, scopes, created_at, updated_at) values (1, ?, ?, 'tc_live_0000...', ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')")
  insertKey.run('full', 'a'.repeat(64), '[]')
  insertKey.run('reader', 'b'.repeat(64), '["workers:read"]')
  insertKey.run('broken', 'c'.repeat(64), '["nonsense"]')
  insertKey.run('garbage', 'd'.repeat(64), 'nonsense')
  await old.migrate()
  const keys = await listApiKeys(old)
  t.same(keys.map((k) => [k.name, k.full_access, k.scopes]), [
    ['full', true, []],
    ['reader', false, ['workers:read']],
    ['broken', false, []],
    ['garbage', false, []]
  ])
  await old.close()
})
