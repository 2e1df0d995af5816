import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { normalizeIP } from '@fastify/rate-limit'
import { authenticatePortalUser, normalizeEmail, recordPortalLogin } from '../../db/portal-users.js'
import { PortalSessionStore, generateToken } from '../../db/portal-sessions.js'
import { LoginForm, LoginQuery } from '../../schemas/portal.js'
import { loginPage } from '../../views/portal-pages.js'
import { HOME_PATH, LOGIN_CSRF_COOKIE, LOGIN_PATH, SESSION_COOKIE, cookieOptions, sendPage, tokensMatch } from './autohooks.js'

/** Sign-in attempts allowed per window, per email address and per client IP. */
export const LOGIN_WINDOW_MS = 15 * 60 * 1000
export const LOGIN_MAX_PER_EMAIL = 10
export const LOGIN_MAX_PER_IP = 30

const WRONG_CREDENTIALS = 'Email or password is incorrect.'
const FORM_EXPIRED = 'This sign-in form has expired. Please sign in again.'

const login: FastifyPluginAsyncTypebox = async (fastify) => {
  const sessions = new PortalSessionStore(fastify.engine)
  const loginCookie = cookieOptions(fastify, LOGIN_PATH)

  // Every attempt counts, whatever its outcome, before any password work: the IP limit caps one
  // client, the email limit caps a distributed guess at one account. Keys are namespaced so they
  // never meet the API's per-key counters.
  const throttleIp = fastify.createRateLimit({
    max: LOGIN_MAX_PER_IP,
    timeWindow: LOGIN_WINDOW_MS,
    // IPv6 clients are counted per /64 (the library's default), so rotating addresses does not help
    keyGenerator: (request) => 'portal-login-ip:' + normalizeIP(request.ip)
  })
  const throttleEmail = fastify.createRateLimit({
    max: LOGIN_MAX_PER_EMAIL,
    timeWindow: LOGIN_WINDOW_MS,
    keyGenerator: (request) => 'portal-login-email:' + normalizeEmail((request.body as { email?: string } | undefined)?.email ?? '')
  })

  /** The sign-in form's CSRF token: the cookie's value, created when missing. */
  function loginCsrfToken (request: FastifyRequest, reply: FastifyReply): string {
    let token = request.cookies[LOGIN_CSRF_COOKIE]
    if (token === undefined || !/^[A-Za-z0-9_-]{43}$/.test(token)) {
      token = generateToken()
      reply.setCookie(LOGIN_CSRF_COOKIE, token, loginCookie)
    }
    return token
  }

  fastify.get('/login', {
    schema: { querystring: LoginQuery }
  }, async (request, reply) => {
    if (request.portalSession !== null) return await reply.redirect(HOME_PATH, 303)
    const info = request.query.signed_out === '1' ? 'You have signed out.' : undefined
    return sendPage(reply, 200, loginPage({ csrfToken: loginCsrfToken(request, reply), info }))
  })

  fastify.post('/login', {
    schema: { body: LoginForm }
  }, async (request, reply) => {
    const { email = '', password = '', _csrf: submitted } = request.body
    const again = (status: number, error: string): FastifyReply =>
      sendPage(reply, status, loginPage({ csrfToken: loginCsrfToken(request, reply), email, error }))

    for (const throttle of [throttleIp, throttleEmail]) {
      const limit = await throttle(request)
      if (!limit.isAllowed && limit.isExceeded) {
        const minutes = Math.max(1, Math.ceil(limit.ttlInSeconds / 60))
        reply.header('retry-after', String(limit.ttlInSeconds))
        return again(429, `Too many sign-in attempts. Please wait ${minutes} minute${minutes === 1 ? '' : 's'} and try again.`)
      }
    }

    if (!tokensMatch(submitted, request.cookies[LOGIN_CSRF_COOKIE])) return again(403, FORM_EXPIRED)

    // same message, same cost (one scrypt) for an unknown email, a wrong password, a disabled user
    const user = await authenticatePortalUser(fastify.engine, email, password)
    if (user === null) return again(401, WRONG_CREDENTIALS)

    // a fresh session id at every sign-in (no fixation); any session this browser had ends
    if (request.portalSessionToken !== null) await sessions.destroy(request.portalSessionToken)
    const { token } = await sessions.create(user.id)
    await recordPortalLogin(fastify.engine, user.id)
    reply.setCookie(SESSION_COOKIE, token, cookieOptions(fastify))
    reply.clearCookie(LOGIN_CSRF_COOKIE, loginCookie)
    request.log.info({ portalUserId: user.id, accountId: user.account_id }, 'portal sign-in')
    return await reply.redirect(HOME_PATH, 303)
  })
}

export default login
