import { join } from 'node:path'
import t from 'tap'
import { Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LightMyRequestResponse } from 'fastify'
import { bearer, buildTestApp, createTestAccount, createTestKey } from './helper.js'
import { RedisRollingWindow } from '../services/redis-rolling-window.js'
import { TestRedis, redisSkip } from './redis-server.js'

// The rate limit shared through a real redis-server (TEMPCLOCK_REDIS_URL, docs/operations.md).

function limitHeaders (res: LightMyRequestResponse): { limit: number, remaining: number, reset: number } {
  return {
    limit: Number(res.headers['x-ratelimit-limit']),
    remaining: Number(res.headers['x-ratelimit-remaining']),
    reset: Number(res.headers['x-ratelimit-reset'])
  }
}

t.test('two app instances on one Redis share a key\'s limit', { skip: redisSkip }, async (t) => {
  const redis = await TestRedis.start(t)
  const dbPath = join(t.testdir(), 'shared.db')
  const a = await buildTestApp(t, { dbPath, redisUrl: redis.url })
  const b = await buildTestApp(t, { dbPath, redisUrl: redis.url })
  const account = await createTestAccount(a)
  const { key } = await createTestKey(a, account.id, { rateLimit: 5 })

  for (let i = 1; i <= 5; i++) {
    const res = await (i % 2 === 1 ? a : b).inject({ url: '/api/v1/locations.php', headers: bearer(key) })
    t.equal(res.statusCode, 200, `request ${i} answered (by ${i % 2 === 1 ? 'a' : 'b'})`)
    const h = limitHeaders(res)
    t.equal(h.limit, 5, 'X-RateLimit-Limit')
    t.equal(h.remaining, 5 - i, 'X-RateLimit-Remaining counts both instances\' requests')
    t.ok(h.reset >= 1 && h.reset <= 60, `X-RateLimit-Reset in seconds (${h.reset})`)
  }
  for (const app of [b, a]) {
    const limited = await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })
    t.equal(limited.statusCode, 429)
    t.equal(limited.json().code, 'rate_limited')
    t.equal(limitHeaders(limited).limit, 5)
    t.equal(limitHeaders(limited).remaining, 0)
    const retryAfter = Number(limited.headers['retry-after'])
    t.ok(Number.isInteger(retryAfter) && retryAfter >= 59 && retryAfter <= 60, `Retry-After: the first request leaves the minute in ~60 s (${String(limited.headers['retry-after'])})`)
  }
})

t.test('the Redis counter keeps the rolling rule across a window edge', { skip: redisSkip }, async (t) => {
  const server = await TestRedis.start(t)
  const client = new Redis(server.url)
  t.teardown(() => { client.disconnect() })
  const counter = new RedisRollingWindow(client, 'test:rl:')
  const windowMs = 1000
  const max = 3
  const answered: number[] = []
  const hit = async (): Promise<{ count: number, resetInMs: number }> => {
    const result = await counter.hit('k', windowMs, max)
    if (result.count <= max) answered.push(performance.now())
    return result
  }

  t.equal((await hit()).count, 1)
  await sleep(500)
  t.equal((await hit()).count, 2)
  const third = await hit()
  t.equal(third.count, 3)
  t.ok(third.resetInMs > 0 && third.resetInMs <= 500, `reset: when the first request leaves the window (${third.resetInMs} ms)`)
  const refused = await hit()
  t.equal(refused.count, max + 1, 'refused at the limit')
  t.ok(refused.resetInMs > 0 && refused.resetInMs <= 500, `refused until the first request leaves (${refused.resetInMs} ms)`)
  const peeked = await counter.peek('k', windowMs)
  t.equal(peeked.count, 3, 'peek counts without recording')
  t.ok(peeked.resetInMs > 0 && peeked.resetInMs <= refused.resetInMs, `peek's reset (${peeked.resetInMs} ms)`)

  // past the first request's second, one slot is free again; not two (a fixed window would give three)
  await sleep(refused.resetInMs + 30)
  t.equal((await hit()).count, 3, 'one slot freed by the first request leaving')
  const again = await hit()
  t.equal(again.count, max + 1, 'the other two are still inside the window')
  t.ok(again.resetInMs > 0 && again.resetInMs <= 500, `until the second request leaves (${again.resetInMs} ms)`)

  for (let i = 0; i < answered.length; i++) {
    const inSpan = answered.filter((time) => time >= answered[i]! && time < answered[i]! + windowMs - 20)
    t.ok(inSpan.length <= max, `at most ${max} answered in the second from answer ${i + 1}`)
  }

  const other = counter.child()
  t.equal((await other.hit('k', windowMs, max)).count, 1, 'a child counter never sees its parent\'s keys')
  t.equal((await counter.child().hit('k', windowMs, max)).count, 1, 'nor its siblings\'')
})

t.test('with Redis down, requests answer 503 service_unavailable fast and /ready 503; they recover by themselves', { skip: redisSkip }, async (t) => {
  const redis = await TestRedis.start(t)
  const app = await buildTestApp(t, { redisUrl: redis.url })
  const account = await createTestAccount(app)
  const { key } = await createTestKey(app, account.id, { rateLimit: 100 })
  const get = async (): Promise<LightMyRequestResponse> => await app.inject({ url: '/api/v1/locations.php', headers: bearer(key) })

  t.equal((await get()).statusCode, 200)
  t.equal((await app.inject({ url: '/ready' })).statusCode, 200)

  await redis.stop()
  const started = performance.now()
  const down = await get()
  const elapsed = performance.now() - started
  t.equal(down.statusCode, 503)
  t.equal(down.json().code, 'service_unavailable')
  t.ok(elapsed < 1000, `answered in under a second (${Math.round(elapsed)} ms)`)
  const ready = await app.inject({ url: '/ready' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().code, 'not_ready')
  const count = await app.db.selectFrom('locations').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  const write = await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: bearer(key), payload: { name: 'Depot' } })
  t.equal(write.statusCode, 503, 'a write is refused too')
  const after = await app.db.selectFrom('locations').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  t.equal(Number(after.n), Number(count.n), 'and did nothing')

  await redis.restart()
  let res = await get()
  for (let i = 0; i < 60 && res.statusCode !== 200; i++) {
    await sleep(50)
    res = await get()
  }
  t.equal(res.statusCode, 200, 'service resumed without restarting the app')
  t.equal((await app.inject({ url: '/ready' })).statusCode, 200)
})
