import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { PORTAL_CSS, PORTAL_CSS_ETAG } from '../../views/portal-stylesheet.js'

// The stylesheet, served by the app itself (no CDN); revalidated by ETag.
const portalStatic: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/static/portal.css', { config: { portalSessionless: true } }, async (request, reply) => {
    reply.header('etag', PORTAL_CSS_ETAG).header('cache-control', 'public, max-age=3600, must-revalidate')
    if (request.headers['if-none-match'] === PORTAL_CSS_ETAG) return await reply.code(304).send()
    return await reply.type('text/css; charset=utf-8').send(PORTAL_CSS)
  })
}

export default portalStatic
