import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ApiError } from '../domain/errors.js'
import { errorResponses } from '../schemas/common.js'

// Liveness and readiness for load balancers: no key, no rate limit.
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health', {
    schema: {
      operationId: 'getHealth',
      tags: ['Meta'],
      summary: 'Liveness: the process answers',
      description: 'Never shed under load, so a busy server is not restarted for being busy.',
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The process is alive' }) }
    }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/ready', {
    schema: {
      operationId: 'getReady',
      tags: ['Meta'],
      summary: 'Readiness: the database (and Redis, when configured) answers',
      description: 'Shed under load like the API (503 `overloaded`), so a load balancer sends traffic elsewhere until the server catches up.',
      response: { 200: Type.Object({ status: Type.Literal('ready') }, { description: 'Ready for traffic' }), ...errorResponses },
      errors: ['not_ready']
    }
  }, async () => {
    try {
      await fastify.engine.ping()
    } catch {
      throw new ApiError(503, 'not_ready', 'Database unavailable')
    }
    if (fastify.redis !== null) {
      try {
        await fastify.redis.ping()
      } catch {
        throw new ApiError(503, 'not_ready', 'Redis unavailable')
      }
    }
    return { status: 'ready' as const }
  })
}

export default health
