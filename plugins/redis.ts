import fp from 'fastify-plugin'
import { once } from 'node:events'
import type { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** the shared Redis (TEMPCLOCK_REDIS_URL), or null when this process keeps its counters in memory */
    redis: Redis | null
  }
}

/** How long a Redis command may take before the request it serves fails with 503. */
export const REDIS_COMMAND_TIMEOUT_MS = 500

// One connection per process (docs/operations.md, "Several processes"). It fails fast and never
// queues: while Redis is unreachable a command errors at once (or after the timeout), and the
// client keeps reconnecting in the background, so service resumes by itself when Redis returns.
export default fp(async function redisPlugin (fastify) {
  const url = fastify.config.redisUrl
  if (url === undefined) {
    fastify.decorate('redis', null)
    return
  }
  // loaded only when configured: the client's module costs start-up time a one-process server
  // (the default) has no use for
  const { Redis } = await import('ioredis')
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000)
  })
  let lastWarning = 0
  redis.on('error', (err: Error) => {
    // the client retries on its own; a warning a minute is enough for the operator
    if (Date.now() - lastWarning < 60_000) return
    lastWarning = Date.now()
    fastify.log.warn({ err: { message: err.message } }, 'Redis unreachable; rate-limited requests answer 503 until it returns')
  })
  redis.on('ready', () => { lastWarning = 0 })
  fastify.decorate('redis', redis)
  fastify.addHook('onClose', async () => { redis.disconnect() })
  // start without Redis if need be (requests answer 503 until it is reachable), but give it a moment
  redis.connect().catch(() => {})
  const timeout = AbortSignal.timeout(2000)
  await once(redis, 'ready', { signal: timeout }).catch(() => {})
}, { name: 'redis', dependencies: ['config'] })
