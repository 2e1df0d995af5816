import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import cookie, { type CookieSerializeOptions } from '@fastify/cookie'
import formbody from '@fastify/formbody'
import helmet from '@fastify/helmet'
import { PortalSessionStore, type PortalSession } from '../../db/portal-sessions.js'
import { toApiError } from '../../plugins/errors.js'
import { errorPage } from '../../views/portal-pages.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** the signed-in portal admin; null when signed out and outside the portal */
    portalSession: PortalSession | null
    /** the session cookie's token, to end the session at logout */
    portalSessionToken: string | null
  }
  interface FastifyContextConfig {
    /** portal routes that never need the session (the stylesheet) skip its lookup */
    portalSessionless?: boolean
  }
}

export const SESSION_COOKIE = 'tc_portal_session'
/** the sign-in form's CSRF secret (double submit: cookie and hidden field must match) */
export const LOGIN_CSRF_COOKIE = 'tc_portal_login'
export const LOGIN_PATH = '/portal/login'
export const HOME_PATH = '/portal/settings/api-keys'

export function cookieOptions (fastify: FastifyInstance, path = '/portal'): CookieSerializeOptions {
  return { path, httpOnly: true, sameSite: 'lax', secure: fastify.config.portalSecureCookies }
}

/** Compares a submitted token with the expected one in constant time (hashing equalises lengths). */
export function tokensMatch (submitted: unknown, expected: string | undefined | null): boolean {
  if (typeof submitted !== 'string' || submitted === '' || typeof expected !== 'string' || expected === '') return false
  const a = createHash('sha256').update(submitted).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** preHandler for pages that need a signed-in admin: anyone else goes to the sign-in page. */
export async function requireSignedIn (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.portalSession === null) await reply.redirect(LOGIN_PATH, 303)
}

export function sendPage (reply: FastifyReply, status: number, page: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page)
}

export const TITLES: Record<number, string> = {
  400: 'Bad request',
  403: 'Forbidden',
  404: 'Page not found',
  405: 'Method not allowed',
  413: 'Request too large',
  415: 'Unsupported form encoding',
  429: 'Too many requests'
}

/**
 * Everything the portal subtree shares, in its own encapsulated context so the API is untouched:
 * cookies, form bodies (and nothing else), security headers, the session, HTML error pages.
 */
export default async function portalHooks (fastify: FastifyInstance): Promise<void> {
  await fastify.register(cookie, { hook: 'onRequest' })

  // Forms only: no JSON parser here (a cross-site JSON or text/plain POST gets 415), and the API
  // keeps answering 415 to form bodies because this parser exists only in the portal's context.
  fastify.removeAllContentTypeParsers()
  await fastify.register(formbody, { bodyLimit: 16 * 1024 })

  await fastify.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"]
      }
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // HSTS only makes sense (and is only honoured) over HTTPS
    strictTransportSecurity: fastify.config.portalSecureCookies ? { maxAge: 31_536_000, includeSubDomains: false } : false
  })

  const sessions = new PortalSessionStore(fastify.engine)
  fastify.decorateRequest('portalSession', null)
  fastify.decorateRequest('portalSessionToken', null)

  // Every request re-reads the session: logout, expiry and a disabled user end it at once.
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config?.portalSessionless === true) return
    const token = request.cookies[SESSION_COOKIE]
    if (token === undefined) return
    const session = await sessions.find(token)
    if (session === undefined) {
      reply.clearCookie(SESSION_COOKIE, cookieOptions(fastify))
      return
    }
    request.portalSession = session
    request.portalSessionToken = token
  })

  // pages show one admin's account: never cached by the browser or anything in between
  fastify.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
  })

  fastify.setErrorHandler(function portalError (err, request, reply) {
    const apiError = toApiError(err instanceof Error ? err : new Error(String(err)))
    const status = apiError.statusCode
    if (status >= 500) request.log.error({ err }, 'portal request failed')
    for (const [name, value] of Object.entries(apiError.headers)) reply.header(name, value)
    const title = TITLES[status] ?? (status >= 500 ? 'Something went wrong' : 'Request not accepted')
    const message = status >= 500
      ? `Please try again in a moment. If it keeps happening, contact TempClock and quote ${request.id}.`
      : status === 415
        ? 'This page only accepts its own forms.'
        : apiError.message
    return sendPage(reply, status, errorPage(status, title, message, request.portalSession))
  })
}
