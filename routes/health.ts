import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ApiError } from '../domain/errors.js'
import { errorResponses } from '../schemas/common.js'

// Liveness and readiness for load balancers: no key, no rate limit.
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health', {
    schema: { hide: true, response: { 200: Type.Object({ status: Type.Literal('ok') }) } }
  }, async () => ({ status: 'ok' as const }))

  const ping = fastify.sqlite.prepare('select 1')
  fastify.get('/ready', {
    schema: { hide: true, response: { 200: Type.Object({ status: Type.Literal('ready') }), ...errorResponses } }
  }, async () => {
    try {
      ping.get()
    } catch {
      throw new ApiError(503, 'not_ready', 'Database unavailable')
    }
    return { status: 'ready' as const }
  })
}

export default health
