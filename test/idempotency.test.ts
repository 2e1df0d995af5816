import t from 'tap'
import { IdempotencyStore, IDEMPOTENCY_TTL_MS } from '../db/idempotency.js'
import { buildTestApp, call, createTestAccount, createTestKey } from './helper.js'
import { createFencedLocation, events, insertWorker } from './time-fixtures.js'

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

t.test('in progress, stale pending, expiry and purge', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const w = await insertWorker(app.db, acct.id)
  const store = new IdempotencyStore(app.db)
  const apiKeyId = (await app.db.selectFrom('api_keys').select('id').where('account_id', '=', acct.id).executeTakeFirstOrThrow()).id
  // a request with the same key still running (claimed, not completed) → 409 in progress
  const res0 = await call(app, acct.key, clock({ worker_id: w, action: 'in' }, 'p1'))
  const fp = (await app.db.selectFrom('idempotency_keys').select('fingerprint').where('idempotency_key', '=', 'p1').executeTakeFirstOrThrow()).fingerprint
  t.equal(res0.statusCode, 201)
  const pending = await store.claim(apiKeyId, 'p2', fp)
  t.equal(pending.kind, 'claimed')
  const busy = await call(app, acct.key, clock({ worker_id: w, action: 'in' }, 'p2'))
  t.equal(busy.statusCode, 409)
  t.equal(busy.json().code, 'idempotency_key_in_progress')
  // a pending row left by a crashed process is taken over after a minute
  t.equal((await store.claim(apiKeyId, 'p2', fp, Date.now() + 61_000)).kind, 'claimed')

  // expiry: after 24 h the key is free again, and the purge removes it
  t.equal((await store.claim(apiKeyId, 'p1', fp)).kind, 'replay')
  t.equal((await store.claim(apiKeyId, 'p1', 'other')).kind, 'mismatch')
  t.equal((await store.claim(apiKeyId, 'p1', 'other', Date.now() + IDEMPOTENCY_TTL_MS + 1000)).kind, 'claimed', 'expired: reusable')
  const purged = await store.purgeExpired(Date.now() + 2 * IDEMPOTENCY_TTL_MS + 120_000)
  t.equal(purged, 2)
  t.equal(await count(app, 'idempotency_keys'), 0)
})
