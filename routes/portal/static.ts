import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { PORTAL_CSS, PORTAL_CSS_ETAG, PORTAL_FAVICON, PORTAL_FAVICON_ETAG } from '../../views/portal-stylesheet.js'

// The stylesheet and icon, served by the app itself (no CDN); revalidated by ETag.
const portalStatic: FastifyPluginAsyncTypebox = async (fastify) => {
  const assets = [
    { path: '/static/portal.css', type: 'text/css; charset=utf-8', body: PORTAL_CSS, etag: PORTAL_CSS_ETAG },
    { path: '/static/favicon.svg', type: 'image/svg+xml', body: PORTAL_FAVICON, etag: PORTAL_FAVICON_ETAG }
  ]
  for (const asset of assets) {
    fastify.get(asset.path, { config: { portalSessionless: true } }, async (request, reply) => {
      reply.header('etag', asset.etag).header('cache-control', 'public, max-age=3600, must-revalidate')
      if (request.headers['if-none-match'] === asset.etag) return await reply.code(304).send()
      return await reply.type(asset.type).send(asset.body)
    })
  }
}

export default portalStatic
