import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { openPostgresEngine } from '../db/engine/postgres/index.js'
import { postgresMigrations } from '../db/migrations/postgres/index.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import { startTogether, type RunningServer } from './helper.js'
import { postgresSkip, TestPostgresServer } from './postgres.js'
import { redisSkip, TestRedis } from './redis-server.js'
import { waitFor } from './webhook-receiver.js'

// Two server processes started together on an EMPTY database of a private PostgreSQL server (one
// the test may stop: the shared one serves the other test files) and a private Redis: migrations
// run once, and while either is stopped both processes answer 503 at once, without crashing, and
// serve again by themselves once it is back (docs/operations.md).

const skip = await postgresSkip() || redisSkip

/** well under the 30 s request timeout: a stopped dependency fails the request fast */
const FAST_MS = 5_000
/** the server's default request timeout (TEMPCLOCK_REQUEST_TIMEOUT_MS) */
const REQUEST_TIMEOUT_MS = 30_000
/**
 * The servers' statement timeout (TEMPCLOCK_DATABASE_STATEMENT_TIMEOUT_MS), shorter than the 10 s
 * default: a query on a pooled connection to a frozen server waits for it and 2 s more
 */
const STATEMENT_TIMEOUT_MS = 2_000
/** what a busy machine may add to a timer-driven answer */
const SLACK_MS = 5_000

interface Answer { status: number, body: any, ms: number }

async function request (server: RunningServer, path: string, key?: string, method = 'GET', body?: unknown): Promise<Answer> {
  const started = performance.now()
  const res = await fetch(server.url + path, {
    method,
    headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000)
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text), ms: Math.round(performance.now() - started) }
}


t.test('two processes on a private PostgreSQL and Redis', { skip }, async (t) => {
  const postgres = await TestPostgresServer.start(t)
  const redis = await TestRedis.start(t)
  const admin = new pg.Client({ connectionString: postgres.url })
  await admin.connect()
  await admin.query('create database tempclock')
  await admin.end()
  const url = postgres.databaseUrl('tempclock')

  const env = { TEMPCLOCK_DATABASE_URL: url, TEMPCLOCK_REDIS_URL: redis.url, TEMPCLOCK_WEBHOOKS_POLL_MS: '100', TEMPCLOCK_DOCUMENT_EXPIRY_INTERVAL_MS: '200',
    TEMPCLOCK_DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) }
  const dir = t.testdir()
  // both start together on the empty database: both migrate
  const [a, b] = await startTogether(t, [join(dir, 'unused-a.db'), join(dir, 'unused-b.db')], env) as [RunningServer, RunningServer]
  const servers = [a, b] as const

  const engine = openPostgresEngine({ url, poolSize: 2 })
  t.teardown(async () => { await engine.close() })

  t.test('migrations ran once although both processes started together on an empty database', async (t) => {
    const applied = await engine.db.selectFrom('kysely_migration' as any).select('name').orderBy('name').execute() as Array<{ name: string }>
    t.same(applied.map((r) => r.name), Object.keys(postgresMigrations).sort(), 'each migration recorded once')
    for (const server of servers) t.equal((await request(server, '/ready')).status, 200, 'both processes are ready')
  })

  const account = await createAccount(engine, { name: 'Acme', timezone: 'UTC', apiEnabled: true })
  const { key } = await createApiKey(engine, { accountId: account.id, name: 'full', scopes: [], expiresAt: null, rateLimit: 100_000 })

  /** Both processes refuse fast while `what` is down, then serve again by themselves. */
  const outage = async (t: Test, stop: () => Promise<void>, start: () => Promise<void>, ready: string): Promise<void> => {
    for (const server of servers) t.equal((await request(server, '/api/v1/locations.php', key)).status, 200, 'serving before')
    await stop()
    for (const [i, server] of servers.entries()) {
      const name = `process ${i + 1}`
      const readiness = await request(server, '/ready')
      t.equal(readiness.status, 503, `${name}: /ready 503 (${readiness.ms} ms)`)
      t.match(readiness.body, { code: 'not_ready', message: ready })
      t.ok(readiness.ms < FAST_MS, `${name}: /ready answered fast (${readiness.ms} ms)`)
      const read = await request(server, '/api/v1/locations.php', key)
      t.equal(read.status, 503, `${name}: a read answers 503 (${read.ms} ms)`)
      t.equal(read.body.code, 'service_unavailable')
      t.ok(read.ms < FAST_MS, `${name}: the read failed fast (${read.ms} ms)`)
      const write = await request(server, '/api/v1/locations.php', key, 'POST', { name: 'Depot' })
      t.equal(write.status, 503, `${name}: a write answers 503 (${write.ms} ms)`)
      t.equal(write.body.code, 'service_unavailable')
      t.ok(write.ms < FAST_MS, `${name}: the write failed fast (${write.ms} ms)`)
      t.equal((await request(server, '/health')).status, 200, `${name}: still alive`)
      t.equal(server.process.exitCode, null, `${name}: did not exit`)
    }
    await start()
    const restarted = performance.now()
    for (const [i, server] of servers.entries()) {
      await waitFor(async () => (await request(server, '/api/v1/locations.php', key)).status === 200, 30_000, `process ${i + 1} serving again`)
      t.equal((await request(server, '/ready')).status, 200, `process ${i + 1} is ready again without a restart`)
    }
    t.comment(`both serving again ${Math.round(performance.now() - restarted)} ms after the restart`)
    const locations = await engine.db.selectFrom('locations').select('id').where('account_id', '=', account.id).execute()
    t.equal(locations.length, 0, 'the refused writes wrote nothing')
  }

  t.test('PostgreSQL shut down and started again', async (t) => {
    await outage(t, async () => { await postgres.stop('fast') }, async () => { await postgres.restart() }, 'Database unavailable')
  })

  t.test('PostgreSQL crashed (immediate stop) and started again', async (t) => {
    await outage(t, async () => { await postgres.stop('immediate') }, async () => { await postgres.restart() }, 'Database unavailable')
  })

  t.test('PostgreSQL frozen (every process stopped by SIGSTOP) and resumed', async (t) => {
    const postmaster = Number(readFileSync(join(postgres.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
    for (const server of servers) t.equal((await request(server, '/api/v1/locations.php', key)).status, 200, 'serving before')
    // the postmaster first, so that no new backend is forked after its children are listed (one
    // left running would answer)
    process.kill(postmaster, 'SIGSTOP')
    const pids = [postmaster, ...execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' }).trim().split('\n').map(Number)]
    for (const pid of pids.slice(1)) process.kill(pid, 'SIGSTOP')
    let resumed = false
    const resume = (): void => { if (!resumed) { resumed = true; for (const pid of pids) process.kill(pid, 'SIGCONT') } }
    t.teardown(resume)
    const answers = await Promise.all(servers.flatMap((server) => [
      request(server, '/ready'), request(server, '/api/v1/locations.php', key), request(server, '/api/v1/locations.php', key, 'POST', { name: 'Depot' })
    ]))
    t.comment(answers.map((a) => `${a.status} ${String(a.body?.code)} ${a.ms} ms`).join('; '))
    for (const [i, answer] of answers.entries()) {
      const name = `process ${Math.floor(i / 3) + 1}, ${['/ready', 'a read', 'a write'][i % 3]!}`
      t.equal(answer.status, 503, `${name}: 503`)
      t.equal(answer.body.code, i % 3 === 0 ? 'not_ready' : 'service_unavailable', name)
      // a new connection gives up after 2 s; a query sent on a pooled connection after the
      // statement timeout and a margin of 2 s: both within the request timeout
      t.ok(answer.ms < (i % 3 === 0 ? FAST_MS : REQUEST_TIMEOUT_MS), `${name}: answered in ${answer.ms} ms`)
      if (i % 3 !== 0) t.ok(answer.ms < STATEMENT_TIMEOUT_MS + 2_000 + SLACK_MS, `${name}: by the configured statement timeout`)
    }
    for (const [i, server] of servers.entries()) t.equal(server.process.exitCode, null, `process ${i + 1} did not exit`)
    resume()
    for (const [i, server] of servers.entries()) {
      await waitFor(async () => (await request(server, '/api/v1/locations.php', key)).status === 200, 30_000, `process ${i + 1} serving again`)
    }
  })

  t.test('Redis stopped and started again', async (t) => {
    await outage(t, async () => { await redis.stop() }, async () => { await redis.restart() }, 'Redis unavailable')
  })
})

