import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HOME_PATH, LOGIN_PATH } from './autohooks.js'

const home: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', async (request, reply) =>
    await reply.redirect(request.portalSession === null ? LOGIN_PATH : HOME_PATH, 303))
}

export default home
