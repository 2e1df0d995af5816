import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { createApiKey } from '../db/api-keys.js'
import { bearer, buildTestApp, createTestAccount, createTestKey } from './helper.js'

function limitHeaders (res: LightMyRequestResponse): { limit: number, remaining: number, reset: number } {
  return {
    limit: Number(res.headers['x-ratelimit-limit']),
    remaining: Number(res.headers['x-ratelimit-remaining']),
    reset: Number(res.headers['x-ratelimit-reset'])
  }
}

t.test('a key with its own limit gets 429 rate_limited on the request after it', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const { key } = await createTestKey(app, account.id, { rateLimit: 3 })

  for (let i = 1; i <= 3; i++) {
    const res = await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
    t.equal(res.statusCode, 200, `request ${i} allowed`)
    t.same(res.json(), { data: [], pagination: { total: 0, limit: 50, offset: 0, has_more: false } })
    const h = limitHeaders(res)
    t.equal(h.limit, 3, 'X-RateLimit-Limit')
    t.equal(h.remaining, 3 - i, 'X-RateLimit-Remaining counts down')
    t.ok(h.reset >= 1 && h.reset <= 60, `X-RateLimit-Reset in seconds (${h.reset})`)
    t.notOk('retry-after' in res.headers)
  }

  const limited = await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
  t.equal(limited.statusCode, 429)
  const body = limited.json()
  t.equal(body.error, true)
  t.equal(body.status, 429)
  t.equal(body.code, 'rate_limited')
  t.match(body.message, /Rate limit exceeded: 3 requests per minute/)
  t.equal(body.request_id, limited.headers['x-request-id'])
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After in whole seconds (${String(limited.headers['retry-after'])})`)
  t.equal(limitHeaders(limited).limit, 3)
  t.equal(limitHeaders(limited).remaining, 0)

  // a limited key is limited on every route, writes included
  const write = await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: bearer(key), payload: { name: 'Depot' } })
  t.equal(write.statusCode, 429)
  t.equal(write.json().code, 'rate_limited')
  const count = await app.db.selectFrom('locations').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  t.equal(Number(count.n), 0, 'the limited write did nothing')
})

t.test('rate-limit headers are on every authenticated response, errors included', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const { key } = await createTestKey(app, account.id, { scopes: ['workers:read'], rateLimit: 10 })
  const full = await createTestKey(app, account.id, { rateLimit: 10 })

  const denied = await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
  t.equal(denied.statusCode, 403)
  t.equal(denied.json().code, 'insufficient_scope')
  t.same(limitHeaders(denied), { limit: 10, remaining: 9, reset: limitHeaders(denied).reset }, 'on 403 insufficient_scope')
  t.ok(limitHeaders(denied).reset > 0)

  const responses: Array<[string, LightMyRequestResponse, number]> = [
    ['404', await app.inject({ url: '/api/v1/locations.php?id=42', headers: bearer(full.key) }), 404],
    ['400', await app.inject({ url: '/api/v1/locations.php?limit=500', headers: bearer(full.key) }), 400],
    ['400 body', await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: bearer(full.key), payload: { nope: 1 } }), 400],
    ['201', await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: bearer(full.key), payload: { name: 'Depot' } }), 201]
  ]
  let remaining = 10
  for (const [label, res, status] of responses) {
    t.equal(res.statusCode, status, label)
    remaining--
    t.equal(limitHeaders(res).limit, 10, `${label}: X-RateLimit-Limit`)
    t.equal(limitHeaders(res).remaining, remaining, `${label}: X-RateLimit-Remaining`)
    t.ok(limitHeaders(res).reset > 0, `${label}: X-RateLimit-Reset`)
  }
})

t.test('the default limit is 60 a minute for a key without an override', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const { key } = await createApiKey(app.engine, { accountId: account.id, name: 'default', scopes: [], expiresAt: null, rateLimit: null })

  const first = await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
  t.equal(first.statusCode, 200)
  t.equal(limitHeaders(first).limit, 60)
  t.equal(limitHeaders(first).remaining, 59)
  for (let i = 2; i <= 60; i++) {
    const res = await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
    if (res.statusCode !== 200) { t.fail(`request ${i} was ${res.statusCode}`); break }
  }
  const sixtyFirst = await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
  t.equal(sixtyFirst.statusCode, 429, 'the 61st request in the minute is refused')
  t.equal(sixtyFirst.json().code, 'rate_limited')
})

t.test('each key has its own budget, also within one account', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const other = await createTestAccount(app, { name: 'Other' })
  const a = await createTestKey(app, account.id, { rateLimit: 2 })
  const b = await createTestKey(app, account.id, { rateLimit: 2 })
  const c = await createTestKey(app, other.id, { rateLimit: 2 })

  for (let i = 0; i < 2; i++) t.equal((await app.inject({ url: '/api/v1/locations.php', headers: bearer(a.key) })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/v1/locations.php', headers: bearer(a.key) })).statusCode, 429, 'key a is used up')

  const bFirst = await app.inject({ url: '/api/v1/locations.php', headers: bearer(b.key) })
  t.equal(bFirst.statusCode, 200, 'key b of the same account is not affected')
  t.equal(limitHeaders(bFirst).remaining, 1)
  const cFirst = await app.inject({ url: '/api/v1/locations.php', headers: bearer(c.key) })
  t.equal(cFirst.statusCode, 200, 'another account\'s key is not affected')
  t.equal(limitHeaders(cFirst).remaining, 1)
})

t.test('failed authentication does not spend a key\'s budget; /health and /ready are never limited', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const { key } = await createTestKey(app, account.id, { rateLimit: 1 })

  for (let i = 0; i < 5; i++) {
    const res = await app.inject({ url: '/api/v1/locations.php', headers: { authorization: 'Bearer tc_live_' + '0'.repeat(40) } })
    t.equal(res.statusCode, 401)
    t.notOk('x-ratelimit-limit' in res.headers, 'no rate-limit headers without a valid key')
  }
  const res = await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
  t.equal(res.statusCode, 200)
  t.equal(limitHeaders(res).remaining, 0)

  for (let i = 0; i < 100; i++) {
    const health = await app.inject({ url: '/health', headers: bearer(key) })
    const ready = await app.inject({ url: '/ready', headers: bearer(key) })
    if (health.statusCode !== 200 || ready.statusCode !== 200) { t.fail(`request ${i}: ${health.statusCode}/${ready.statusCode}`); break }
  }
  const health = await app.inject({ url: '/health' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  t.notOk('x-ratelimit-limit' in health.headers)
  const ready = await app.inject({ url: '/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
  t.notOk('x-ratelimit-limit' in ready.headers)
})

t.test('a rolling minute: no burst across a window edge, and the headers say when the next answer comes', async (t) => {
  // One clock drives the app's limiter; the plugin's own stores read Date.now, so it moves too
  // and this test holds whatever store is configured.
  const start = Date.now()
  let elapsed = 0
  const realNow = Date.now
  Date.now = () => start + elapsed
  t.teardown(() => { Date.now = realNow })
  const app = await buildTestApp(t, { rateLimitClock: () => elapsed })
  const account = await createTestAccount(app)
  const { key } = await createTestKey(app, account.id, { rateLimit: 5 })
  const get = async (): Promise<LightMyRequestResponse> => await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })

  const answeredAt: number[] = []
  const send = async (at: number): Promise<LightMyRequestResponse> => {
    elapsed = at
    const res = await get()
    if (res.statusCode === 200) answeredAt.push(at)
    return res
  }
  await send(0)
  for (let i = 0; i < 4; i++) await send(58_100 + i * 100)
  const last = await send(58_400 + 100)
  t.equal(last.statusCode, 429, 'the sixth in the minute is refused')
  t.equal(Number(last.headers['retry-after']), 2, 'Retry-After: until the answer at 0 leaves the window')
  for (let i = 0; i < 5; i++) await send(60_000 + i * 100)
  t.same(answeredAt, [0, 58_100, 58_200, 58_300, 58_400, 60_000], 'across the edge only the slot freed by the answer at 0')
  for (let i = 0; i < answeredAt.length; i++) {
    const inSpan = answeredAt.filter((at) => at >= answeredAt[i]! && at < answeredAt[i]! + 60_000)
    t.ok(inSpan.length <= 5, `${inSpan.length} answers in the minute from ${answeredAt[i]!} ms`)
  }

  // the headers are truthful: Reset on the answer that used the last slot, Retry-After on a refusal
  elapsed = 60_000 + 500
  const refused = await get()
  t.equal(refused.statusCode, 429)
  const retryAfter = Number(refused.headers['retry-after'])
  t.equal(retryAfter, Math.ceil((58_100 + 60_000 - elapsed) / 1000))
  t.equal(limitHeaders(refused).remaining, 0)
  elapsed = 58_100 + 60_000 - 1
  t.equal((await get()).statusCode, 429, 'refused 1 ms before the oldest answer leaves the window')
  elapsed = 58_100 + 60_000
  const next = await get()
  t.equal(next.statusCode, 200, 'answered when it does')
  t.same(limitHeaders(next), { limit: 5, remaining: 0, reset: 1 }, 'nothing left; the next slot frees at 58.2 s + 60 s')
})
