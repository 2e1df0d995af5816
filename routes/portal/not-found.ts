import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorPage } from '../../views/portal-pages.js'
import { TITLES, sendPage } from './autohooks.js'
import { allowedMethods } from '../../plugins/errors.js'

// Unknown /portal/* addresses get an HTML page with the portal's headers. This lives in a route
// file (prefix /portal) because the autohooks context is registered without a prefix.
const notFound: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.setNotFoundHandler(function portalNotFound (request, reply) {
    const path = request.url.split('?', 1)[0] ?? ''
    const allow = allowedMethods(fastify.routeIndex, path, request.method)
    if (allow !== undefined) {
      reply.header('allow', allow)
      return sendPage(reply, 405, errorPage(405, TITLES[405]!, `${request.method} is not allowed here.`, request.portalSession))
    }
    return sendPage(reply, 404, errorPage(404, TITLES[404]!, 'There is no page at this address.', request.portalSession))
  })
}

export default notFound
