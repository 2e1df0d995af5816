import t from 'tap'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import { openPostgresEngine } from '../db/engine/postgres/index.js'
import { createAccount, setApiEnabled } from '../db/accounts.js'
import { createApiKey, revokeApiKey } from '../db/api-keys.js'
import { WorkerStore } from '../db/workers.js'
import { eventIdRecorder } from '../db/events.js'
import { startTogether, type RunningServer } from './helper.js'
import { freshPostgresDatabase, postgresSkip } from './postgres.js'
import { redisSkip, TestRedis } from './redis-server.js'
import { startReceiver, waitFor } from './webhook-receiver.js'

// Two real server processes on one PostgreSQL database and one Redis (docs/operations.md,
// "Several processes"): whatever process a request reaches, the answer is the one a single
// process would give. The two servers are shared by the subtests, each on its own account.

const skip = await postgresSkip() || redisSkip
// two server starts, 1000 webhook deliveries and 600 expiry events: about a minute on a busy
// 2-core machine, so more than the suite's default per file
t.setTimeout(240_000)

interface Answer { status: number, body: any, headers: Headers }

async function request (server: RunningServer, key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers }
}


t.test('two server processes on one PostgreSQL', { skip }, async (t) => {
  const url = await freshPostgresDatabase(t)
  const redis = await TestRedis.start(t)
  const receiver = await startReceiver(200)
  t.teardown(async () => { await receiver.close() })

  // set-up and checks from the test's process, through the same stores the server and the CLI use
  const engine = openPostgresEngine({ url, poolSize: 4 })
  t.teardown(async () => { await engine.close() })
  const recordEvent = eventIdRecorder(engine)
  const newAccount = async (name: string, rateLimit = 100_000): Promise<{ id: number, key: string, keyId: number }> => {
    const account = await createAccount(engine, { name, timezone: 'UTC', apiEnabled: true })
    const { key, record } = await createApiKey(engine, { accountId: account.id, name: 'full', scopes: [], expiresAt: null, rateLimit })
    return { id: account.id, key, keyId: record.id }
  }

  // documents already expired when both processes start: each expiry check races the other's
  const expiring = await newAccount('Expiring')
  const holder = await new WorkerStore(engine).create(expiring.id, { first_name: 'Dee', last_name: 'Holder' })
  // enough of them that each process's first pass takes a while: the two passes overlap
  const now = new Date().toISOString().slice(0, 19) + 'Z'
  const expiredIds = await engine.write(async (trx) => (await trx.insertInto('documents').values(Array.from({ length: 600 }, (_, i) => ({
    account_id: expiring.id, worker_id: holder.id, type: `Licence ${i}`, reference: null, issued_on: null,
    expires_on: `2025-0${1 + (i % 9)}-1${i % 10}`, notes: null, expired_notified_on: null, created_at: now, updated_at: now
  }))).returning('id').execute()).map((r) => r.id).sort((x, y) => x - y))

  const env = {
    TEMPCLOCK_DATABASE_URL: url,
    TEMPCLOCK_REDIS_URL: redis.url,
    TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK: '1',
    TEMPCLOCK_WEBHOOKS_POLL_MS: '50',
    TEMPCLOCK_DOCUMENT_EXPIRY_INTERVAL_MS: '100'
  }
  const dir = t.testdir()
  const [a, b] = await startTogether(t, [join(dir, 'unused-a.db'), join(dir, 'unused-b.db')], env) as [RunningServer, RunningServer]
  const servers = [a, b] as const

  t.test('document_expired fires once per document when both processes start with expired documents', async (t) => {
    const count = async (): Promise<Array<{ id: number, n: number }>> => {
      const rows = await engine.db.selectFrom('events').select([sql<number>`(payload::jsonb ->> 'id')::int`.as('id'), (eb) => eb.fn.countAll<number>().as('n')])
        .where('type', '=', 'document_expired').where('account_id', '=', expiring.id).groupBy(sql`payload::jsonb ->> 'id'`).execute()
      return rows.map((r) => ({ id: Number(r.id), n: Number(r.n) }))
    }
    await waitFor(async () => (await count()).length === expiredIds.length, 20_000, 'every expiry announced')
    // several more passes of both checks
    await sleep(500)
    const announced = await count()
    t.same(announced.map((r) => r.id).sort((x, y) => x - y), expiredIds, 'every expired document announced')
    t.same(announced.filter((r) => r.n !== 1), [], 'none announced twice')
  })

  t.test('a key revoked, or an account\'s API access disabled, is refused by both processes on the next request', async (t) => {
    const acme = await newAccount('Acme')
    const other = await createApiKey(engine, { accountId: acme.id, name: 'to revoke', scopes: [], expiresAt: null, rateLimit: null })
    for (const server of servers) {
      t.equal((await request(server, other.key, 'GET', '/api/v1/locations.php')).status, 200, 'the key works on both')
    }
    // what `tempclock keys revoke` runs
    await revokeApiKey(engine, other.record.id)
    for (const [i, server] of servers.entries()) {
      const res = await request(server, other.key, 'GET', '/api/v1/locations.php')
      t.equal(res.status, 401, `process ${i + 1} refuses the revoked key at once`)
      t.equal(res.body.code, 'api_key_revoked')
    }
    // what `tempclock accounts disable-api` runs
    await setApiEnabled(engine, acme.id, false)
    for (const [i, server] of servers.entries()) {
      const res = await request(server, acme.key, 'GET', '/api/v1/locations.php')
      t.equal(res.status, 403, `process ${i + 1} refuses the disabled account at once`)
      t.equal(res.body.code, 'api_access_disabled')
    }
    await setApiEnabled(engine, acme.id, true)
    for (const server of servers) {
      t.equal((await request(server, acme.key, 'GET', '/api/v1/locations.php')).status, 200, 'and both serve it again once re-enabled')
    }
  })

  t.test('50 concurrent clock-ins for one worker across both processes: one 201, one open entry', async (t) => {
    const account = await newAccount('Clocking')
    const worker = await request(a, account.key, 'POST', '/api/v1/workers.php', { first_name: 'Cleo', last_name: 'Clock' })
    t.equal(worker.status, 201)
    const answers = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
      await request(servers[i % 2]!, account.key, 'POST', '/api/v1/clock.php', { worker_id: worker.body.data.id, action: 'in' })))
    const statuses = answers.map((r) => r.status)
    t.equal(statuses.filter((s) => s === 201).length, 1, 'exactly one clock-in is accepted')
    t.equal(statuses.filter((s) => s === 409).length, 49, `the others conflict (${JSON.stringify(statuses)})`)
    t.same([...new Set(answers.filter((r) => r.status === 409).map((r) => r.body.code))], ['already_clocked_in'])
    const open = await engine.db.selectFrom('time_entries').select('id')
      .where('worker_id', '=', worker.body.data.id).where('status', '=', 'active').execute()
    t.equal(open.length, 1, 'one open entry in the database')
  })

  t.test('an Idempotency-Key used on one process replays on the other; concurrent uses never create two', async (t) => {
    const account = await newAccount('Idempotent')
    const created = await request(a, account.key, 'POST', '/api/v1/locations.php', { name: 'Depot' }, { 'idempotency-key': 'depot-1' })
    t.equal(created.status, 201)
    t.equal(created.headers.get('idempotent-replayed'), null)
    const retried = await request(b, account.key, 'POST', '/api/v1/locations.php', { name: 'Depot' }, { 'idempotency-key': 'depot-1' })
    t.equal(retried.status, 201, 'the retry on the other process answers as the first did')
    t.same(retried.body, created.body, 'with the same body')
    t.equal(retried.headers.get('idempotent-replayed'), 'true')
    const reused = await request(b, account.key, 'POST', '/api/v1/locations.php', { name: 'Other' }, { 'idempotency-key': 'depot-1' })
    t.equal(reused.status, 409)
    t.equal(reused.body.code, 'idempotency_key_reused')

    const pairs = await Promise.all(Array.from({ length: 10 }, async (_, i) => await Promise.all(servers.map(async (server) =>
      await request(server, account.key, 'POST', '/api/v1/locations.php', { name: `Site ${i}` }, { 'idempotency-key': `site-${i}` })))))
    for (const [i, [first, second]] of pairs.entries()) {
      t.same([first!.status, second!.status], [201, 201], `key site-${i}: both answered 201`)
      t.same(first!.body, second!.body, `key site-${i}: with the same location`)
      t.same([first!.headers.get('idempotent-replayed'), second!.headers.get('idempotent-replayed')].sort(), ['true', null].sort(), `key site-${i}: one of them replayed`)
    }
    const rows = await engine.db.selectFrom('locations').select('name').where('account_id', '=', account.id).orderBy('id').execute()
    t.same(rows.map((r) => r.name).sort(), ['Depot', ...Array.from({ length: 10 }, (_, i) => `Site ${i}`)].sort(), 'one location per key')
  })

  t.test('a key\'s rate limit counts its requests on both processes', async (t) => {
    const account = await newAccount('Limited', 10)
    for (let i = 1; i <= 10; i++) {
      const res = await request(servers[i % 2]!, account.key, 'GET', '/api/v1/locations.php')
      t.equal(res.status, 200)
      t.equal(res.headers.get('x-ratelimit-remaining'), String(10 - i), `request ${i}: the remaining count includes the other process's requests`)
    }
    for (const [i, server] of servers.entries()) {
      const res = await request(server, account.key, 'GET', '/api/v1/locations.php')
      t.equal(res.status, 429, `process ${i + 1} refuses the 11th request in the minute`)
      t.equal(res.body.code, 'rate_limited')
    }
  })

  t.test('a subscription deleted through one process gets nothing more from either', async (t) => {
    const account = await newAccount('Deleting')
    // an endpoint that holds every request until told to answer: the loops fill their slots and
    // queue what they have claimed behind them
    const arrived: number[] = []
    const held: ServerResponse[] = []
    let holding = true
    const slow = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        arrived.push(performance.now())
        if (holding) held.push(res)
        else res.end('ok')
      })
    })
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
    t.teardown(async () => {
      slow.closeAllConnections()
      await new Promise((resolve) => slow.close(resolve))
    })
    const hook = await request(a, account.key, 'POST', '/api/v1/webhooks.php', { url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`, events: ['clock_in'] })
    t.equal(hook.status, 201)
    await engine.write(async (trx) => { for (let i = 0; i < 60; i++) await recordEvent(trx, account.id, 'clock_in', { n: i }) })
    // both processes hold attempts (4 each, the per-subscription limit) and claimed ones behind them
    await waitFor(() => held.length >= 8, 20_000, 'both loops sending')
    const deleted = await request(a, account.key, 'DELETE', `/api/v1/webhooks.php?id=${String(hook.body.data.id)}`)
    t.equal(deleted.status, 200)
    const deletedAt = performance.now()
    holding = false
    for (const res of held.splice(0)) res.end('ok')
    await sleep(1500)
    const late = arrived.filter((at) => at > deletedAt)
    t.equal(late.length, 0, `no request sent after the deletion (${late.length} were; ${arrived.length} in all)`)
  })

  t.test('both delivery loops deliver each of 500 events once per subscription', async (t) => {
    const account = await newAccount('Hooks')
    for (const path of ['/one', '/two']) {
      const res = await request(a, account.key, 'POST', '/api/v1/webhooks.php', { url: receiver.url + path, events: ['clock_in'] })
      t.equal(res.status, 201)
    }
    // a backlog both loops see at once
    const eventIds = await engine.write(async (trx) => {
      const ids: number[] = []
      for (let i = 0; i < 500; i++) ids.push(await recordEvent(trx, account.id, 'clock_in', { n: i }))
      return ids
    })
    const ours = new Set(eventIds)
    const parsed: Array<{ path: string, id: number }> = []
    const received = (): Array<{ path: string, id: number }> => {
      for (const r of receiver.requests.slice(parsed.length)) parsed.push({ path: r.path, id: (JSON.parse(r.raw.toString()) as { id: number }).id })
      return parsed.filter((r) => ours.has(r.id))
    }
    const started = performance.now()
    await waitFor(() => received().length >= 1000, 60_000, '1000 deliveries')
    const elapsed = performance.now() - started
    // anything sent twice would arrive within the next passes of both loops
    await sleep(1000)
    const seen = new Map<string, number>()
    for (const r of received()) seen.set(`${r.path} ${r.id}`, (seen.get(`${r.path} ${r.id}`) ?? 0) + 1)
    const duplicates = [...seen].filter(([, n]) => n > 1)
    const missing = eventIds.flatMap((id) => ['/one', '/two'].map((path) => `${path} ${id}`)).filter((k) => !seen.has(k))
    t.same(duplicates, [], 'no delivery sent twice')
    t.same(missing, [], 'none missing')
    t.equal(received().length, 1000, `1000 requests in ${Math.round(elapsed)} ms`)
    const sent = await engine.db.selectFrom('webhook_deliveries').innerJoin('webhook_subscriptions', 'webhook_subscriptions.id', 'webhook_deliveries.subscription_id')
      .where('webhook_subscriptions.account_id', '=', account.id)
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute()
    t.same(sent.map((r) => [r.status, Number(r.n)]), [['delivered', 1000]], 'every delivery recorded as delivered')
    t.comment(`deliveries: ${Math.round(elapsed)} ms for 1000`)
  })
})
