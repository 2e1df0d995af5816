import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { WebhookOutbox } from '../db/webhook-outbox.js'
import { pickFair } from '../domain/webhook-delivery.js'
import type { AppConfig } from '../plugins/config.js'
import { WebhookDispatcher } from '../services/webhook-dispatcher.js'
import { sendWebhook } from '../services/webhook-sender.js'
import { buildTestApp, call, createTestAccount, recordEvent } from './helper.js'
import { startHangingServer, startReceiver, waitFor, type HangingServer, type Receiver } from './webhook-receiver.js'

/** The loop on and polling fast; the attempt timeout stays long, so a hanging attempt holds its slot for the whole test. */
const HANGING: Partial<AppConfig> = {
  webhooksEnabled: true,
  webhooksAllowLoopback: true,
  webhooksPollMs: 20,
  webhooksTimeoutMs: 10_000,
  webhooksConcurrency: 8,
  webhooksAccountConcurrency: 4,
  webhooksSubscriptionConcurrency: 2
}

async function receiver (t: { after: (fn: () => unknown) => void }): Promise<Receiver> {
  const r = await startReceiver(200)
  t.after(async () => { await r.close() })
  return r
}

async function hangingServer (t: { after: (fn: () => unknown) => void }): Promise<HangingServer> {
  const h = await startHangingServer()
  t.after(async () => { await h.close() })
  return h
}

async function subscribe (app: FastifyInstance, key: string, body: Record<string, unknown>): Promise<{ id: number }> {
  const res = await call(app, key, { method: 'POST', url: '/api/v1/webhooks.php', payload: body })
  if (res.statusCode !== 201) throw new Error(`subscribe failed: ${res.body}`)
  return res.json().data
}

async function deliveriesOf (app: FastifyInstance, key: string, subscriptionId: number): Promise<Array<{ status: string }>> {
  return (await call(app, key, { method: 'GET', url: `/api/v1/webhooks.php?id=${subscriptionId}` })).json().data.deliveries
}

t.test("one account's 16 hanging subscriptions do not delay another account's delivery", async (t) => {
  const app = await buildTestApp(t, HANGING)
  const a = await createTestAccount(app, { name: 'A' })
  const b = await createTestAccount(app, { name: 'B' })
  const hang = await hangingServer(t)
  const r = await receiver(t)
  for (let i = 0; i < 16; i++) await subscribe(app, a.key, { url: `${hang.url}/a${i}`, events: ['*'] })
  await subscribe(app, b.key, { url: `${r.url}/b`, events: ['clock_in'] })

  // A clocks a worker in and out: 32 deliveries to endpoints that never answer
  await recordEvent(app.engine, a.id, 'clock_in', { who: 'a' })
  await recordEvent(app.engine, a.id, 'clock_out', { who: 'a' })
  await waitFor(() => hang.open() >= 4, 3000, "A's first attempts")
  const started = Date.now()
  await recordEvent(app.engine, b.id, 'clock_in', { who: 'b' })
  await waitFor(() => r.requests.length === 1, 1000, "B's delivery within 1 s")
  t.ok(Date.now() - started < 1000, `B's delivery arrived after ${Date.now() - started} ms`)
  t.equal(hang.open(), 4, 'A holds only its share of the slots (webhooksAccountConcurrency)')
})

t.test('two accounts with hanging endpoints still leave a slot for a third', async (t) => {
  // 8 slots, 4 per account, 2 kept for accounts with nothing in flight: A takes 4, C only 2
  const app = await buildTestApp(t, HANGING)
  const a = await createTestAccount(app, { name: 'A' })
  const c = await createTestAccount(app, { name: 'C' })
  const b = await createTestAccount(app, { name: 'B' })
  const hang = await hangingServer(t)
  const r = await receiver(t)
  for (const account of [a, c]) {
    for (let i = 0; i < 8; i++) await subscribe(app, account.key, { url: `${hang.url}/${account.id}-${i}`, events: ['*'] })
    await recordEvent(app.engine, account.id, 'clock_in', { who: account.id })
  }
  await subscribe(app, b.key, { url: `${r.url}/b`, events: ['clock_in'] })
  await waitFor(() => hang.open() >= 6, 3000, "A's and C's first attempts")
  await recordEvent(app.engine, b.id, 'clock_in', { who: 'b' })
  await waitFor(() => r.requests.length === 1, 1000, "B's delivery within 1 s")
  t.equal(hang.open(), 6, 'the hanging accounts hold 6 of the 8 slots')
})

t.test('one subscription has at most webhooksSubscriptionConcurrency attempts in flight; its other subscriptions still go', async (t) => {
  const app = await buildTestApp(t, HANGING)
  const a = await createTestAccount(app)
  const hang = await hangingServer(t)
  const r = await receiver(t)
  await subscribe(app, a.key, { url: `${hang.url}/slow`, events: ['clock_in'] })
  await subscribe(app, a.key, { url: `${r.url}/fast`, events: ['clock_out'] })
  for (let i = 0; i < 6; i++) await recordEvent(app.engine, a.id, 'clock_in', { i })
  await waitFor(() => hang.open() === 2, 3000, 'two attempts to the slow endpoint')
  await recordEvent(app.engine, a.id, 'clock_out', { i: 99 })
  await waitFor(() => r.requests.length === 1, 1000, 'the other subscription within 1 s')
  t.equal(hang.open(), 2, 'the slow subscription still has two in flight')
})

t.test('a connect that never completes fails after the connect timeout, not the attempt timeout', async (t) => {
  const started = Date.now()
  const result = await sendWebhook({
    url: 'http://never-resolves.example/hook',
    body: '{}',
    headers: {},
    timeoutMs: 10_000,
    connectTimeoutMs: 150,
    policy: { allowLoopback: false },
    resolver: () => {} // a name server that never answers: the socket stays "connecting"
  })
  t.same(result, { ok: false, status: null, error: 'connect timed out after 150 ms' })
  t.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`)
})

t.test('pickFair: round-robin over accounts, then over an account\'s subscriptions, within the limits', async (t) => {
  const c = (accountId: number, subscriptionId: number, id: number): { accountId: number, subscriptionId: number, id: number } => ({ accountId, subscriptionId, id })
  // account 1 has a backlog on two subscriptions; account 2 has one delivery, listed last
  const candidates = [c(1, 10, 1), c(1, 10, 2), c(1, 10, 3), c(1, 11, 4), c(1, 11, 5), c(2, 20, 6)]
  const none = { byAccount: new Map(), bySubscription: new Map() }
  const { picked, cursor } = pickFair(candidates, none, { perAccount: 3, perSubscription: 2, total: 10 })
  t.same(picked.map((p) => p.id), [1, 6, 4, 2], 'account 1, account 2, then account 1 alternating its subscriptions; 3 for account 1 at most')
  t.equal(cursor.account, 1)

  const next = pickFair(candidates, none, { perAccount: 3, perSubscription: 2, total: 1 }, cursor)
  t.same(next.picked.map((p) => p.id), [6], 'the next pick starts with the next account')
  const busy = { byAccount: new Map([[1, 3]]), bySubscription: new Map([[10, 1]]) }
  t.same(pickFair(candidates, busy, { perAccount: 3, perSubscription: 2, total: 10 }).picked.map((p) => p.id), [6], 'an account at its limit gets nothing')
  t.same(pickFair(candidates, { byAccount: new Map(), bySubscription: new Map([[10, 2]]) }, { perAccount: 9, perSubscription: 2, total: 10 }).picked.map((p) => p.id),
    [4, 6, 5], 'a subscription at its limit is skipped')
  const reserved = pickFair(candidates, { byAccount: new Map([[1, 1]]), bySubscription: new Map() }, { perAccount: 9, perSubscription: 9, total: 3, reserveForIdle: 2 })
  t.same(reserved.picked.map((p) => p.id), [1, 6], 'accounts holding something share only total − reserve; an idle one may take a reserved slot')
  const reservedBusy = pickFair([c(1, 10, 1), c(1, 10, 2), c(1, 10, 3)], { byAccount: new Map([[1, 1]]), bySubscription: new Map() }, { perAccount: 9, perSubscription: 9, total: 3, reserveForIdle: 2 })
  t.same(reservedBusy.picked.map((p) => p.id), [1], 'and none at all when only busy accounts are waiting')
})

t.test('fan-out writes bounded transactions of whole events', async (t) => {
  const app = await buildTestApp(t, { webhooksAllowLoopback: true })
  const a = await createTestAccount(app)
  const subs = []
  for (let i = 0; i < 20; i++) subs.push(await subscribe(app, a.key, { url: `http://127.0.0.1:9/${i}`, events: ['*'] }))
  for (let i = 0; i < 10; i++) await recordEvent(app.engine, a.id, 'clock_in', { i })
  const outbox = new WebhookOutbox(app.engine)
  t.equal(await outbox.fanOut(Date.now(), 1000, 200, 50), 3, 'three events (60 deliveries), stopping once 50 rows are reached')
  t.equal((await app.db.selectFrom('webhook_deliveries').select('id').execute()).length, 60)
  t.equal(await outbox.fanOut(Date.now(), 1000, 200, 1), 1, 'at least one whole event, whatever the bound')
  t.equal((await app.db.selectFrom('webhook_deliveries').select('id').execute()).length, 80)
})

t.test('delivered and failed deliveries and their events are pruned after the retention; pending ones stay', async (t) => {
  const app = await buildTestApp(t, { webhooksAllowLoopback: true })
  const a = await createTestAccount(app)
  const ok = await receiver(t)
  const failing = await startReceiver(500)
  t.after(async () => { await failing.close() })
  const delivered = await subscribe(app, a.key, { url: ok.url, events: ['clock_in'] })
  const gaveUp = await subscribe(app, a.key, { url: failing.url, events: ['clock_in'] })
  const retrying = await subscribe(app, a.key, { url: failing.url, events: ['clock_out'] })
  let now = Date.now()
  const day = 86_400_000
  const dispatcher = new WebhookDispatcher(app.engine, {
    pollMs: 1000, retryBaseMs: 3 * day, retryMaxMs: 3 * day, retryWindowMs: 10 * day, timeoutMs: 2000,
    concurrency: 8, accountConcurrency: 4, subscriptionConcurrency: 2, allowLoopback: true, retentionMs: day, clock: () => now, random: () => 0.5
  })
  await recordEvent(app.engine, a.id, 'clock_in', { i: 1 })
  await dispatcher.runOnce()
  t.equal((await call(app, a.key, { method: 'PUT', url: `/api/v1/webhooks.php?id=${gaveUp.id}`, payload: { active: false } })).statusCode, 200)
  t.match(await deliveriesOf(app, a.key, delivered.id), [{ status: 'delivered' }])
  t.match(await deliveriesOf(app, a.key, gaveUp.id), [{ status: 'failed' }])

  now += 2 * day
  await recordEvent(app.engine, a.id, 'clock_out', { i: 2 }) // its first retry is 2.25 days later
  await dispatcher.runOnce()
  t.match(await deliveriesOf(app, a.key, retrying.id), [{ status: 'pending' }])
  now += 2 * day
  await dispatcher.runOnce() // the next pruning pass: the pending delivery is now older than the retention
  t.same(await deliveriesOf(app, a.key, delivered.id), [], 'the delivered delivery is gone')
  t.same(await deliveriesOf(app, a.key, gaveUp.id), [], 'the failed one too')
  t.match(await deliveriesOf(app, a.key, retrying.id), [{ status: 'pending' }], 'a pending delivery is kept, however old')
  const events = await app.db.selectFrom('events').select('type').orderBy('id').execute()
  t.same(events.map((e) => e.type), ['clock_out'], 'the pruned deliveries\' event is gone; the pending one\'s stays')
})
