import t from 'tap'
import { SCOPES, type Scope } from '../domain/scopes.js'
import { bearer, buildTestApp, createTestAccount, createTestKey, routeTable } from './helper.js'
import { ON_POSTGRES, sqliteOf } from './helper.js'
import { sql } from 'kysely'

const REALM = 'Bearer realm="TempClock API"'
const INVALID_TOKEN = 'Bearer realm="TempClock API", error="invalid_token"'

t.test('auth matrix over every guarded route in the route table', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const disabled = await createTestAccount(app, { apiEnabled: false })
  const revoked = await createTestKey(app, account.id)
  await app.db.updateTable('api_keys').set({ revoked_at: '2025-01-01T00:00:00Z' }).where('id', '=', revoked.id).execute()
  const expired = await createTestKey(app, account.id, { expiresAt: '2099-01-01T00:00:00Z' })
  await app.db.updateTable('api_keys').set({ expires_at: '2025-01-01T00:00:00Z' }).where('id', '=', expired.id).execute()
  const keyFor = new Map<Scope, string>()
  for (const scope of SCOPES) keyFor.set(scope, (await createTestKey(app, account.id, { scopes: [scope] })).key)

  const guarded = routeTable(app).filter((r) => r.url.startsWith('/api/') && r.scope !== 'public' && r.method !== 'HEAD' && r.method !== 'OPTIONS')
  t.ok(guarded.length >= 3, 'the route table has guarded routes')
  for (const route of routeTable(app).filter((r) => r.url.startsWith('/api/'))) {
    t.ok(route.scope !== undefined, `${route.method} ${route.url} declares a scope`)
  }

  for (const { method, url, scope } of guarded) {
    await t.test(`${method} ${url} [${scope}]`, async (t) => {
      const send = async (headers: Record<string, string>) =>
        await app.inject({ method: method as 'GET', url, headers: { origin: 'https://payroll.example', ...headers } })

      const expectError = async (headers: Record<string, string>, status: number, code: string, www?: string) => {
        const res = await send(headers)
        t.equal(res.statusCode, status, `${code}: status`)
        t.equal(res.json().code, code, `${code}: code`)
        t.equal(res.json().error, true)
        t.equal(res.json().status, status)
        t.match(res.json().request_id, /\S/)
        t.equal(res.headers['access-control-allow-origin'], '*', `${code}: CORS on the error`)
        if (www !== undefined) t.equal(res.headers['www-authenticate'], www, `${code}: WWW-Authenticate`)
        return res
      }

      await expectError({}, 401, 'missing_api_key', REALM)
      await expectError({ authorization: `Token ${account.key}` }, 401, 'invalid_authorization_scheme', INVALID_TOKEN)
      await expectError({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, 401, 'invalid_authorization_scheme', INVALID_TOKEN)
      await expectError({ authorization: 'Bearer not-a-key' }, 401, 'invalid_api_key', INVALID_TOKEN)
      await expectError({ authorization: 'Bearer tc_live_' + 'a'.repeat(40) }, 401, 'invalid_api_key', INVALID_TOKEN)
      await expectError({ authorization: `Bearer ${account.key.toUpperCase()}` }, 401, 'invalid_api_key', INVALID_TOKEN)
      await expectError(bearer(revoked.key), 401, 'api_key_revoked', INVALID_TOKEN)
      await expectError(bearer(expired.key), 401, 'api_key_expired', INVALID_TOKEN)
      await expectError(bearer(disabled.key), 403, 'api_access_disabled')

      // a key whose scopes do not include the route's
      const wrong = SCOPES.find((s) => s !== scope)!
      const denied = await expectError(bearer(keyFor.get(wrong)!), 403, 'insufficient_scope')
      if (scope === 'full') {
        t.match(denied.json().message, /full-access/)
      } else {
        t.match(denied.json().message, scope!)
        t.equal(denied.headers['www-authenticate'], `Bearer error="insufficient_scope", scope="${scope}"`)
      }

      const allowed = async (headers: Record<string, string>, label: string) => {
        const res = await send(headers)
        t.notOk([401, 403].includes(res.statusCode), `${label}: passes auth (got ${res.statusCode})`)
        t.equal(res.headers['x-ratelimit-limit'], '100000', `${label}: rate-limit headers`)
        t.ok(res.headers['x-ratelimit-remaining'] !== undefined)
      }
      await allowed({ authorization: `bearer ${account.key}` }, 'lowercase scheme, full key')
      await allowed({ authorization: `BEARER ${account.key}` }, 'uppercase scheme')
      await allowed(bearer(account.key), 'full-access key')
      if (scope !== 'full') await allowed(bearer(keyFor.get(scope as Scope)!), 'right scope')
    })
  }
})

t.test('a key with several scopes gets each; a write scope does not imply read', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const { key } = await createTestKey(app, account.id, { scopes: ['workers:read', 'locations:read'] })
  const res = await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
  t.equal(res.statusCode, 200)
  const scoped = await createTestKey(app, account.id, { scopes: ['shifts:write'] })
  const denied = await app.inject({ url: '/api/v1/locations.php', headers: bearer(scoped.key) })
  t.equal(denied.statusCode, 403)
  const write = await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: bearer(key), payload: { name: 'X' } })
  t.equal(write.statusCode, 403, 'scoped keys cannot use full-access-only writes')
})

t.test('last_used_at is recorded at most once a minute, not on every request', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const { id, key } = await createTestKey(app, account.id)
  const lastUsed = async () => (await app.db.selectFrom('api_keys').select('last_used_at').where('id', '=', id).executeTakeFirstOrThrow()).last_used_at
  t.equal(await lastUsed(), null)
  await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
  const first = await lastUsed()
  t.ok(first !== null, 'set on first use')
  // pretend the first use was 30 s ago: a request now must not write again
  const thirtySecondsAgo = new Date(Date.now() - 30_000).toISOString().slice(0, 19) + 'Z'
  await app.db.updateTable('api_keys').set({ last_used_at: thirtySecondsAgo }).where('id', '=', id).execute()
  // SQLite counts every row changed on the connection; PostgreSQL gives a rewritten row a new xmin
  const changes = async (): Promise<unknown> => ON_POSTGRES
    ? (await sql<{ v: string }>`select string_agg(xmin::text, ',' order by id) as v from api_keys`.execute(app.db)).rows[0]!.v +
      (await sql<{ v: string }>`select string_agg(xmin::text, ',' order by id) as v from accounts`.execute(app.db)).rows[0]!.v
    : (sqliteOf(app).prepare('select total_changes() as n').get() as { n: number }).n
  const changesBefore = await changes()
  await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
  const changesAfter = await changes()
  t.equal(await lastUsed(), thirtySecondsAgo, 'not rewritten within the minute')
  t.equal(changesAfter, changesBefore, 'a read request writes nothing')
  const twoMinutesAgo = new Date(Date.now() - 120_000).toISOString().slice(0, 19) + 'Z'
  await app.db.updateTable('api_keys').set({ last_used_at: twoMinutesAgo }).where('id', '=', id).execute()
  await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
  t.not(await lastUsed(), twoMinutesAgo, 'refreshed once a minute has passed')
})

t.test('the app refuses to start when an /api route declares no scope or no closed querystring', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { default: rootPlugin, serverOptions } = await import('../app.js')
  const { testConfig } = await import('../plugins/config.js')
  const app = Fastify(serverOptions(testConfig()))
  await app.register(rootPlugin, { config: testConfig() })
  app.register(async (f) => { f.get('/api/v1/unguarded.php', async () => ({ data: 1 })) })
  await t.rejects(async () => { await app.ready() }, /declares no scope/)
  await app.close().catch(() => {})

  const app2 = Fastify(serverOptions(testConfig()))
  await app2.register(rootPlugin, { config: testConfig() })
  app2.register(async (f) => { f.get('/api/v1/typo.php', { config: { scope: 'worker:read' as 'workers:read' } }, async () => ({ data: 1 })) })
  await t.rejects(async () => { await app2.ready() }, /unknown scope/)
  await app2.close().catch(() => {})

  // unknown query parameters are refused on every method: a route must say which it takes
  const app3 = Fastify(serverOptions(testConfig()))
  await app3.register(rootPlugin, { config: testConfig() })
  app3.register(async (f) => { f.post('/api/v1/open-query.php', { config: { scope: 'full' } }, async () => ({ data: 1 })) })
  await t.rejects(async () => { await app3.ready() }, /POST \/api\/v1\/open-query\.php declares no closed querystring schema/)
  await app3.close().catch(() => {})
})

t.test('a cached key is re-checked after any write, from this connection or another', async (t) => {
  const { join } = await import('node:path')
  const { openSqliteEngine } = await import('../db/engine/sqlite/index.js')
  const { openPostgresEngine } = await import('../db/engine/postgres/index.js')
  const dir = t.testdir()
  let now = Date.now()
  const app = await buildTestApp(t, { dbPath: join(dir, 'auth.db') }, { now: () => now })
  const account = await createTestAccount(app)
  const one = await createTestKey(app, account.id)
  const two = await createTestKey(app, account.id)
  const get = async (key: string) => await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })

  t.equal((await get(one.key)).statusCode, 200)
  t.equal((await get(one.key)).statusCode, 200, 'served from the cache')
  await app.engine.write(async (trx) => await trx.updateTable('api_keys').set({ revoked_at: '2025-01-01T00:00:00Z' }).where('id', '=', one.id).execute())
  t.equal((await get(one.key)).json().code, 'api_key_revoked', 'a write on this connection drops the cache')

  t.equal((await get(two.key)).statusCode, 200)
  // another connection to the same database (on PostgreSQL another pool: nothing is cached there)
  const other = app.config.databaseUrl !== undefined ? openPostgresEngine({ url: app.config.databaseUrl }) : openSqliteEngine({ file: join(dir, 'auth.db') })
  t.teardown(async () => { await other.close() })
  await other.write(async (trx) => await trx.updateTable('api_keys').set({ revoked_at: '2025-01-01T00:00:00Z' }).where('id', '=', two.id).execute())
  t.equal((await get(two.key)).json().code, 'api_key_revoked', 'a commit by another connection drops the cache')

  t.equal((await get(account.key)).statusCode, 200)
  await other.write(async (trx) => await trx.updateTable('accounts').set({ api_enabled: false }).where('id', '=', account.id).execute())
  t.equal((await get(account.key)).json().code, 'api_access_disabled')

  const expiresAt = new Date(Date.now() + 3_600_000).toISOString().slice(0, 19) + 'Z'
  const soon = await createTestKey(app, account.id, { expiresAt })
  await other.write(async (trx) => await trx.updateTable('accounts').set({ api_enabled: true }).where('id', '=', account.id).execute())
  t.equal((await get(soon.key)).statusCode, 200)
  now = Date.parse(expiresAt) - 1
  t.equal((await get(soon.key)).statusCode, 200, 'the key works until its expiry')
  now = Date.parse(expiresAt)
  t.equal((await get(soon.key)).json().code, 'api_key_expired', 'expiry is checked against the clock on every request')
})
