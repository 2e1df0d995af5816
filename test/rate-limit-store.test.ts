import t from 'tap'
import { MemoryRollingWindow, rollingWindowStore, type RollingWindowCounter } from '../services/rate-limit-store.js'

type Result = { current: number, ttl: number } | undefined
const incr = async (store: { incr: (key: string, cb: (err: Error | null, res?: Result) => void, timeWindow: number, max: number) => void }, key: string, max: number) =>
  await new Promise<Result>((resolve, reject) => { store.incr(key, (err, res) => { err === null ? resolve(res) : reject(err) }, 60_000, max) })

t.test('the store speaks the plugin\'s incr/read/child protocol over a memory counter', async (t) => {
  let now = 1000
  const Store = rollingWindowStore(new MemoryRollingWindow({ clock: () => now, capacity: 10, lockOutCapacity: 10 }))
  const store = new Store({})
  t.same(await incr(store, 'k', 2), { current: 1, ttl: 60_000 })
  now += 500
  t.same(await incr(store, 'k', 2), { current: 2, ttl: 59_500 })
  t.same(await incr(store, 'k', 2), { current: 3, ttl: 59_500 }, 'refused: current > max')
  const read = await new Promise<Result>((resolve) => { store.read('k', (_err, res) => { resolve(res) }, 60_000) })
  t.same(read, { current: 2, ttl: 59_500 }, 'read counts nothing')
  const child = store.child({})
  t.same(await incr(child, 'k', 2), { current: 1, ttl: 60_000 }, 'a child limiter has its own keys')
})

t.test('an asynchronous counter (a shared backend) answers through the same callback, errors included', async (t) => {
  const failing: RollingWindowCounter = {
    hit: async () => await Promise.reject(new Error('backend down')),
    peek: async () => ({ count: 0, resetInMs: 0 }),
    child: () => failing
  }
  const async: RollingWindowCounter = {
    hit: async (_key, windowMs) => ({ count: 1, resetInMs: windowMs }),
    peek: async () => ({ count: 0, resetInMs: 0 }),
    child: () => async
  }
  t.same(await incr(new (rollingWindowStore(async))({}), 'k', 5), { current: 1, ttl: 60_000 })
  await t.rejects(incr(new (rollingWindowStore(failing))({}), 'k', 5), /backend down/)
})

t.test('fixed-window options are refused at start', async (t) => {
  const Store = rollingWindowStore(new MemoryRollingWindow({ clock: () => 0, capacity: 1, lockOutCapacity: 1 }))
  t.doesNotThrow(() => new Store({ ban: -1 }))
  for (const options of [{ ban: 3 }, { continueExceeding: true }, { exponentialBackoff: true }]) {
    t.throws(() => new Store(options), /supports neither ban, continueExceeding nor exponentialBackoff/, JSON.stringify(options))
  }
})
