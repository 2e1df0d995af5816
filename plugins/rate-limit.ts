import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { ApiError } from '../domain/errors.js'
import { MemoryRollingWindow, rollingWindowStore } from '../services/rate-limit-store.js'
import { RedisRollingWindow } from '../services/redis-rolling-window.js'

/** Keys below their limit, and keys at their limit, that one limiter keeps in memory at once. */
export const RATE_LIMIT_CAPACITY = 10_000
export const RATE_LIMIT_LOCK_OUT_CAPACITY = 10_000

// Configures @fastify/rate-limit only, with a rolling-window store (docs/operations.md): in Redis
// when TEMPCLOCK_REDIS_URL is set, so every process counts a key together, else in memory. The
// plugin's own `redis` option counts in fixed windows, hence the `store` option either way. The
// auth plugin applies it per key, right after the key is known, and the portal's sign-in per email and IP.
export default fp(async function rateLimitPlugin (fastify) {
  await fastify.register(rateLimit, {
    global: false,
    timeWindow: 60_000,
    store: rollingWindowStore(fastify.redis !== null
      ? new RedisRollingWindow(fastify.redis)
      : new MemoryRollingWindow({
        clock: fastify.config.rateLimitClock ?? (() => Math.floor(performance.now())),
        capacity: RATE_LIMIT_CAPACITY,
        lockOutCapacity: RATE_LIMIT_LOCK_OUT_CAPACITY
      })),
    errorResponseBuilder: (_request, context) => new ApiError(429, 'rate_limited',
      `Rate limit exceeded: ${context.max} requests per minute for this API key; retry in ${context.after}`)
  })
}, { name: 'rate-limit', dependencies: ['config', 'redis'] })
