import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { AppConfig } from '../plugins/config.js'
import { addDays, localDate } from '../domain/zoned-time.js'
import { buildTestApp, call, createTestAccount, createTestKey, type TestAccount } from './helper.js'
import { startReceiver, sleep, waitFor, type Receiver } from './webhook-receiver.js'

const URL = '/api/v1/documents.php'
const FIELDS = ['created_at', 'expires_on', 'id', 'issued_on', 'notes', 'reference', 'status', 'type', 'updated_at', 'worker_id', 'worker_name']

/** The webhook loop on and fast, so an event reaches the receiver within milliseconds. */
const DELIVERING: Partial<AppConfig> = { webhooksEnabled: true, webhooksAllowLoopback: true, webhooksPollMs: 20, webhooksTimeoutMs: 1000 }

async function setup (t: Parameters<typeof buildTestApp>[0], options: { timezone?: string, config?: Partial<AppConfig> } = {}) {
  const app = await buildTestApp(t, options.config)
  const account = await createTestAccount(app, { timezone: options.timezone ?? 'UTC' })
  const send = async (method: 'POST' | 'PUT' | 'GET' | 'DELETE', url: string, payload?: unknown) =>
    await call(app, account.key, { method, url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) })
  const worker = async (first = 'Ana', last = 'Pop'): Promise<number> =>
    (await send('POST', '/api/v1/workers.php', { first_name: first, last_name: last })).json().data.id
  const count = async () => Number((await app.db.selectFrom('documents').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  // the account's today, as the server sees it
  const today = localDate(Date.now(), options.timezone ?? 'UTC')
  return { app, account, send, worker, count, today }
}

/** A receiver subscribed to document_expired for the account. */
async function subscribe (t: Parameters<typeof buildTestApp>[0], app: FastifyInstance, account: TestAccount): Promise<Receiver> {
  const receiver = await startReceiver()
  t.after(async () => { await receiver.close() })
  const res = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: `${receiver.url}/hook`, events: ['document_expired'] } })
  if (res.statusCode !== 201) throw new Error(res.body)
  return receiver
}

const eventsOf = (r: Receiver) => r.requests.map((req) => JSON.parse(req.raw.toString()) as { event: string, data: Record<string, unknown> })

t.test('POST creates; GET ?id= and list return it; documents:read reads but cannot write', async (t) => {
  const { app, account, send, worker, today } = await setup(t)
  const workerId = await worker()
  const res = await send('POST', URL, { worker_id: workerId, type: 'Forklift licence', reference: 'FLT-2291', issued_on: '2024-01-10', expires_on: addDays(today, 400), notes: 'Counterbalance' })
  t.equal(res.statusCode, 201)
  const doc = res.json().data
  t.same(Object.keys(doc).sort(), FIELDS)
  t.match(doc, { id: Number, worker_id: workerId, worker_name: 'Ana Pop', type: 'Forklift licence', reference: 'FLT-2291', issued_on: '2024-01-10', expires_on: addDays(today, 400), status: 'valid', notes: 'Counterbalance', created_at: /Z$/, updated_at: /Z$/ })
  const minimal = (await send('POST', URL, { worker_id: workerId, type: 'Right to work' })).json().data
  t.match(minimal, { reference: null, issued_on: null, expires_on: null, notes: null, status: 'valid' })

  const { key } = await createTestKey(app, account.id, { scopes: ['documents:read'] })
  t.same((await call(app, key, { url: `${URL}?id=${doc.id as number}` })).json(), { data: doc })
  t.same((await call(app, key, { url: URL })).json(), { data: [doc, minimal], pagination: { total: 2, limit: 50, offset: 0, has_more: false } })
  for (const method of ['POST', 'PUT', 'DELETE'] as const) {
    const denied = await call(app, key, { method, url: method === 'POST' ? URL : `${URL}?id=${doc.id as number}`, ...(method === 'DELETE' ? {} : { payload: { worker_id: workerId, type: 'X' } }) })
    t.equal(denied.statusCode, 403, `${method} needs full access`)
    t.equal(denied.json().code, 'insufficient_scope')
  }
  const { key: workersKey } = await createTestKey(app, account.id, { scopes: ['workers:read'] })
  t.equal((await call(app, workersKey, { url: URL })).statusCode, 403, 'workers:read does not read documents')
  const missing = await send('GET', `${URL}?id=31337`)
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { code: 'not_found', message: 'Document 31337 not found' })
})

t.test("status is computed in the account's timezone", async (t) => {
  // Kiritimati (UTC+14) is 25 hours ahead of Pago Pago (UTC-11): its date is always one or (for
  // one hour a day) two days later, so Pago Pago's today has ended in Kiritimati
  const east = await setup(t, { timezone: 'Pacific/Kiritimati' })
  const west = await setup(t, { timezone: 'Pacific/Pago_Pago' })
  t.ok(east.today > west.today, `${east.today} in Kiritimati, ${west.today} in Pago Pago`)
  const e = (await east.send('POST', URL, { worker_id: await east.worker(), type: 'Licence', expires_on: west.today })).json().data
  const w = (await west.send('POST', URL, { worker_id: await west.worker(), type: 'Licence', expires_on: west.today })).json().data
  t.equal(e.status, 'expired', 'the day has ended in Kiritimati')
  t.equal(w.status, 'expiring', 'but not in Pago Pago: the expiry day itself is still valid')
})

t.test('filters: status, expires_before, worker_id, id, and the list params', async (t) => {
  const { send, worker, today } = await setup(t)
  const w1 = await worker('Ana', 'Pop')
  const w2 = await worker('Jan', 'Nowak')
  const rows: Array<[number, string | null]> = [
    [w1, addDays(today, -1)], // expired
    [w1, today], // expiring (the last valid day)
    [w2, addDays(today, 30)], // expiring
    [w2, addDays(today, 31)], // valid
    [w1, null] // valid, no expiry
  ]
  const ids: number[] = []
  for (const [workerId, expires] of rows) ids.push((await send('POST', URL, { worker_id: workerId, type: 'Certificate', expires_on: expires })).json().data.id)
  const listed = async (q: string) => {
    const res = await send('GET', `${URL}?${q}`)
    t.equal(res.statusCode, 200, q)
    return res.json()
  }
  const idsOf = async (q: string) => (await listed(q)).data.map((d: { id: number }) => d.id)
  t.same(await idsOf('status=expired'), [ids[0]])
  t.same(await idsOf('status=expiring'), [ids[1], ids[2]])
  t.same(await idsOf('status=valid'), [ids[3], ids[4]])
  t.same((await listed('status=expiring')).data.map((d: { status: string }) => d.status), ['expiring', 'expiring'], 'the filter agrees with the field')
  t.same(await idsOf(`expires_before=${today}`), [ids[0]], 'strictly before; no expiry never matches')
  t.same(await idsOf(`expires_before=${addDays(today, 31)}`), [ids[0], ids[1], ids[2]])
  t.same(await idsOf(`worker_id=${w2}`), [ids[2], ids[3]])
  t.same(await idsOf(`worker_id=${w1}&status=valid`), [ids[4]])
  t.same(await idsOf(`after_id=${ids[1]!}&limit=2`), [ids[2], ids[3]])
  t.same((await listed('limit=2&offset=1&status=expiring')).pagination, { total: 2, limit: 2, offset: 1, has_more: false })
  t.same(await idsOf('updated_since=2000-01-01T00:00:00Z&status=expired'), [ids[0]])
  for (const q of ['status=lapsed', 'expires_before=2025-02-30', 'expires_before=tomorrow', 'location_id=1', 'worker_id=0']) {
    const res = await send('GET', `${URL}?${q}`)
    t.equal(res.statusCode, 400, q)
    t.equal(res.json().code, 'validation_error')
  }
})

t.test('validation and references: 4xx, nothing written', async (t) => {
  const { app, send, worker, count } = await setup(t)
  const workerId = await worker()
  for (const [body, message] of [
    [{ type: 'X' }, /Missing required field: worker_id/],
    [{ worker_id: workerId }, /Missing required field: type/],
    [{ worker_id: workerId, type: '' }, /type: must not be empty/],
    [{ worker_id: workerId, type: 'X', expires_on: '2025-02-30' }, /expires_on/],
    [{ worker_id: workerId, type: 'X', issued_on: '2025-06-15T00:00:00Z' }, /issued_on/],
    [{ worker_id: workerId, type: 'X', status: 'valid' }, /Unknown field: status/],
    [{ worker_id: workerId, type: 'X', issued_on: '2025-06-15', expires_on: '2025-06-14' }, /expires_on must not be before issued_on/]
  ] as const) {
    const res = await send('POST', URL, body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json().code, 'validation_error')
    t.match(res.json().message, message)
  }
  const unknown = await send('POST', URL, { worker_id: 98765, type: 'X' })
  t.equal(unknown.statusCode, 404)
  t.match(unknown.json(), { code: 'not_found', message: 'Worker 98765 not found' })
  const other = await createTestAccount(app, { name: 'Other' })
  const theirWorker = (await call(app, other.key, { method: 'POST', url: '/api/v1/workers.php', payload: { first_name: 'T', last_name: 'Heirs' } })).json().data.id
  t.equal((await send('POST', URL, { worker_id: theirWorker, type: 'X' })).statusCode, 404, "another account's worker")
  t.equal(await count(), 0)

  const doc = (await send('POST', URL, { worker_id: workerId, type: 'X', issued_on: '2025-01-01' })).json().data
  const url = `${URL}?id=${doc.id as number}`
  for (const body of [{}, { type: null }, { worker_id: theirWorker }, { expires_on: '2024-12-31' }, { colour: 'red' }]) {
    const res = await send('PUT', url, body)
    t.ok(res.statusCode === 400 || res.statusCode === 404, `${JSON.stringify(body)}: ${res.statusCode}`)
  }
  t.same((await send('GET', url)).json().data, doc, 'unchanged')
  const moved = await send('PUT', url, { worker_id: await worker('Jan', 'Nowak'), reference: 'R-1' })
  t.equal(moved.statusCode, 200)
  t.match(moved.json().data, { worker_name: 'Jan Nowak', reference: 'R-1', type: 'X', issued_on: '2025-01-01' })
  t.equal((await send('PUT', `${URL}?id=77777`, { notes: 'x' })).statusCode, 404)
})

t.test('DELETE answers with the deleted document; then it is gone', async (t) => {
  const { send, worker, count } = await setup(t)
  const doc = (await send('POST', URL, { worker_id: await worker(), type: 'CSCS card', expires_on: '2030-01-01' })).json().data
  const res = await send('DELETE', `${URL}?id=${doc.id as number}`)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { data: doc })
  t.equal((await send('GET', `${URL}?id=${doc.id as number}`)).statusCode, 404)
  t.equal((await send('DELETE', `${URL}?id=${doc.id as number}`)).statusCode, 404)
  t.equal((await send('DELETE', URL)).statusCode, 400, 'id is required')
  t.equal(await count(), 0)
})

t.test('saving an expiry that has already passed sends document_expired at once, once per date', async (t) => {
  const { app, account, send, worker, today } = await setup(t, { config: DELIVERING })
  const receiver = await subscribe(t, app, account)
  const workerId = await worker()
  const fresh = (await send('POST', URL, { worker_id: workerId, type: 'First aid', expires_on: today })).json().data
  t.equal(fresh.status, 'expiring')
  const res = await send('POST', URL, { worker_id: workerId, type: 'Forklift licence', expires_on: addDays(today, -3) })
  t.equal(res.statusCode, 201)
  const doc = res.json().data
  t.equal(doc.status, 'expired')
  await waitFor(() => receiver.requests.length === 1, 5000, 'the event')
  t.same(eventsOf(receiver)[0]!.event, 'document_expired')
  t.same(eventsOf(receiver)[0]!.data, doc, 'the data is the document')

  const url = `${URL}?id=${doc.id as number}`
  await send('PUT', url, { notes: 'renewal booked' })
  await send('PUT', url, { expires_on: addDays(today, -5) })
  await send('PUT', url, { expires_on: addDays(today, -3) })
  await sleep(200)
  t.equal(receiver.requests.length, 1, 'other changes, an earlier date, or the same date again send nothing')

  const later = await send('PUT', url, { expires_on: addDays(today, -1) })
  t.equal(later.json().data.status, 'expired')
  await waitFor(() => receiver.requests.length === 2, 5000, 'the event for the later date')
  t.match(eventsOf(receiver)[1]!, { event: 'document_expired', data: { id: doc.id, expires_on: addDays(today, -1), status: 'expired' } })
  await send('PUT', url, { expires_on: addDays(today, 10) })
  await sleep(200)
  t.equal(receiver.requests.length, 2, 'a date in the future sends nothing yet')
  t.equal((await send('GET', url)).json().data.status, 'expiring')
})
