import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { PortalSessionStore } from '../../db/portal-sessions.js'
import { LogoutForm } from '../../schemas/portal.js'
import { errorPage } from '../../views/portal-pages.js'
import { LOGIN_PATH, SESSION_COOKIE, cookieOptions, requireSignedIn, sendPage, tokensMatch } from './autohooks.js'

const logout: FastifyPluginAsyncTypebox = async (fastify) => {
  const sessions = new PortalSessionStore(fastify.engine)

  fastify.post('/logout', {
    schema: { body: LogoutForm },
    preHandler: requireSignedIn
  }, async (request, reply) => {
    const session = request.portalSession!
    if (!tokensMatch(request.body._csrf, session.csrfToken)) {
      return sendPage(reply, 403, errorPage(403, 'Forbidden',
        'This form has expired or did not come from this portal. Reload the page and try again.', session))
    }
    await sessions.destroy(request.portalSessionToken!)
    reply.clearCookie(SESSION_COOKIE, cookieOptions(fastify))
    return await reply.redirect(`${LOGIN_PATH}?signed_out=1`, 303)
  })
}

export default logout
