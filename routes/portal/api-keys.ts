import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { listApiKeys } from '../../db/api-keys.js'
import { apiKeysPage } from '../../views/portal-pages.js'
import { requireSignedIn, sendPage } from './autohooks.js'

// Settings > API Keys: read-only, and only the signed-in admin's own account.
const apiKeys: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/settings/api-keys', { preHandler: requireSignedIn }, async (request, reply) => {
    const session = request.portalSession!
    const keys = await listApiKeys(fastify.engine, session.accountId)
    return sendPage(reply, 200, apiKeysPage(session, keys))
  })
}

export default apiKeys
