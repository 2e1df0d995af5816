import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import type { FastifyRequest } from 'fastify'
import { ApiError } from '../domain/errors.js'

/** Requests that are never shed: liveness must stay cheap and truthful under load. */
export const NEVER_SHED: ReadonlySet<string> = new Set(['/health'])

// Sheds load before any work is done (the check is a global onRequest hook, so it runs before
// authentication): when the event loop lags or memory passes its limit, a request gets
// 503 `overloaded` with Retry-After in the usual error envelope instead of queueing behind the
// others and growing latency and memory without bound. Thresholds come from the config.
export default fp(async function underPressurePlugin (fastify) {
  const { maxEventLoopDelayMs, maxHeapUsedBytes, maxRssBytes, retryAfterS, sampleIntervalMs } = fastify.config.overload
  const overloaded = new ApiError(503, 'overloaded',
    `The server is overloaded; retry in ${retryAfterS} seconds`, { 'retry-after': String(retryAfterS) })
  // the first samples after start measure the start-up itself (compiling every route's schemas
  // blocks the loop for a while): shedding begins once the sampler has seen a normal interval
  let sheddingFrom = Infinity
  fastify.addHook('onReady', async () => { sheddingFrom = Date.now() + 2 * sampleIntervalMs })
  await fastify.register(underPressure, {
    maxEventLoopDelay: maxEventLoopDelayMs,
    maxHeapUsedBytes,
    maxRssBytes,
    sampleInterval: sampleIntervalMs,
    retryAfter: retryAfterS,
    // a rejected promise reaches the error handler, which sends the envelope and the header
    pressureHandler: async (request: FastifyRequest) => {
      if (NEVER_SHED.has(request.url) || Date.now() < sheddingFrom) return
      throw overloaded
    }
  })
}, { name: 'under-pressure', dependencies: ['config', 'errors'] })
