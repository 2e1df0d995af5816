import t from 'tap'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import { openPostgresEngine } from '../db/engine/postgres/index.js'
import { buildTestApp } from './helper.js'
import { freshPostgresDatabase, postgresSkip } from './postgres.js'
import { startReceiver, waitFor } from './webhook-receiver.js'

// Processes on one PostgreSQL database wake each other's webhook loops (LISTEN/NOTIFY,
// docs/postgresql.md): an event written through one process is delivered by another at once,
// not at that process's next poll. Both apps run in this process, each with its own engine.

const skip = await postgresSkip()
/** far longer than the test waits: only a wake-up can deliver in time */
const POLL_MS = 60_000

t.test('an event written through a process without a loop is delivered by another process at once', { skip }, async (t) => {
  const url = await freshPostgresDatabase(t)
  const receiver = await startReceiver(200)
  t.teardown(async () => { await receiver.close() })
  const engine = openPostgresEngine({ url, poolSize: 2 })
  t.teardown(async () => { await engine.close() })
  const account = await createAccount(engine, { name: 'Acme', timezone: 'UTC', apiEnabled: true })
  const { key } = await createApiKey(engine, { accountId: account.id, name: 'full', scopes: [], expiresAt: null, rateLimit: null })

  // an API-only process (its loop off) and a delivering one that would otherwise poll once a minute
  const api = await buildTestApp(t, { databaseUrl: url, webhooksEnabled: false, webhooksAllowLoopback: true })
  const deliverer = await buildTestApp(t, { databaseUrl: url, webhooksEnabled: true, webhooksAllowLoopback: true, webhooksPollMs: POLL_MS })

  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  const subscribed = await api.inject({ method: 'POST', url: '/api/v1/webhooks.php', headers, payload: { url: `${receiver.url}/hook`, events: ['worker_created'] } })
  t.equal(subscribed.statusCode, 201, subscribed.body)
  const created = await api.inject({ method: 'POST', url: '/api/v1/workers.php', headers, payload: { first_name: 'Ada', last_name: 'Lovelace' } })
  t.equal(created.statusCode, 201, created.body)

  const sent = Date.now()
  await waitFor(() => receiver.requests.length === 1, 10_000, 'the delivery')
  t.ok(Date.now() - sent < 10_000, `delivered after ${Date.now() - sent} ms, not at the next poll (${POLL_MS} ms)`)
  t.match(JSON.parse(receiver.requests[0]!.raw.toString()), { event: 'worker_created', data: { first_name: 'Ada' } })
  await waitFor(async () => (await engine.db.selectFrom('webhook_deliveries').select('status').execute()).map((d) => d.status).join() === 'delivered', 10_000, 'the delivery recorded')
  t.equal(deliverer.webhooks.inFlight, 0)
})

t.test('deliveries a stopping process had claimed go to another process at once', { skip }, async (t) => {
  const url = await freshPostgresDatabase(t)
  // the first attempt hangs, so the stopping process still holds the rest of its claims
  const receiver = await startReceiver(200)
  receiver.script.push('hang')
  t.teardown(async () => { await receiver.close() })
  const engine = openPostgresEngine({ url, poolSize: 2 })
  t.teardown(async () => { await engine.close() })
  const account = await createAccount(engine, { name: 'Acme', timezone: 'UTC', apiEnabled: true })
  const { key } = await createApiKey(engine, { accountId: account.id, name: 'full', scopes: [], expiresAt: null, rateLimit: null })
  const loop = { webhooksEnabled: true, webhooksAllowLoopback: true, webhooksPollMs: POLL_MS, webhooksConcurrency: 1, webhooksAccountConcurrency: 1, webhooksSubscriptionConcurrency: 1 }

  const stopping = await buildTestApp(t, { databaseUrl: url, ...loop })
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  t.equal((await stopping.inject({ method: 'POST', url: '/api/v1/webhooks.php', headers, payload: { url: `${receiver.url}/hook`, events: ['worker_created'] } })).statusCode, 201)
  for (let i = 0; i < 3; i++) {
    t.equal((await stopping.inject({ method: 'POST', url: '/api/v1/workers.php', headers, payload: { first_name: `W${i}`, last_name: 'X' } })).statusCode, 201)
  }
  await waitFor(() => receiver.requests.length === 1, 10_000, 'the hanging first attempt')
  // a claim is a lease: the next attempt pushed into the future
  const claimed = await engine.db.selectFrom('webhook_deliveries').select('id').where('status', '=', 'pending').where('next_attempt_ms', '>', Date.now()).execute()
  t.ok(claimed.length >= 2, `the stopping process holds ${claimed.length} claims`)

  const other = await buildTestApp(t, { databaseUrl: url, ...loop })
  t.equal(receiver.requests.length, 1, 'the other process finds nothing it may take yet')
  const stoppedAt = Date.now()
  await stopping.close()
  await waitFor(async () => (await engine.db.selectFrom('webhook_deliveries').select('status').execute()).every((d) => d.status === 'delivered'), 10_000, 'every delivery made by the other process')
  t.ok(Date.now() - stoppedAt < 10_000, `delivered ${Date.now() - stoppedAt} ms after the stop, not at the next poll`)
  t.equal(other.webhooks.inFlight, 0)
})
