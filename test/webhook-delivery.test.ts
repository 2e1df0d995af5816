import t from 'tap'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { WebhookOutbox } from '../db/webhook-outbox.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import { WebhookDispatcher } from '../services/webhook-dispatcher.js'
import type { AppConfig } from '../plugins/config.js'
import { eventIdRecorder } from '../db/events.js'
import { buildTestApp, call, createTestAccount, recordEvent, sqliteOnly, startServer, testAppConfig } from './helper.js'
import { signatureMatches, sleep, startReceiver, waitFor, type Receiver } from './webhook-receiver.js'

/** The loop on, fast: polls every 20 ms, retries after ~30 ms, 500 ms per attempt. */
const FAST: Partial<AppConfig> = {
  webhooksEnabled: true,
  webhooksAllowLoopback: true,
  webhooksPollMs: 20,
  webhooksRetryBaseMs: 30,
  webhooksRetryMaxMs: 200,
  webhooksTimeoutMs: 500
}

async function receiver (t: { after: (fn: () => unknown) => void }, fallback: number | 'hang' = 200): Promise<Receiver> {
  const r = await startReceiver(fallback)
  t.after(async () => { await r.close() })
  return r
}

async function subscribe (app: FastifyInstance, key: string, body: Record<string, unknown>): Promise<{ id: number, secret: string }> {
  const res = await call(app, key, { method: 'POST', url: '/api/v1/webhooks.php', payload: body })
  if (res.statusCode !== 201) throw new Error(`subscribe failed: ${res.body}`)
  return res.json().data
}

async function deliveriesOf (app: FastifyInstance, subscriptionId: number) {
  return await app.db.selectFrom('webhook_deliveries').selectAll().where('subscription_id', '=', subscriptionId).orderBy('id').execute()
}

t.test('a delivery is a signed POST of {id, event, created_at, data}', async (t) => {
  const app = await buildTestApp(t, FAST)
  const account = await createTestAccount(app)
  const r = await receiver(t)
  const sub = await subscribe(app, account.key, { url: `${r.url}/hook?src=tc`, events: ['clock_in'] })

  const eventId = await recordEvent(app.engine, account.id, 'clock_in', { id: 7, worker_id: 3, worker_name: 'Ana Pop', clock_in: '2025-06-15T09:30:00Z' })
  await waitFor(() => r.requests.length === 1, 5000, 'the delivery')
  const got = r.requests[0]!
  t.equal(got.path, '/hook?src=tc')
  t.equal(got.headers['content-type'], 'application/json')
  t.equal(got.headers['x-tempclock-event'], 'clock_in')
  t.match(got.headers['user-agent'], /^TempClock-Webhooks/)
  const [delivery] = await deliveriesOf(app, sub.id)
  t.equal(got.headers['x-tempclock-delivery'], String(delivery!.id))
  t.match(got.headers['x-tempclock-signature'], /^sha256=[0-9a-f]{64}$/)
  t.ok(signatureMatches(sub.secret, got.raw, got.headers['x-tempclock-signature']), 'the signature verifies with the secret')
  t.notOk(signatureMatches('whsec_' + '0'.repeat(64), got.raw, got.headers['x-tempclock-signature']), 'and not with another secret')
  t.notOk(signatureMatches(sub.secret, Buffer.concat([got.raw, Buffer.from(' ')]), got.headers['x-tempclock-signature']), 'nor for a changed body')

  const body = JSON.parse(got.raw.toString())
  const event = await app.db.selectFrom('events').selectAll().where('id', '=', eventId).executeTakeFirstOrThrow()
  t.same(body, { id: eventId, event: 'clock_in', created_at: event.created_at, data: { id: 7, worker_id: 3, worker_name: 'Ana Pop', clock_in: '2025-06-15T09:30:00Z' } })
  t.same(Object.keys(body), ['id', 'event', 'created_at', 'data'])

  await waitFor(async () => (await deliveriesOf(app, sub.id))[0]!.status === 'delivered', 2000, 'delivered')
  const detail = (await call(app, account.key, { method: 'GET', url: `/api/v1/webhooks.php?id=${sub.id}` })).json().data
  t.match(detail.deliveries, [{
    id: delivery!.id, event_id: eventId, event: 'clock_in', status: 'delivered', attempts: 1, last_response_code: 200,
    last_error: null, next_attempt_at: null, delivered_at: /Z$/, last_attempt_at: /Z$/, created_at: /Z$/, updated_at: /Z$/
  }])
  t.notOk(JSON.stringify(detail).includes(sub.secret))
  t.ok(event.dispatched_at !== null || (await app.db.selectFrom('events').select('dispatched_at').where('id', '=', eventId).executeTakeFirstOrThrow()).dispatched_at !== null, 'the event is marked dispatched')
})

t.test('a receiver failing twice gets the event on the third attempt, with the same bytes, and never again', async (t) => {
  const app = await buildTestApp(t, FAST)
  const account = await createTestAccount(app)
  const r = await receiver(t)
  r.script = [500, 503]
  const sub = await subscribe(app, account.key, { url: `${r.url}/x`, events: ['*'] })
  await recordEvent(app.engine, account.id, 'worker_created', { id: 1, first_name: 'Ion' })

  await waitFor(() => r.requests.length === 3, 5000, 'three attempts')
  await waitFor(async () => (await deliveriesOf(app, sub.id))[0]!.status === 'delivered', 2000, 'delivered')
  const [delivery] = await deliveriesOf(app, sub.id)
  t.match(delivery, { status: 'delivered', attempts: 3, last_response_code: 200, last_error: null })
  t.ok(r.requests.every((q) => q.raw.equals(r.requests[0]!.raw)), 'every attempt sends the same body bytes')
  t.ok(r.requests.every((q) => q.headers['x-tempclock-signature'] === r.requests[0]!.headers['x-tempclock-signature']))
  t.ok(r.requests.every((q) => q.headers['x-tempclock-delivery'] === String(delivery!.id)), 'one delivery id throughout')
  await sleep(300)
  t.equal(r.requests.length, 3, 'nothing after the 2xx')
})

t.test('a timeout is a failed attempt and is retried', async (t) => {
  const app = await buildTestApp(t, { ...FAST, webhooksTimeoutMs: 150 })
  const account = await createTestAccount(app)
  const r = await receiver(t)
  r.script = ['hang']
  const sub = await subscribe(app, account.key, { url: r.url, events: ['clock_out'] })
  await recordEvent(app.engine, account.id, 'clock_out', { id: 1 })
  await waitFor(async () => (await deliveriesOf(app, sub.id))[0]?.status === 'delivered', 5000, 'delivered')
  t.equal(r.requests.length, 2)
  const detail = (await call(app, account.key, { method: 'GET', url: `/api/v1/webhooks.php?id=${sub.id}` })).json().data
  t.match(detail.deliveries[0], { status: 'delivered', attempts: 2 })
})

t.test('events go only to matching active subscriptions of the same account; ping only to its target', async (t) => {
  const app = await buildTestApp(t, FAST)
  const a = await createTestAccount(app, { name: 'A' })
  const b = await createTestAccount(app, { name: 'B' })
  const r = await receiver(t)
  const aAll = await subscribe(app, a.key, { url: `${r.url}/a-all`, events: ['*'] })
  await subscribe(app, a.key, { url: `${r.url}/a-out`, events: ['clock_out'] })
  const inactive = await subscribe(app, a.key, { url: `${r.url}/a-inactive`, events: ['*'], active: false })
  const deleted = await subscribe(app, a.key, { url: `${r.url}/a-deleted`, events: ['*'] })
  t.equal((await call(app, a.key, { method: 'DELETE', url: `/api/v1/webhooks.php?id=${deleted.id}` })).statusCode, 200)
  const bAll = await subscribe(app, b.key, { url: `${r.url}/b-all`, events: ['*'] })

  await recordEvent(app.engine, a.id, 'clock_in', { who: 'a' })
  await recordEvent(app.engine, a.id, 'clock.geofence_breach', { who: 'a' })
  await recordEvent(app.engine, b.id, 'worker_updated', { who: 'b' })
  const ping = await call(app, a.key, { method: 'POST', url: `/api/v1/webhooks.php?id=${aAll.id}&action=ping` })
  t.equal(ping.statusCode, 202)

  await waitFor(() => r.requests.length >= 4, 5000, 'four deliveries')
  await sleep(300) // anything misrouted would arrive by now
  const seen = r.requests.map((q) => `${q.path} ${String(q.headers['x-tempclock-event'])} ${String(JSON.parse(q.raw.toString()).data.who ?? 'ping')}`).sort()
  t.same(seen, [
    '/a-all clock.geofence_breach a',
    '/a-all clock_in a',
    '/a-all ping ping',
    '/b-all worker_updated b'
  ])
  t.same(await deliveriesOf(app, inactive.id), [], 'an inactive subscription gets nothing')
  t.same(await deliveriesOf(app, deleted.id), [], 'a deleted subscription gets nothing')
  t.equal((await deliveriesOf(app, bAll.id)).length, 1, 'B sees only its own event')
})

t.test('deactivating or deleting gives up pending deliveries: no further attempts', async (t) => {
  const app = await buildTestApp(t, { ...FAST, webhooksRetryBaseMs: 100 })
  const account = await createTestAccount(app)
  const r = await receiver(t, 500)
  const del = await subscribe(app, account.key, { url: `${r.url}/del`, events: ['clock_in'] })
  const off = await subscribe(app, account.key, { url: `${r.url}/off`, events: ['clock_in'] })
  await recordEvent(app.engine, account.id, 'clock_in', { id: 1 })
  await waitFor(() => r.requests.some((q) => q.path === '/del') && r.requests.some((q) => q.path === '/off'), 5000, 'first attempts')
  await call(app, account.key, { method: 'DELETE', url: `/api/v1/webhooks.php?id=${del.id}` })
  await call(app, account.key, { method: 'PUT', url: `/api/v1/webhooks.php?id=${off.id}`, payload: { active: false } })
  await sleep(100) // an attempt already in flight may still land
  const count = r.requests.length
  await sleep(500)
  t.equal(r.requests.length, count, 'no attempts after delete/deactivate')
  t.match(await deliveriesOf(app, del.id), [{ status: 'failed', last_error: 'subscription deleted' }])
  t.match(await deliveriesOf(app, off.id), [{ status: 'failed', last_error: 'subscription deactivated' }])
  const detail = (await call(app, account.key, { method: 'GET', url: `/api/v1/webhooks.php?id=${off.id}` })).json().data
  t.match(detail.deliveries[0], { status: 'failed', last_response_code: 500, next_attempt_at: null })
})

t.test('changing a subscription applies to deliveries already claimed but not started', async (t) => {
  const app = await buildTestApp(t, { ...FAST, webhooksConcurrency: 1, webhooksTimeoutMs: 300 })
  const account = await createTestAccount(app)
  const r = await receiver(t)
  r.script = ['hang']
  const sub = await subscribe(app, account.key, { url: `${r.url}/old`, events: ['clock_in'] })
  for (let i = 0; i < 3; i++) await recordEvent(app.engine, account.id, 'clock_in', { i })
  await waitFor(() => r.requests.length === 1, 3000, 'the first attempt (hanging)')
  const put = await call(app, account.key, { method: 'PUT', url: `/api/v1/webhooks.php?id=${sub.id}`, payload: { url: `${r.url}/new` } })
  t.equal(put.statusCode, 200)
  await waitFor(async () => (await deliveriesOf(app, sub.id)).every((d) => d.status === 'delivered'), 5000, 'all delivered')
  t.same(r.requests.map((q) => q.path), ['/old', '/new', '/new', '/new'], 'only the attempt already in flight used the old URL')
})

t.test('at most `concurrency` attempts are in flight', async (t) => {
  const app = await buildTestApp(t, { ...FAST, webhooksConcurrency: 2, webhooksTimeoutMs: 400 })
  const account = await createTestAccount(app)
  const r = await receiver(t, 'hang')
  await subscribe(app, account.key, { url: r.url, events: ['*'] })
  for (let i = 0; i < 5; i++) await recordEvent(app.engine, account.id, 'clock_in', { i })
  await waitFor(() => r.requests.length === 2, 3000, 'two attempts')
  await sleep(200)
  t.equal(r.requests.length, 2, 'the other three wait for a free slot')
  await waitFor(() => r.requests.length >= 4, 3000, 'the next two after the timeouts')
})

t.test('a host name is resolved and checked at delivery time (localhost with the loopback flag)', async (t) => {
  const app = await buildTestApp(t, FAST)
  const account = await createTestAccount(app)
  const r = await receiver(t)
  const sub = await subscribe(app, account.key, { url: r.url.replace('127.0.0.1', 'localhost'), events: ['*'] })
  await recordEvent(app.engine, account.id, 'worker_updated', { id: 1 })
  await waitFor(async () => (await deliveriesOf(app, sub.id))[0]?.status === 'delivered', 5000, 'delivered via localhost')
  t.equal(r.requests.length, 1)
})

t.test('without the loopback flag a stored loopback URL is refused at delivery time', async (t) => {
  // e.g. the flag was on when the subscription was made, and the server restarted without it
  const app = await buildTestApp(t, { ...FAST, webhooksAllowLoopback: false })
  const account = await createTestAccount(app)
  const r = await receiver(t)
  const now = '2026-01-01T00:00:00Z'
  const subs = []
  for (const url of [r.url, r.url.replace('127.0.0.1', 'localhost')]) {
    subs.push((await app.db.insertInto('webhook_subscriptions').values({
      account_id: account.id, url, events: '["*"]', active: true, description: null, secret: 's', created_at: now, updated_at: now, deleted_at: null
    }).returning('id').executeTakeFirstOrThrow()).id)
  }
  await recordEvent(app.engine, account.id, 'clock_in', { id: 1 })
  for (const id of subs) {
    await waitFor(async () => (await deliveriesOf(app, id))[0]?.attempts === 1, 5000, 'an attempt')
  }
  t.match((await deliveriesOf(app, subs[0]!))[0], { status: 'pending', last_error: 'refused: 127.0.0.1 is a loopback address', last_response_code: null })
  t.match((await deliveriesOf(app, subs[1]!))[0], { status: 'pending', last_error: /^refused: localhost resolves to .* is a loopback address$/ })
  t.equal(r.requests.length, 0, 'nothing reached the receiver')
})

t.test('a write wakes the loop at once, without waiting for the poll', async (t) => {
  const app = await buildTestApp(t, { ...FAST, webhooksPollMs: 60_000 })
  const account = await createTestAccount(app)
  const r = await receiver(t)
  const sub = await subscribe(app, account.key, { url: r.url, events: ['ping'] })
  const started = Date.now()
  await call(app, account.key, { method: 'POST', url: `/api/v1/webhooks.php?id=${sub.id}&action=ping` })
  await waitFor(() => r.requests.length === 1, 3000, 'the ping')
  t.ok(Date.now() - started < 3000, `delivered in ${Date.now() - started} ms`)
  t.equal(r.requests[0]!.headers['x-tempclock-event'], 'ping')
})

t.test('retries back off exponentially with jitter for 24 hours, then fail (controlled clock)', async (t) => {
  const app = await buildTestApp(t, { webhooksAllowLoopback: true })
  const account = await createTestAccount(app)
  const r = await receiver(t, 500)
  const sub = await subscribe(app, account.key, { url: r.url, events: ['*'] })
  let now = Date.parse('2026-01-01T00:00:00Z')
  const dispatcher = new WebhookDispatcher(app.engine, {
    pollMs: 1000,
    retryBaseMs: 30_000,
    retryMaxMs: 3_600_000,
    retryWindowMs: 24 * 3_600_000,
    timeoutMs: 1000,
    concurrency: 4,
    accountConcurrency: 4,
    subscriptionConcurrency: 2,
    allowLoopback: true,
    clock: () => now,
    random: () => 0.5
  })
  await recordEvent(app.engine, account.id, 'clock_in', { id: 1 })
  const start = now
  const delays: number[] = []
  for (let i = 0; i < 100; i++) {
    await dispatcher.runOnce()
    const [d] = await deliveriesOf(app, sub.id)
    if (d!.status !== 'pending') break
    await dispatcher.runOnce() // not yet due: nothing happens
    delays.push(d!.next_attempt_ms - now)
    now = d!.next_attempt_ms
  }
  const [final] = await deliveriesOf(app, sub.id)
  t.equal(final!.status, 'failed')
  t.equal(final!.last_response_code, 500)
  t.equal(final!.attempts, r.requests.length, 'one request per attempt')
  t.same(delays.slice(0, 8), [22_500, 45_000, 90_000, 180_000, 360_000, 720_000, 1_440_000, 2_700_000], 'base·2^n with jitter (random 0.5 → ¾)')
  t.ok(delays.every((d) => d <= 2_700_000), 'capped')
  t.ok(now - start >= 24 * 3_600_000, `retried for ${((now - start) / 3_600_000).toFixed(1)} h`)
  t.ok(final!.attempts > 30 && final!.attempts < 50, `${final!.attempts} attempts`)
  t.ok(r.requests.every((q) => q.raw.equals(r.requests[0]!.raw)), 'same bytes on every retry')
  await dispatcher.runOnce()
  now += 3_600_000
  await dispatcher.runOnce()
  t.equal(r.requests.length, final!.attempts, 'a failed delivery is not tried again')
})

t.test('a backlog larger than one fan-out batch is delivered exactly once per event', async (t) => {
  const app = await buildTestApp(t, { webhooksAllowLoopback: true })
  const account = await createTestAccount(app)
  const r = await receiver(t)
  await subscribe(app, account.key, { url: r.url, events: ['*'] })
  const record = eventIdRecorder(app.engine)
  await app.db.transaction().execute(async (trx) => {
    for (let i = 0; i < 450; i++) await record(trx, account.id, 'clock_in', { i })
  })
  const dispatcher = new WebhookDispatcher(app.engine, {
    pollMs: 1000, retryBaseMs: 1000, retryMaxMs: 1000, retryWindowMs: 86_400_000, timeoutMs: 2000, concurrency: 8, accountConcurrency: 8, subscriptionConcurrency: 8, allowLoopback: true
  })
  for (let pass = 0; pass < 100 && r.requests.length < 450; pass++) await dispatcher.runOnce()
  const ids = r.requests.map((q) => (JSON.parse(q.raw.toString()) as { id: number }).id)
  t.equal(ids.length, 450)
  t.equal(new Set(ids).size, 450, 'no event twice')
  const statuses = await app.db.selectFrom('webhook_deliveries').select('status').distinct().execute()
  t.same(statuses, [{ status: 'delivered' }])
  t.equal((await app.db.selectFrom('events').select('id').where('dispatched_at', 'is', null).execute()).length, 0)
})

t.test('fan-out is idempotent and tolerates a crash between insert and mark', async (t) => {
  const app = await buildTestApp(t, { webhooksAllowLoopback: true })
  const account = await createTestAccount(app)
  const sub = await subscribe(app, account.key, { url: 'http://127.0.0.1:9/', events: ['*'] })
  const eventId = await recordEvent(app.engine, account.id, 'shift_created', { id: 5 })
  // as if a previous fan-out inserted the delivery and crashed before marking the event
  await app.db.insertInto('webhook_deliveries').values({
    event_id: eventId, subscription_id: sub.id, status: 'pending', attempts: 0, next_attempt_ms: 0, give_up_ms: 1,
    created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z'
  }).execute()
  const outbox = new WebhookOutbox(app.engine)
  t.equal(await outbox.fanOut(Date.now(), 1000), 1)
  t.equal(await outbox.fanOut(Date.now(), 1000), 0, 'nothing left to fan out')
  t.equal((await deliveriesOf(app, sub.id)).length, 1, 'no duplicate delivery')
  t.not((await app.db.selectFrom('events').select('dispatched_at').where('id', '=', eventId).executeTakeFirstOrThrow()).dispatched_at, null)
})

t.test('closing the app mid-attempt is prompt; the delivery resumes after a restart', async (t) => {
  const dbPath = join(t.testdir(), 'tempclock.db')
  const r = await receiver(t)
  r.script = ['hang']
  const config = { ...FAST, dbPath, webhooksTimeoutMs: 10_000 }
  const { buildApp } = await import('../app.js')
  const first = await buildApp(await testAppConfig(t, config))
  const account = await createTestAccount(first)
  const sub = await subscribe(first, account.key, { url: r.url, events: ['*'] })
  // compiled outside the write: building a query on engine.db inside one is refused
  const firstEvents = eventIdRecorder(first.engine)
  await first.engine.write(async (trx) => await firstEvents(trx, account.id, 'clock_in', { id: 1 }))
  await waitFor(() => r.requests.length === 1, 5000, 'the first attempt')
  const closing = Date.now()
  await first.close()
  t.ok(Date.now() - closing < 3500, `closed in ${Date.now() - closing} ms (in-flight attempts get a 2 s grace)`)

  const second = await buildApp(await testAppConfig(t, config))
  t.after(async () => { await second.close() })
  // the second app's loop may deliver before a look at the pending row could be taken, so the
  // abandoned attempt is checked after the delivery: it left no attempt of its own behind
  await waitFor(async () => (await deliveriesOf(second, sub.id))[0]!.status === 'delivered', 5000, 'delivered after restart')
  const [delivered] = await deliveriesOf(second, sub.id)
  t.match(delivered, { status: 'delivered', attempts: 1 }, 'the abandoned attempt was not counted: the one attempt is the restart\'s')
  t.equal(r.requests.length, 2)
  t.ok(r.requests[1]!.raw.equals(r.requests[0]!.raw))
})

t.test('a killed server delivers its pending deliveries and outbox events after restart', { skip: sqliteOnly('a killed server process on a SQLite file') }, async (t) => {
  const dbPath = join(t.testdir(), 'tempclock.db')
  const r = await receiver(t, 503)
  const env = {
    TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK: '1',
    TEMPCLOCK_WEBHOOKS_POLL_MS: '50',
    TEMPCLOCK_WEBHOOKS_RETRY_BASE_MS: '100',
    TEMPCLOCK_WEBHOOKS_RETRY_MAX_MS: '200',
    TEMPCLOCK_WEBHOOKS_TIMEOUT_MS: '1000'
  }
  // the operator's setup, on the same file the server uses
  const handle = openSqliteEngine({ file: dbPath })
  await handle.migrate()
  const account = await createAccount(handle, { name: 'Acme', timezone: 'UTC', apiEnabled: true })
  const { key } = await createApiKey(handle, { accountId: account.id, name: 'k', scopes: [], expiresAt: null, rateLimit: 1000 })
  await handle.close()

  const server = await startServer(dbPath, env)
  t.after(async () => { await server.stop() })
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  const created = await fetch(`${server.url}/api/v1/webhooks.php`, { method: 'POST', headers, body: JSON.stringify({ url: `${r.url}/in`, events: ['*'] }) })
  t.equal(created.status, 201)
  const sub = (await created.json() as { data: { id: number, secret: string } }).data
  const ping = await fetch(`${server.url}/api/v1/webhooks.php?id=${sub.id}&action=ping`, { method: 'POST', headers: { authorization: `Bearer ${key}` } })
  t.equal(ping.status, 202)
  await waitFor(() => r.requests.length >= 1, 5000, 'a first (failing) attempt')
  t.equal(await server.stop('SIGKILL'), null, 'killed')
  const attemptsBefore = r.requests.length

  const check = openSqliteEngine({ file: dbPath })
  t.after(async () => { await check.close() })
  const [pending] = await check.db.selectFrom('webhook_deliveries').selectAll().execute()
  t.equal(pending!.status, 'pending', 'still pending after the kill')
  // an event committed while the server is down (e.g. by another process) waits in the outbox
  const checkEvents = eventIdRecorder(check)
  const laterId = await check.write(async (trx) => await checkEvents(trx, account.id, 'worker_created', { id: 99 }))

  r.fallback = 200
  const again = await startServer(dbPath, env)
  t.after(async () => { await again.stop() })
  await waitFor(async () => {
    const rows = await check.db.selectFrom('webhook_deliveries').select('status').execute()
    return rows.length === 2 && rows.every((row) => row.status === 'delivered')
  }, 10_000, 'both delivered after the restart')
  const delivered = r.requests.slice(attemptsBefore).filter((q) => q.headers['x-tempclock-event'] !== undefined)
  const events = delivered.map((q) => JSON.parse(q.raw.toString()) as { id: number, event: string })
  t.ok(events.some((e) => e.event === 'ping'), 'the pending ping')
  t.ok(events.some((e) => e.event === 'worker_created' && e.id === laterId), 'the outbox event')
  t.ok(delivered.every((q) => signatureMatches(sub.secret, q.raw, q.headers['x-tempclock-signature'])))
  t.equal(await again.stop('SIGTERM'), 0, 'a clean shutdown with the loop running')
})
