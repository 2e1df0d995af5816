import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

const openapi: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/openapi.json', {
    config: { scope: 'public' },
    schema: { hide: true }
  }, async () => fastify.swagger())
}

export default openapi
