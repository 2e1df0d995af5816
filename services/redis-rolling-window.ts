import type { Redis } from 'ioredis'
import type { WindowHit } from '../domain/rolling-window.js'
import { ApiError } from '../domain/errors.js'
import type { RollingWindowCounter } from './rate-limit-store.js'

/**
 * The rolling-window rule of domain/rolling-window.ts, kept in Redis so that every server
 * process counts a key's requests together. A key is a sorted set of its answered requests
 * (score: the millisecond, member: unique per request); one Lua script prunes, counts and
 * records atomically, so concurrent requests on different processes never both take the last
 * slot. Time is the Redis server's (TIME), so app servers with skewed clocks still agree.
 * Same decisions as the memory log: a request counts when answered, refused ones are not
 * recorded, and a time leaves the window once it is `windowMs` or more in the past.
 */
const HIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local windowMs = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - windowMs)
local size = redis.call('ZCARD', KEYS[1])
if size >= max then
  if size == 0 then return {max + 1, windowMs} end
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {max + 1, tonumber(first[2]) + windowMs - now}
end
-- unique member: within one microsecond nothing is pruned, so the count tells requests apart
redis.call('ZADD', KEYS[1], now, t[1] .. t[2] .. ':' .. size)
redis.call('PEXPIRE', KEYS[1], windowMs)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {size + 1, tonumber(first[2]) + windowMs - now}
`

const PEEK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local windowMs = tonumber(ARGV[1])
local first = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - windowMs), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if #first == 0 then return {0, 0} end
local count = redis.call('ZCOUNT', KEYS[1], '(' .. (now - windowMs), '+inf')
return {count, tonumber(first[2]) + windowMs - now}
`

interface RollingWindowCommands {
  rollingWindowHit: (key: string, windowMs: number, max: number) => Promise<[number, number]>
  rollingWindowPeek: (key: string, windowMs: number) => Promise<[number, number]>
}

/** Redis failed or did not answer in time: the request fails fast, it is never let through uncounted. */
function unavailable (): ApiError {
  return new ApiError(503, 'service_unavailable', 'Rate limiting is unavailable (its Redis does not answer); retry later')
}

export class RedisRollingWindow implements RollingWindowCounter {
  readonly #redis: Redis & RollingWindowCommands
  #children = 0

  /**
   * Key names are `prefix`, this counter's scope, `|`, the key: a child's scope extends its
   * parent's, and the scope never holds `|`, so two limiters' keys never meet. Children are
   * numbered in creation order, the same on every process that registers the same limiters.
   */
  constructor (redis: Redis, readonly prefix: string = 'tempclock:rl:', readonly scope: string = '0') {
    if (!('rollingWindowHit' in redis)) {
      redis.defineCommand('rollingWindowHit', { numberOfKeys: 1, lua: HIT })
      redis.defineCommand('rollingWindowPeek', { numberOfKeys: 1, lua: PEEK })
    }
    this.#redis = redis as Redis & RollingWindowCommands
  }

  async hit (key: string, windowMs: number, max: number): Promise<WindowHit> {
    try {
      const [count, resetInMs] = await this.#redis.rollingWindowHit(this.#name(key), windowMs, max)
      return { count, resetInMs }
    } catch {
      throw unavailable()
    }
  }

  async peek (key: string, windowMs: number): Promise<WindowHit> {
    try {
      const [count, resetInMs] = await this.#redis.rollingWindowPeek(this.#name(key), windowMs)
      return { count, resetInMs }
    } catch {
      throw unavailable()
    }
  }

  child (): RedisRollingWindow {
    return new RedisRollingWindow(this.#redis, this.prefix, `${this.scope}.${++this.#children}`)
  }

  #name (key: string): string {
    return `${this.prefix}${this.scope}|${key}`
  }
}
