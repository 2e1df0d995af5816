import t from 'tap'
import { IdempotencyStore, IDEMPOTENCY_TTL_MS } from '../db/idempotency.js'
import Fastify from 'fastify'
import rootPlugin, { serverOptions } from '../app.js'

import { NoQuery } from '../schemas/common.js'
import { buildTestApp, call, createTestAccount, createTestKey, ON_POSTGRES, routeTable, rowCounts, testAppConfig } from './helper.js'
import { sql } from 'kysely'
import { createFencedLocation, events, insertWorker } from './time-fixtures.js'
import { sqliteOf } from './helper.js'

const clock = (body: Record<string, unknown>, key: string) => ({ method: 'POST' as const, url: '/api/v1/clock.php', payload: body, headers: { 'idempotency-key': key } })
const count = async (app: Awaited<ReturnType<typeof buildTestApp>>, table: 'time_entries' | 'events' | 'idempotency_keys' | 'locations') =>
  (await app.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n

t.test('same key and body: the first response is replayed, the work is not repeated', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const w = await insertWorker(app.db, acct.id)
  const first = await call(app, acct.key, clock({ worker_id: w, action: 'in' }, 'abc-1'))
  t.equal(first.statusCode, 201)
  t.notOk(first.headers['idempotent-replayed'])
  // same body, keys in another order
  const again = await call(app, acct.key, { ...clock({ action: 'in', worker_id: w }, 'abc-1') })
  t.equal(again.statusCode, 201)
  t.equal(again.body, first.body, 'byte-identical body')
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.match(again.headers['content-type'], /application\/json/)
  t.equal(await count(app, 'time_entries'), 1)
  t.equal(await count(app, 'events'), 1, 'no second clock_in event')

  const other = await call(app, acct.key, clock({ worker_id: w, action: 'out' }, 'abc-1'))
  t.equal(other.statusCode, 409)
  t.equal(other.json().code, 'idempotency_key_reused')
  t.equal(await count(app, 'time_entries'), 1)

  const out = await call(app, acct.key, clock({ worker_id: w, action: 'out' }, 'abc-2'))
  t.equal(out.statusCode, 200)
  const outAgain = await call(app, acct.key, clock({ worker_id: w, action: 'out' }, 'abc-2'))
  t.equal(outAgain.statusCode, 200, 'a retried clock-out replays 200, not 409 not_clocked_in')
  t.equal(outAgain.body, out.body)

  const noKey = await call(app, acct.key, { method: 'POST', url: '/api/v1/clock.php', payload: { worker_id: w, action: 'out' } })
  t.equal(noKey.json().code, 'not_clocked_in', 'without the header nothing is replayed')
})

t.test('keys are scoped per API key', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const second = await createTestKey(app, acct.id)
  const w1 = await insertWorker(app.db, acct.id)
  const w2 = await insertWorker(app.db, acct.id)
  t.equal((await call(app, acct.key, clock({ worker_id: w1, action: 'in' }, 'shared'))).statusCode, 201)
  const res = await call(app, second.key, clock({ worker_id: w2, action: 'in' }, 'shared'))
  t.equal(res.statusCode, 201, 'another key may use the same Idempotency-Key for another request')
  t.notOk(res.headers['idempotent-replayed'])
  t.equal(await count(app, 'time_entries'), 2)
})

t.test('errors that changed nothing are not stored; a refusal that wrote its event is', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const w = await insertWorker(app.db, acct.id)
  const bad = await call(app, acct.key, clock({ worker_id: w, action: 'in', colour: 1 }, 'k1'))
  t.equal(bad.statusCode, 400)
  const fixed = await call(app, acct.key, clock({ worker_id: w, action: 'in' }, 'k1'))
  t.equal(fixed.statusCode, 201, 'a corrected retry may reuse the key after a 400')
  const conflict = await call(app, acct.key, clock({ worker_id: w, action: 'in' }, 'k2'))
  t.equal(conflict.json().code, 'already_clocked_in')
  t.equal(await count(app, 'idempotency_keys'), 1, 'the 409 was not stored')

  const fence = await createFencedLocation(app, acct.id, 'block')
  const w2 = await insertWorker(app.db, acct.id)
  const far = { worker_id: w2, action: 'in', location_id: fence.id, latitude: 53.9, longitude: -1.5479 }
  const refused = await call(app, acct.key, clock(far, 'k3'))
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'geofence_refused')
  const replay = await call(app, acct.key, clock(far, 'k3'))
  t.equal(replay.statusCode, 403)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.body, refused.body)
  t.equal((await events(app.db, acct.id, 'clock.geofence_refused')).length, 1, 'one refusal event, not two')
})

t.test('header validation', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const w = await insertWorker(app.db, acct.id)
  for (const key of ['x'.repeat(256), 'tab\there', ' leading', 'trailing ', '', 'naïve']) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/clock.php', payload: { worker_id: w, action: 'in' }, headers: { authorization: `Bearer ${acct.key}`, 'idempotency-key': key } })
    t.equal(res.statusCode, 400, JSON.stringify(key))
    t.equal(res.json().code, 'validation_error')
    t.match(res.json().message, /Idempotency-Key/)
  }
  t.equal(await count(app, 'time_entries'), 0)
  t.equal((await call(app, acct.key, clock({ worker_id: w, action: 'in' }, 'x'.repeat(255)))).statusCode, 201, '255 characters is fine')
  t.equal((await call(app, acct.key, clock({ worker_id: w, action: 'out' }, 'a b:c/{}~'))).statusCode, 200, 'printable with inner spaces')
})

t.test('generic: applies to every POST (locations), not to PUT', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const body = { name: 'Once' }
  const first = await call(app, acct.key, { method: 'POST', url: '/api/v1/locations.php', payload: body, headers: { 'idempotency-key': 'loc-1' } })
  const second = await call(app, acct.key, { method: 'POST', url: '/api/v1/locations.php', payload: body, headers: { 'idempotency-key': 'loc-1' } })
  t.equal(first.statusCode, 201)
  t.equal(second.statusCode, 201)
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.equal(await count(app, 'locations'), 1)
  const sameKeyOtherPath = await call(app, acct.key, { method: 'POST', url: '/api/v1/shifts.php', payload: { location_id: first.json().data.id, start_time: '2025-06-01T08:00:00Z', end_time: '2025-06-01T09:00:00Z' }, headers: { 'idempotency-key': 'loc-1' } })
  t.equal(sameKeyOtherPath.json().code, 'idempotency_key_reused', 'the fingerprint covers the path')
  const put = await call(app, acct.key, { method: 'PUT', url: `/api/v1/locations.php?id=${first.json().data.id as number}`, payload: { name: 'Renamed' }, headers: { 'idempotency-key': 'loc-1' } })
  t.equal(put.statusCode, 200, 'PUT ignores the header')
})

t.test('concurrent retries wait and replay; a pending row of an older version is taken over; expiry and purge', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const w = await insertWorker(app.db, acct.id)
  const store = new IdempotencyStore(app.engine)
  const apiKeyId = (await app.db.selectFrom('api_keys').select('id').where('account_id', '=', acct.id).executeTakeFirstOrThrow()).id

  // the same request twice at once: one does the work, the other replays it once it committed
  const both = await Promise.all([1, 2].map(async () => await call(app, acct.key, clock({ worker_id: w, action: 'in' }, 'p1'))))
  t.same(both.map((r) => r.statusCode), [201, 201])
  t.equal(both.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 1, 'one ran, one replayed')
  t.equal(both[0]!.body, both[1]!.body)
  t.equal(await count(app, 'time_entries'), 1)

  // older versions claimed a key in its own transaction before the work; a claim they never
  // completed is not a response, so the key is free at once
  const fp = (await app.db.selectFrom('idempotency_keys').select('fingerprint').where('idempotency_key', '=', 'p1').executeTakeFirstOrThrow()).fingerprint
  await app.db.insertInto('idempotency_keys').values({
    api_key_id: apiKeyId, idempotency_key: 'p2', fingerprint: fp, state: 'pending', response_status: null, response_body: null, created_at: new Date().toISOString().slice(0, 19) + 'Z', expires_at: '2999-01-01T00:00:00Z'
  }).execute()
  const out = await call(app, acct.key, clock({ worker_id: w, action: 'out' }, 'p2'))
  t.equal(out.statusCode, 200, 'the pending key is taken over without waiting')
  t.notOk(out.headers['idempotent-replayed'])

  // expiry: after 24 h the key is free again, and the purge removes it
  t.equal((await store.find(apiKeyId, 'p1'))?.fingerprint, fp)
  t.equal(await store.find(apiKeyId, 'p1', Date.now() + IDEMPOTENCY_TTL_MS + 1000), undefined, 'expired: reusable')
  const purged = await store.purgeExpired(Date.now() + 2 * IDEMPOTENCY_TTL_MS + 120_000)
  t.equal(purged, 2)
  t.equal(await count(app, 'idempotency_keys'), 0)
})

/** A valid POST for each POST route; the test below fails for a POST route missing here. */
const POSTS: Array<{ url: string, query?: string, body: (ids: { worker: number, location: number, webhook: number }) => Record<string, unknown> | undefined }> = [
  { url: '/api/v1/locations.php', body: () => ({ name: 'Keyed depot' }) },
  { url: '/api/v1/workers.php', body: () => ({ first_name: 'Key', last_name: 'Ed' }) },
  { url: '/api/v1/departments.php', body: () => ({ name: 'Keyed' }) },
  { url: '/api/v1/cost-codes.php', body: () => ({ code: 'KEY', name: 'Keyed' }) },
  { url: '/api/v1/shifts.php', body: ({ location }) => ({ location_id: location, start_time: '2026-02-02T08:00:00Z', end_time: '2026-02-02T12:00:00Z' }) },
  { url: '/api/v1/clock.php', body: ({ worker }) => ({ worker_id: worker, action: 'in' }) },
  { url: '/api/v1/webhooks.php', body: () => ({ url: 'https://hooks.example.com/keyed', events: ['clock_in'] }) },
  { url: '/api/v1/webhooks.php', query: 'action=ping&id=', body: () => undefined },
  { url: '/api/v1/documents.php', body: ({ worker }) => ({ worker_id: worker, type: 'Forklift licence', expires_on: '2030-01-01' }) },
  // inactive, so that it gates no clock-in above
  { url: '/api/v1/surveys.php', body: () => ({ name: 'Keyed survey', active: false, questions: [{ id: 'fit', text: 'Fit for work?', type: 'yes_no', accept: [true] }] }) }
]

/** Makes storing a response fail, as a full disk would (a temporary trigger; on PostgreSQL a trigger and its function). */
async function refuseResponses (app: Awaited<ReturnType<typeof buildTestApp>>): Promise<void> {
  if (!ON_POSTGRES) {
    sqliteOf(app).exec("create temp trigger refuse_new_response before insert on idempotency_keys when new.response_body is not null begin select raise(abort, 'injected: storage full'); end;" +
      "create temp trigger refuse_added_response before update of response_body on idempotency_keys begin select raise(abort, 'injected: storage full'); end")
    return
  }
  await sql`create function refuse_response() returns trigger language plpgsql as $$ begin raise exception 'injected: storage full'; end $$`.execute(app.db)
  await sql`create trigger refuse_new_response before insert on idempotency_keys for each row when (new.response_body is not null) execute function refuse_response()`.execute(app.db)
  await sql`create trigger refuse_added_response before update of response_body on idempotency_keys for each row execute function refuse_response()`.execute(app.db)
}

async function acceptResponses (app: Awaited<ReturnType<typeof buildTestApp>>): Promise<void> {
  if (!ON_POSTGRES) {
    sqliteOf(app).exec('drop trigger refuse_new_response; drop trigger refuse_added_response')
    return
  }
  await sql`drop function refuse_response() cascade`.execute(app.db)
}

t.test('every POST route stores its response with its work: both commit or neither does', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  const location = (await call(app, acct.key, { method: 'POST', url: '/api/v1/locations.php', payload: { name: 'Base' } })).json().data.id as number
  const webhook = (await call(app, acct.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: 'https://hooks.example.com/base', events: ['*'] } })).json().data.id as number
  const ids = { worker, location, webhook }

  const posts = routeTable(app).filter((r) => r.method === 'POST' && r.url.startsWith('/api/v1/') && r.scope !== undefined && r.scope !== 'public')
  for (const route of posts) t.ok(POSTS.some((p) => p.url === route.url), `POST ${route.url} has a sample request here`)

  for (const [i, post] of POSTS.entries()) {
    const request = {
      method: 'POST' as const,
      url: post.url + (post.query === undefined ? '' : `?${post.query}${webhook}`),
      headers: { 'idempotency-key': `every-${i}` },
      ...(post.body(ids) === undefined ? {} : { payload: post.body(ids) })
    }
    // storing the response fails: the work must roll back with it
    const before = await rowCounts(app)
    await refuseResponses(app)
    const failed = await call(app, acct.key, request)
    await acceptResponses(app)
    t.equal(failed.statusCode, 500, `${request.url}: the request fails when its response cannot be stored`)
    t.same(await rowCounts(app), before, `${request.url}: and its work rolled back with it`)

    const first = await call(app, acct.key, request)
    t.ok(first.statusCode >= 200 && first.statusCode < 300, `${request.url}: ${first.statusCode} ${first.body.slice(0, 200)}`)
    t.notOk(first.headers['idempotent-replayed'])
    const afterFirst = await rowCounts(app)
    const again = await call(app, acct.key, request)
    t.equal(again.statusCode, first.statusCode, `${request.url}: replayed status`)
    t.equal(again.body, first.body, `${request.url}: replayed body`)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.same(await rowCounts(app), afterFirst, `${request.url}: the replay wrote nothing`)
  }
})

t.test('a POST route that answers without storing its response fails loudly', async (t) => {
  const config = await testAppConfig(t)
  const app = Fastify(serverOptions(config))
  await app.register(rootPlugin, { config })
  await app.register(async (api) => {
    api.post('/api/v1/forgetful.php', { config: { scope: 'full' }, schema: { operationId: 'forgetful', querystring: NoQuery } }, async (request, reply) => {
      await api.engine.write(async (trx) => await trx.insertInto('events').values({ account_id: request.apiKey!.accountId, type: 'ping', payload: '{}', created_at: '2026-01-01T00:00:00Z', dispatched_at: null }).execute())
      return await reply.code(201).send({ data: { ok: true } })
    })
  })
  await app.ready()
  t.after(async () => { await app.close() })
  const acct = await createTestAccount(app)
  const res = await call(app, acct.key, { method: 'POST', url: '/api/v1/forgetful.php', payload: {}, headers: { 'idempotency-key': 'forgot' } })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'internal_error')
  const plain = await call(app, acct.key, { method: 'POST', url: '/api/v1/forgetful.php', payload: {} })
  t.equal(plain.statusCode, 201, 'without a key there is nothing to store')
})
