import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { ConfigError, loadConfig, testConfig } from '../plugins/config.js'
import { DB_INSIDE_WRITE } from '../db/engine/write-scope.js'
import { migrations } from '../db/migrations/sqlite/index.js'
import { request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import { SERVER_JS, buildTestApp, childEnv, runScript, sqliteOf, startServer, type CliResult } from './helper.js'

t.test('loadConfig: defaults', async (t) => {
  t.same(loadConfig({}), {
    host: '127.0.0.1',
    port: 3000,
    dbPath: './data/tempclock.db',
    databasePoolSize: 10,
    databaseStatementTimeoutMs: 10_000,
    logLevel: 'info',
    synchronous: 'FULL',
    bodyLimit: 1024 * 1024,
    webhooksAllowLoopback: false,
    portalSecureCookies: false,
    webhooksEnabled: true,
    webhooksPollMs: 1000,
    webhooksRetryBaseMs: 30_000,
    webhooksRetryMaxMs: 3_600_000,
    webhooksRetryWindowMs: 86_400_000,
    webhooksTimeoutMs: 10_000,
    webhooksConnectTimeoutMs: 2000,
    webhooksConcurrency: 16,
    webhooksAccountConcurrency: 8,
    webhooksSubscriptionConcurrency: 4,
    webhooksRetentionDays: 30,
    documentExpiryEnabled: true,
    documentExpiryIntervalMs: 30_000,
    overload: { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 768 * 1024 * 1024, maxRssBytes: 1024 * 1024 * 1024, retryAfterS: 5, sampleIntervalMs: 1000 },
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    writeGuard: true
  })
})

t.test('loadConfig: values from the environment', async (t) => {
  t.same(loadConfig({
    HOST: '0.0.0.0',
    PORT: '8080',
    TEMPCLOCK_DB: '/var/lib/tempclock/prod.db',
    LOG_LEVEL: 'WARN',
    TEMPCLOCK_DB_SYNCHRONOUS: 'normal',
    TEMPCLOCK_BODY_LIMIT: '2048',
    TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK: 'true',
    TEMPCLOCK_PORTAL_SECURE_COOKIES: '1',
    TEMPCLOCK_DATABASE_POOL_SIZE: '20',
    TEMPCLOCK_DATABASE_STATEMENT_TIMEOUT_MS: '2500'
  }), {
    host: '0.0.0.0',
    port: 8080,
    dbPath: '/var/lib/tempclock/prod.db',
    databasePoolSize: 20,
    databaseStatementTimeoutMs: 2500,
    logLevel: 'warn',
    synchronous: 'NORMAL',
    bodyLimit: 2048,
    webhooksAllowLoopback: true,
    portalSecureCookies: true,
    webhooksEnabled: true,
    webhooksPollMs: 1000,
    webhooksRetryBaseMs: 30_000,
    webhooksRetryMaxMs: 3_600_000,
    webhooksRetryWindowMs: 86_400_000,
    webhooksTimeoutMs: 10_000,
    webhooksConnectTimeoutMs: 2000,
    webhooksConcurrency: 16,
    webhooksAccountConcurrency: 8,
    webhooksSubscriptionConcurrency: 4,
    webhooksRetentionDays: 30,
    documentExpiryEnabled: true,
    documentExpiryIntervalMs: 30_000,
    overload: { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 768 * 1024 * 1024, maxRssBytes: 1024 * 1024 * 1024, retryAfterS: 5, sampleIntervalMs: 1000 },
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    writeGuard: true
  })
  t.equal(loadConfig({ PORT: '0' }).port, 0, 'port 0 = any free port')
  t.equal(loadConfig({ TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK: '1' }).webhooksAllowLoopback, true)
  t.equal(loadConfig({ TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK: '0' }).webhooksAllowLoopback, false)
  t.match(loadConfig({
    TEMPCLOCK_WEBHOOKS_RETENTION_DAYS: '7',
    TEMPCLOCK_WEBHOOKS_CONNECT_TIMEOUT_MS: '500',
    TEMPCLOCK_WEBHOOKS_ACCOUNT_CONCURRENCY: '3',
    TEMPCLOCK_WEBHOOKS_SUBSCRIPTION_CONCURRENCY: '1'
  }), { webhooksRetentionDays: 7, webhooksConnectTimeoutMs: 500, webhooksAccountConcurrency: 3, webhooksSubscriptionConcurrency: 1 })
})

t.test('loadConfig: a bad value is a clear error, not a silent default', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT must be a whole number from 0 to 65535 (got "abc")'],
    [{ PORT: '65536' }, 'PORT must be a whole number from 0 to 65535 (got "65536")'],
    [{ PORT: '-1' }, 'PORT must be a whole number from 0 to 65535 (got "-1")'],
    [{ PORT: '80.5' }, 'PORT must be a whole number from 0 to 65535 (got "80.5")'],
    [{ PORT: '' }, 'PORT must be a whole number from 0 to 65535 (got "")'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
    [{ TEMPCLOCK_DB_SYNCHRONOUS: 'SOMETIMES' }, 'TEMPCLOCK_DB_SYNCHRONOUS must be one of OFF, NORMAL, FULL, EXTRA (got "SOMETIMES")'],
    [{ TEMPCLOCK_BODY_LIMIT: '10' }, 'TEMPCLOCK_BODY_LIMIT must be a whole number from 1024 to 67108864 (got "10")'],
    [{ TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK: 'maybe' }, 'TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK must be 1 or 0 (got "maybe")'],
    [{ TEMPCLOCK_PORTAL_SECURE_COOKIES: 'https' }, 'TEMPCLOCK_PORTAL_SECURE_COOKIES must be 1 or 0 (got "https")'],
    [{ TEMPCLOCK_WEBHOOKS_RETENTION_DAYS: '0' }, 'TEMPCLOCK_WEBHOOKS_RETENTION_DAYS must be a whole number from 1 to 3650 (got "0")'],
    [{ TEMPCLOCK_WEBHOOKS_CONNECT_TIMEOUT_MS: 'fast' }, 'TEMPCLOCK_WEBHOOKS_CONNECT_TIMEOUT_MS must be a whole number from 100 to 60000 (got "fast")'],
    [{ TEMPCLOCK_WEBHOOKS_ACCOUNT_CONCURRENCY: '0' }, 'TEMPCLOCK_WEBHOOKS_ACCOUNT_CONCURRENCY must be a whole number from 1 to 100 (got "0")'],
    [{ TEMPCLOCK_WEBHOOKS_SUBSCRIPTION_CONCURRENCY: '101' }, 'TEMPCLOCK_WEBHOOKS_SUBSCRIPTION_CONCURRENCY must be a whole number from 1 to 100 (got "101")'],
    [{ HOST: ' ' }, 'HOST must not be empty'],
    [{ TEMPCLOCK_REDIS_URL: 'localhost:6379' }, 'TEMPCLOCK_REDIS_URL must be a redis:// or rediss:// URL with a host (got scheme "localhost:" and no host)'],
    [{ TEMPCLOCK_REDIS_URL: 'redis:///0' }, 'TEMPCLOCK_REDIS_URL must be a redis:// or rediss:// URL with a host (got scheme "redis:" and no host)'],
    [{ TEMPCLOCK_REDIS_URL: 'http://cache:6379' }, 'TEMPCLOCK_REDIS_URL must be a redis:// or rediss:// URL with a host (got scheme "http:")'],
    [{ TEMPCLOCK_REDIS_URL: 'redis://:secret@' }, 'TEMPCLOCK_REDIS_URL must be a URL like redis://host:6379 (got something that is not a URL)'],
    [{ TEMPCLOCK_DATABASE_URL: 'mysql://u:secret@db/tc' }, 'TEMPCLOCK_DATABASE_URL must be a postgres:// or postgresql:// URL (got scheme "mysql:"); leave it unset for the SQLite file in TEMPCLOCK_DB'],
    [{ TEMPCLOCK_DATABASE_URL: 'u:secret@db/tc' }, 'TEMPCLOCK_DATABASE_URL must be a postgres:// or postgresql:// URL (got something that is not a URL); leave it unset for the SQLite file in TEMPCLOCK_DB'],
    [{ TEMPCLOCK_DATABASE_POOL_SIZE: '0' }, 'TEMPCLOCK_DATABASE_POOL_SIZE must be a whole number from 1 to 1000 (got "0")'],
    [{ TEMPCLOCK_WRITE_GUARD: 'maybe' }, 'TEMPCLOCK_WRITE_GUARD must be one of on, off (got "maybe")'],
    [{ TEMPCLOCK_DATABASE_STATEMENT_TIMEOUT_MS: '50' }, 'TEMPCLOCK_DATABASE_STATEMENT_TIMEOUT_MS must be a whole number from 100 to 600000 (got "50")']
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), new ConfigError(message), JSON.stringify(env))
    try { loadConfig(env) } catch (err) { t.ok(err instanceof ConfigError, 'a ConfigError') }
  }
})

t.test('the database connection: WAL, foreign keys, synchronous, busy timeout', async (t) => {
  const dir = t.testdir()
  const app = await buildTestApp(t, { dbPath: join(dir, 'nested', 'app.db') })
  t.equal(sqliteOf(app).pragma('journal_mode', { simple: true }), 'wal')
  t.equal(sqliteOf(app).pragma('foreign_keys', { simple: true }), 1)
  t.equal(sqliteOf(app).pragma('synchronous', { simple: true }), 2, 'FULL by default: an acknowledged write is on disk')
  t.ok((sqliteOf(app).pragma('busy_timeout', { simple: true }) as number) >= 1000, 'a busy timeout is set')

  const normal = await buildTestApp(t, { dbPath: join(dir, 'normal.db'), synchronous: 'NORMAL' })
  t.equal(sqliteOf(normal).pragma('synchronous', { simple: true }), 1, 'TEMPCLOCK_DB_SYNCHRONOUS is honoured')

  // foreign keys are enforced, not just declared
  t.throws(() => sqliteOf(app).prepare("insert into api_keys (account_id, name, key_hash, key_prefix, created_at, updated_at) values (999, 'x', 'h', 'p', 'now', 'now')").run(),
    /FOREIGN KEY constraint failed/)
})

async function runServer (env: Record<string, string>, cwd: string): Promise<CliResult> {
  return await runScript(SERVER_JS, [], { PATH: process.env.PATH ?? '', ...env }, cwd)
}

t.test('the real server refuses a bad PORT with one line and a non-zero exit', async (t) => {
  const dir = t.testdir()
  const [badPort, badLevel] = await Promise.all([
    runServer({ PORT: 'eighty', TEMPCLOCK_DB: join(dir, 'a.db') }, dir),
    runServer({ LOG_LEVEL: 'chatty', PORT: '0', TEMPCLOCK_DB: join(dir, 'b.db') }, dir)
  ])
  t.equal(badPort.code, 2)
  t.equal(badPort.stderr, 'tempclock: configuration error: PORT must be a whole number from 0 to 65535 (got "eighty")\n')
  t.equal(badPort.stdout, '')
  t.equal(badLevel.code, 2)
  t.equal(badLevel.stderr, 'tempclock: configuration error: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "chatty")\n')
  t.notOk(existsSync(join(dir, 'a.db')), 'nothing was created')
})

t.test('TEMPCLOCK_REDIS_URL: unset or empty keeps counters in memory; a redis:// URL is taken as is; a bad one exits 2', async (t) => {
  t.equal(loadConfig({}).redisUrl, undefined)
  t.equal(loadConfig({ TEMPCLOCK_REDIS_URL: '' }).redisUrl, undefined)
  t.equal(loadConfig({ TEMPCLOCK_REDIS_URL: 'redis://cache.internal:6379/2' }).redisUrl, 'redis://cache.internal:6379/2')
  t.equal(loadConfig({ TEMPCLOCK_REDIS_URL: 'rediss://user:pw@cache.internal' }).redisUrl, 'rediss://user:pw@cache.internal')
  const dir = t.testdir()
  const bad = await runServer({ TEMPCLOCK_REDIS_URL: 'redis//cache', PORT: '0', TEMPCLOCK_DB: join(dir, 'r.db') }, dir)
  t.equal(bad.code, 2)
  t.equal(bad.stderr, 'tempclock: configuration error: TEMPCLOCK_REDIS_URL must be a URL like redis://host:6379 (got something that is not a URL)\n')
  t.notOk(existsSync(join(dir, 'r.db')), 'nothing was created')
})

t.test('TEMPCLOCK_DATABASE_URL: unset or empty is the SQLite file; postgres:// and postgresql:// URLs are taken as is, a Unix socket\'s empty host too', async (t) => {
  t.equal(loadConfig({}).databaseUrl, undefined)
  t.equal(loadConfig({ TEMPCLOCK_DATABASE_URL: '' }).databaseUrl, undefined)
  t.equal(loadConfig({ TEMPCLOCK_DATABASE_URL: 'postgres://tc:pw@db.internal:5432/tempclock' }).databaseUrl, 'postgres://tc:pw@db.internal:5432/tempclock')
  t.equal(loadConfig({ TEMPCLOCK_DATABASE_URL: 'postgresql://tc@/tempclock?host=/var/run/postgresql' }).databaseUrl, 'postgresql://tc@/tempclock?host=/var/run/postgresql')
  t.equal(loadConfig({ TEMPCLOCK_DATABASE_POOL_SIZE: '25' }).databasePoolSize, 25)
})

t.test('npm start: creates and migrates ./data/tempclock.db, serves /health and /ready without a key, SIGTERM exits 0', async (t) => {
  const dir = t.testdir()
  const child = spawn(process.execPath, [SERVER_JS], {
    cwd: dir,
    // no TEMPCLOCK_DB: the default path, relative to where the server starts
    env: childEnv({ PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('did not start: ' + output)), 20_000)
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match !== null) { clearTimeout(timer); resolve(match[1]!) }
    })
    child.stderr.on('data', (c: Buffer) => { output += c.toString() })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${String(code)}: ${output}`)) })
  })
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'listens on 127.0.0.1 by default')

  const dbPath = join(dir, 'data', 'tempclock.db')
  t.ok(existsSync(dbPath), './data/tempclock.db was created')
  const peek = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true })
  t.equal(peek.pragma('journal_mode', { simple: true }), 'wal', 'the file is in WAL mode')
  const applied = (peek.prepare('select name from kysely_migration order by name').all() as Array<{ name: string }>).map((m) => m.name)
  t.same(applied, Object.keys(migrations).sort(), 'every migration applied')
  t.ok(applied.includes('2026-11-28-001-accounts-keys-locations'))
  t.ok((peek.prepare("select count(*) as n from sqlite_master where type = 'table' and name in ('accounts', 'api_keys', 'locations')").get() as { n: number }).n === 3)
  peek.close()

  const health = await fetch(url + '/health')
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok' })
  t.match(health.headers.get('x-request-id'), /^req_/)
  const ready = await fetch(url + '/ready')
  t.equal(ready.status, 200)
  t.same(await ready.json(), { status: 'ready' })
  const api = await fetch(url + '/api/v1/locations.php')
  t.equal(api.status, 401, 'the API itself needs a key')

  child.kill('SIGTERM')
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0, 'SIGTERM: exit 0')
  t.match(output, /closing: finishing in-flight requests/)
  const after = new BetterSqlite3(dbPath, { fileMustExist: true })
  t.equal(after.pragma('integrity_check', { simple: true }), 'ok', 'the database is intact')
  after.close()
})

t.test('SIGTERM lets an in-flight request finish, then exits 0', async (t) => {
  const dir = t.testdir()
  const dbPath = join(dir, 'tempclock.db')
  const server = await startServer(dbPath)
  t.teardown(async () => { await server.stop('SIGKILL') })
  const handle = openSqliteEngine({ file: dbPath })
  const account = await createAccount(handle, { name: 'Acme', apiEnabled: true })
  const { key } = await createApiKey(handle, { accountId: account.id, name: 'k', scopes: [], expiresAt: null, rateLimit: null })
  await handle.close()

  // a write whose body is still arriving when the signal comes
  const body = JSON.stringify({ name: 'Late Depot' })
  const { port } = new URL(server.url)
  const exited = once(server.process, 'exit') as Promise<[number | null]>
  // a pooled keep-alive connection, as clients use: the answer must tell it to close, or the
  // server would wait for its keep-alive timeout before exiting
  const response = new Promise<{ status: number, body: string, connection: string | undefined, at: number }>((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/api/v1/locations.php',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => { text += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, connection: res.headers.connection, at: Date.now() }))
    })
    req.on('error', reject)
    req.write(body.slice(0, 5))
    void sleep(300).then(() => {
      server.process.kill('SIGTERM')
      return sleep(300)
    }).then(() => req.end(body.slice(5)))
  })
  const answer = await response
  t.equal(answer.status, 201, 'the in-flight request completed')
  t.match(JSON.parse(answer.body), { data: { name: 'Late Depot' } })
  // the client is told not to reuse the connection, so the server need not wait for it to go idle
  t.equal(answer.connection, 'close')
  const [code] = await exited
  t.equal(code, 0, 'then the server exited 0')
  t.ok(Date.now() - answer.at < 2_000, `and promptly (${Date.now() - answer.at} ms after the answer), not after the keep-alive timeout`)

  const db = new BetterSqlite3(dbPath, { readonly: true })
  t.same(db.prepare('select name from locations').all(), [{ name: 'Late Depot' }], 'and the write is on disk')
  db.close()
})

t.test('TEMPCLOCK_WRITE_GUARD: on unless NODE_ENV=production; on|off overrides either way', async (t) => {
  t.equal(loadConfig({}).writeGuard, true, 'development: misuse throws at once')
  t.equal(loadConfig({ NODE_ENV: 'test' }).writeGuard, true)
  t.equal(loadConfig({ NODE_ENV: 'production' }).writeGuard, false, 'production: no AsyncLocalStorage on every write')
  t.equal(loadConfig({ NODE_ENV: 'production', TEMPCLOCK_WRITE_GUARD: 'on' }).writeGuard, true)
  t.equal(loadConfig({ NODE_ENV: 'production', TEMPCLOCK_WRITE_GUARD: 'ON' }).writeGuard, true)
  t.equal(loadConfig({ TEMPCLOCK_WRITE_GUARD: 'off' }).writeGuard, false)
  t.equal(loadConfig({ NODE_ENV: 'production', TEMPCLOCK_WRITE_GUARD: '' }).writeGuard, false, 'empty is unset')
  t.equal(testConfig({}).writeGuard, true, 'tests run with it on')
})

t.test('the write guard setting reaches the engine: off, a read on engine.db inside a write reads the committed state', async (t) => {
  const dir = t.testdir()
  const read = async (app: Awaited<ReturnType<typeof buildTestApp>>): Promise<unknown> =>
    await app.engine.write(async () => (await app.engine.db.selectFrom('accounts').select('id').execute()).length)
  const guarded = await buildTestApp(t, { dbPath: join(dir, 'on.db') })
  await t.rejects(read(guarded), { message: DB_INSIDE_WRITE })
  const unguarded = await buildTestApp(t, { dbPath: join(dir, 'off.db'), writeGuard: false })
  t.equal(await read(unguarded), 0)
})
