import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorPage } from '../../views/portal-pages.js'
import { TITLES, sendPage } from './autohooks.js'

// Unknown /portal/* addresses get an HTML page with the portal's headers. This lives in a route
// file (prefix /portal) because the autohooks context is registered without a prefix.
const notFound: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.setNotFoundHandler(function portalNotFound (request, reply) {
    // the API's CORS hook also runs for unmatched paths; nothing under /portal is cross-origin
    for (const name of Object.keys(reply.getHeaders())) {
      if (name.startsWith('access-control-')) reply.removeHeader(name)
    }
    const path = request.url.split('?', 1)[0] ?? ''
    const methods = fastify.routeIndex.get(path)
    if (methods !== undefined && !methods.has(request.method)) {
      reply.header('allow', [...methods.keys()].filter((m) => m !== 'OPTIONS').sort().join(', '))
      return sendPage(reply, 405, errorPage(405, TITLES[405]!, `${request.method} is not allowed here.`, request.portalSession))
    }
    return sendPage(reply, 404, errorPage(404, TITLES[404]!, 'There is no page at this address.', request.portalSession))
  })
}

export default notFound
