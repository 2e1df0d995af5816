import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { NoQuery } from '../../../schemas/common.js'

const openapi: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/openapi.json', {
    config: { scope: 'public' },
    schema: { hide: true, querystring: NoQuery }
  }, async () => fastify.swagger())
}

export default openapi
