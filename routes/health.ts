import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'

// Liveness and readiness for load balancers: no key, no rate limit.
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health', {
    schema: { hide: true, response: { 200: Type.Object({ status: Type.Literal('ok') }) } }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/ready', {
    schema: { hide: true, response: { 200: Type.Object({ status: Type.Literal('ready') }), ...errorResponses } }
  }, async (_request, reply) => {
    try {
      fastify.sqlite.prepare('select 1').get()
      return { status: 'ready' as const }
    } catch {
      return await reply.code(503).send({ error: true, message: 'Database unavailable', status: 503, code: 'not_ready', request_id: _request.id })
    }
  })
}

export default health
