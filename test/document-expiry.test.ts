import t from 'tap'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { createAccount } from '../db/accounts.js'
import { DocumentStore } from '../db/documents.js'
import { WorkerStore } from '../db/workers.js'
import { DocumentExpiryService } from '../services/document-expiry.js'
import type { AppConfig } from '../plugins/config.js'
import { addDays, localDate, nextDate, startOfLocalDay } from '../domain/zoned-time.js'
import { buildTestApp, call, createTestAccount, sqliteOnly, startServer, type TestAccount } from './helper.js'
import { sleep, startReceiver, waitFor, type Receiver } from './webhook-receiver.js'

// The expiry service with an injected clock: "now" is moved past local midnights instead of
// waiting for them. Documents are made through the API (with the real clock), so their expiry
// dates lie ahead of the real today and only the service's clock sees them pass.

const URL = '/api/v1/documents.php'
const DELIVERING: Partial<AppConfig> = { webhooksEnabled: true, webhooksAllowLoopback: true, webhooksPollMs: 20, webhooksTimeoutMs: 1000 }
const TZ = 'Europe/London'

type Tap = Parameters<typeof buildTestApp>[0]

async function withAccount (app: FastifyInstance, timezone = TZ) {
  const account = await createTestAccount(app, { timezone })
  const worker = (await call(app, account.key, { method: 'POST', url: '/api/v1/workers.php', payload: { first_name: 'Ana', last_name: 'Pop' } })).json().data.id as number
  const today = localDate(Date.now(), timezone)
  const document = async (expiresOn: string): Promise<Record<string, unknown> & { id: number }> => {
    const res = await call(app, account.key, { method: 'POST', url: URL, payload: { worker_id: worker, type: 'Forklift licence', expires_on: expiresOn } })
    if (res.statusCode !== 201) throw new Error(res.body)
    return res.json().data
  }
  return { account, today, document }
}

async function subscribe (t: Tap, app: FastifyInstance, account: TestAccount): Promise<Receiver> {
  const receiver = await startReceiver()
  t.after(async () => { await receiver.close() })
  const res = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: `${receiver.url}/hook`, events: ['document_expired'] } })
  if (res.statusCode !== 201) throw new Error(res.body)
  return receiver
}

function service (t: Tap, app: FastifyInstance, clock: () => number, intervalMs = 60_000): DocumentExpiryService {
  const s = new DocumentExpiryService(app.engine, { intervalMs, clock, onAnnounced: () => { app.webhooks.nudge() } })
  t.after(async () => { await s.stop() })
  return s
}

const eventsOf = (r: Receiver) => r.requests.map((req) => JSON.parse(req.raw.toString()) as { event: string, data: Record<string, unknown> })
/** the instant the account's local day after `date` begins: when `date` has passed */
const endOf = (date: string, timeZone = TZ): number => startOfLocalDay(nextDate(date), timeZone)

t.test('the expiry is announced by the first pass after local midnight, once', async (t) => {
  const app = await buildTestApp(t, DELIVERING)
  const { account, today, document } = await withAccount(app)
  const receiver = await subscribe(t, app, account)
  const doc = await document(addDays(today, 2))
  let now = endOf(addDays(today, 2)) - 1000
  service(t, app, () => now, 20).start()
  await sleep(150)
  t.equal(receiver.requests.length, 0, 'not before midnight')
  now += 1000
  await waitFor(() => receiver.requests.length === 1, 3000, 'the event after midnight')
  t.same(eventsOf(receiver)[0], { ...eventsOf(receiver)[0], event: 'document_expired', data: { ...doc, status: 'expired' } }, 'data: the document, now expired')
  now += 86_400_000
  await sleep(200)
  t.equal(receiver.requests.length, 1, 'later passes send nothing more')
})

t.test('each account by its own midnight', async (t) => {
  const app = await buildTestApp(t)
  const london = await withAccount(app, 'Europe/London')
  const auckland = await withAccount(app, 'Pacific/Auckland')
  const date = addDays(london.today, 3)
  await london.document(date)
  await auckland.document(date)
  let now = endOf(date, 'Pacific/Auckland')
  const s = service(t, app, () => now)
  t.equal(await s.runOnce(), 1, 'Auckland reaches the next day first')
  now = endOf(date, 'Europe/London') - 1000
  t.equal(await s.runOnce(), 0, 'London not yet')
  now += 1000
  t.equal(await s.runOnce(), 1, 'then London')
  t.equal(await s.runOnce(), 0)
})

t.test('a backlog larger than one batch, mixed with documents not yet due, is announced in full', async (t) => {
  const app = await buildTestApp(t)
  const auckland = await withAccount(app, 'Pacific/Auckland')
  const london = await withAccount(app, 'Europe/London')
  const date = addDays(london.today, 2)
  // interleaved: every Auckland document is due at Auckland's midnight, no London one is yet
  const made = await Promise.all(Array.from({ length: 500 }, async (_, i) => await (i % 2 === 0 ? auckland : london).document(date)))
  t.equal(made.length, 500)
  const s = service(t, app, () => endOf(date, 'Pacific/Auckland'))
  t.equal(await s.runOnce(), 250, 'every due one, past the batches of undue ones')
  t.equal(await s.runOnce(), 0)
})

t.test('a date that passed while no server ran is announced at start, and a restart does not announce it again', async (t) => {
  const file = join(t.testdir(), 'down.db')
  const first = await buildTestApp(t, { dbPath: file })
  const { account, today, document } = await withAccount(first)
  const docs = [await document(addDays(today, 1)), await document(addDays(today, 2)), await document(addDays(today, 40))]
  await first.close()

  // the server is down for a week; it comes back
  const later = endOf(addDays(today, 8))
  const second = await buildTestApp(t, { ...DELIVERING, dbPath: file })
  const receiver = await subscribe(t, second, account)
  service(t, second, () => later, 20).start()
  await waitFor(() => receiver.requests.length === 2, 3000, 'the two missed expiries')
  await sleep(200)
  t.same(eventsOf(receiver).map((e) => e.data.id).sort(), [docs[0]!.id, docs[1]!.id].sort(), 'the two that passed, once each; not the one still valid')
  await second.close()

  const third = await buildTestApp(t, { ...DELIVERING, dbPath: file })
  const again = service(t, third, () => later + 3_600_000)
  t.equal(await again.runOnce(), 0, 'a restart finds nothing to announce')
  await again.stop()
  t.equal(receiver.requests.length, 2)
})

t.test('two app instances on one database file racing announce each expiry once', async (t) => {
  const file = join(t.testdir(), 'race.db')
  const a = await buildTestApp(t, { ...DELIVERING, dbPath: file })
  const b = await buildTestApp(t, { dbPath: file })
  const { account, today, document } = await withAccount(a)
  const receiver = await subscribe(t, a, account)
  const ids: number[] = []
  for (let i = 0; i < 30; i++) ids.push((await document(addDays(today, 1 + (i % 3)))).id)
  const now = endOf(addDays(today, 3))
  const [fromA, fromB] = await Promise.all([service(t, a, () => now).runOnce(), service(t, b, () => now).runOnce()])
  t.equal(fromA + fromB, 30, `each wrote its share (a ${fromA}, b ${fromB})`)
  await waitFor(() => receiver.requests.length >= 30, 5000, 'the deliveries')
  await sleep(200)
  t.same(eventsOf(receiver).map((e) => e.data.id).sort((x, y) => (x as number) - (y as number)), ids, 'every document exactly once')
})

t.test('moving expires_on to a later date re-arms the event; an earlier date does not', async (t) => {
  const app = await buildTestApp(t)
  const { account, today, document } = await withAccount(app)
  const doc = await document(addDays(today, 1))
  let now = endOf(addDays(today, 1))
  const s = service(t, app, () => now)
  t.equal(await s.runOnce(), 1)
  const put = async (expiresOn: string) =>
    await call(app, account.key, { method: 'PUT', url: `${URL}?id=${doc.id}`, payload: { expires_on: expiresOn } })
  t.equal((await put(addDays(today, 4))).statusCode, 200)
  t.equal(await s.runOnce(), 0, 'the new date has not passed')
  now = endOf(addDays(today, 4))
  t.equal(await s.runOnce(), 1, 'once it has, the event again')
  t.equal(await s.runOnce(), 0)
  t.equal((await put(addDays(today, 2))).statusCode, 200)
  now = endOf(addDays(today, 10))
  t.equal(await s.runOnce(), 0, 'moved back to an earlier date: nothing')
  t.equal((await put(addDays(today, 4))).statusCode, 200)
  t.equal(await s.runOnce(), 0, 'nor to the date already announced')
})

t.test('two server processes on one file: the pass at start announces a missed expiry once; a restart sends nothing', { skip: sqliteOnly('server processes on one SQLite file') }, async (t) => {
  const file = join(t.testdir(), 'servers.db')
  const handle = openSqliteEngine({ file })
  await handle.migrate()
  const account = await createAccount(handle, { name: 'Two', timezone: TZ, apiEnabled: true })
  const worker = await new WorkerStore(handle).create(account.id, { first_name: 'Ana', last_name: 'Pop' })
  // saved a month ago, expiring last week: it passed while no server ran
  const monthAgo = Date.now() - 30 * 86_400_000
  const store = new DocumentStore(handle, { clock: () => monthAgo })
  const lastWeek = addDays(localDate(Date.now(), TZ), -7)
  const docs = [await store.create(account.id, { worker_id: worker.id, type: 'A', expires_on: lastWeek }), await store.create(account.id, { worker_id: worker.id, type: 'B', expires_on: lastWeek })]
  await handle.close()
  /** the document_expired events in the outbox: the one record of what was announced */
  const announced = async () => {
    const check = openSqliteEngine({ file })
    try {
      return (await check.db.selectFrom('events').select('payload').where('type', '=', 'document_expired').execute()).map((e) => JSON.parse(e.payload) as Record<string, unknown>)
    } finally {
      await check.close()
    }
  }
  t.equal((await announced()).length, 0, 'nothing announced yet')

  const [a, b] = await Promise.all([startServer(file), startServer(file)])
  t.teardown(async () => { await a.stop(); await b.stop() })
  await waitFor(async () => (await announced()).length >= 2, 10_000, 'the pass at start')
  await sleep(300)
  const events = await announced()
  t.same(events.map((e) => e.id).sort(), docs.map((d) => d.id).sort(), 'each document once, across both processes')
  t.equal(events[0]!.status, 'expired')
  await Promise.all([a.stop(), b.stop()])

  // the restart, as the app in this process: its pass at start, awaited rather than slept on
  const c = await buildTestApp(t, { dbPath: file })
  t.equal(await c.documentExpiry.runOnce(), 0, 'a restart finds nothing to announce')
  t.equal((await announced()).length, 2, 'a restart announces nothing again')
})
