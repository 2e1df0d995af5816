import fp from 'fastify-plugin'
import bearerAuth from '@fastify/bearer-auth'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify'
import { ApiKeyStore, API_KEY_PATTERN, DEFAULT_RATE_LIMIT } from '../db/api-keys.js'
import { ApiError, insufficientScope as scopeError } from '../domain/errors.js'
import { isRouteScope, keyAllows, type KeyGrant, type RouteScope } from '../domain/scopes.js'

/** The authenticated key, as the rest of the request sees it. */
export interface AuthenticatedKey {
  id: number
  accountId: number
  /** what the key may do: full access, or its scopes */
  grant: KeyGrant
  rateLimit: number
}

type AuthFailure = 'invalid_api_key' | 'api_key_revoked' | 'api_key_expired' | 'unavailable' | 'internal'

declare module 'fastify' {
  interface FastifyRequest {
    /** set by the authentication hook on every guarded route; null elsewhere */
    apiKey: AuthenticatedKey | null
    authFailure: AuthFailure | null
    apiAccessDisabled: boolean
    /**
     * The database's change version (the engine's `changes`) read when the key was looked up: reads
     * later in the request may answer from caches that are at least this new. 0 where no key was, or the engine keeps no caches.
     */
    dataVersion: number
  }
  interface FastifyContextConfig {
    /** what the route requires: a scope, 'full' (full-access keys only) or 'public' */
    scope?: RouteScope
  }
}

/** Routes under this prefix must declare a scope and a closed querystring schema; the app refuses to start otherwise. */
export const GUARDED_PREFIX = '/api/'

const REALM = 'Bearer realm="TempClock API"'
const INVALID_TOKEN = `${REALM}, error="invalid_token"`

const FAILURES: Record<Exclude<AuthFailure, 'internal' | 'unavailable'>, ApiError> = {
  invalid_api_key: new ApiError(401, 'invalid_api_key', 'Invalid API key', { 'www-authenticate': INVALID_TOKEN }),
  api_key_revoked: new ApiError(401, 'api_key_revoked', 'This API key has been revoked', { 'www-authenticate': INVALID_TOKEN }),
  api_key_expired: new ApiError(401, 'api_key_expired', 'This API key has expired', { 'www-authenticate': INVALID_TOKEN })
}
const MISSING = new ApiError(401, 'missing_api_key', 'Missing API key: send it as "Authorization: Bearer <key>"', { 'www-authenticate': REALM })
const WRONG_SCHEME = new ApiError(401, 'invalid_authorization_scheme', 'Invalid authorization scheme: send the key as "Authorization: Bearer <key>"', { 'www-authenticate': INVALID_TOKEN })
const UNAVAILABLE = new ApiError(503, 'service_unavailable', 'The database is unavailable; retry later')
const DISABLED = new ApiError(403, 'api_access_disabled', 'API access is disabled for this account; contact TempClock to enable it')

function insufficientScope (scope: RouteScope): ApiError {
  return scopeError(scope, scope === 'full'
    ? 'This endpoint requires a full-access API key'
    : `This API key lacks the required scope: ${scope}`)
}

export default fp(async function authPlugin (fastify) {
  const keys = new ApiKeyStore(fastify.engine)
  const { changes } = fastify.engine

  fastify.decorateRequest('apiKey', null)
  fastify.decorateRequest('authFailure', null)
  fastify.decorateRequest('apiAccessDisabled', false)
  fastify.decorateRequest('dataVersion', 0)

  // bearer-auth parses the header (scheme case-insensitive) and calls `auth`; `auth` never throws:
  // it records why a key failed, and `authenticate` below shapes that into the error envelope.
  await fastify.register(bearerAuth, {
    addHook: false,
    keys: [],
    specCompliance: 'rfc6749',
    verifyErrorLogLevel: 'debug',
    auth: async (key: string, request: FastifyRequest): Promise<boolean> => {
      try {
        if (!API_KEY_PATTERN.test(key)) { request.authFailure = 'invalid_api_key'; return false }
        request.dataVersion = changes?.version() ?? 0
        const row = await keys.findByKey(key, changes === undefined ? undefined : request.dataVersion)
        if (row === undefined) { request.authFailure = 'invalid_api_key'; return false }
        if (row.revoked_at !== null) { request.authFailure = 'api_key_revoked'; return false }
        const nowMs = fastify.now()
        if (nowMs >= row.expiresAtMs) { request.authFailure = 'api_key_expired'; return false }
        request.apiKey = {
          id: row.id,
          accountId: row.account_id,
          grant: keys.grantOf(row),
          rateLimit: row.rate_limit ?? DEFAULT_RATE_LIMIT
        }
        request.apiAccessDisabled = !row.api_enabled
        const touched = keys.touch(row, nowMs)
        if (touched !== undefined) await touched
        return true
      } catch (err) {
        request.log.error({ err }, 'API key lookup failed')
        request.authFailure = fastify.engine.isUnavailable(err) ? 'unavailable' : 'internal'
        return false
      }
    }
  })

  const verify = fastify.verifyBearerAuth!
  const authenticate: onRequestHookHandler = function authenticate (request, reply, done: HookHandlerDoneFunction) {
    verify(request, reply, (err?: Error) => {
      if (err === undefined) {
        done(request.apiAccessDisabled ? DISABLED : undefined)
        return
      }
      const code = (err as Error & { code?: string }).code
      if (code === 'FST_BEARER_AUTH_MISSING_AUTHORIZATION_HEADER') return done(MISSING)
      if (request.authFailure === 'internal') return done(new ApiError(500, 'internal_error', 'Internal server error'))
      if (request.authFailure === 'unavailable') return done(UNAVAILABLE)
      if (request.authFailure !== null) return done(FAILURES[request.authFailure])
      return done(WRONG_SCHEME)
    })
  }

  const limitPerKey = fastify.rateLimit({
    keyGenerator: (request: FastifyRequest) => String(request.apiKey!.id),
    max: (request: FastifyRequest) => request.apiKey!.rateLimit
  })

  fastify.addHook('onRoute', (route) => {
    const scope: unknown = route.config?.scope
    if (scope === undefined) {
      if (route.url.startsWith(GUARDED_PREFIX)) {
        throw new Error(`route ${String(route.method)} ${route.url} declares no scope: set config.scope to a scope, 'full' or 'public'`)
      }
      return
    }
    if (!isRouteScope(scope)) throw new Error(`route ${String(route.method)} ${route.url} declares an unknown scope ${JSON.stringify(scope)}`)
    if (route.url.startsWith(GUARDED_PREFIX)) {
      // unknown query parameters are refused on every method, writes included
      const query = route.schema?.querystring as { additionalProperties?: unknown } | undefined
      if (query?.additionalProperties !== false) {
        throw new Error(`route ${String(route.method)} ${route.url} declares no closed querystring schema: set schema.querystring to an object schema with additionalProperties: false (NoQuery when it takes none)`)
      }
    }
    if (scope === 'public') return
    const denied = insufficientScope(scope)
    const requireScope = function requireScope (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
      done(keyAllows(request.apiKey!.grant, scope) ? undefined : denied)
    }
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
    route.onRequest = [authenticate, limitPerKey, requireScope, ...existing]
  })
}, { name: 'auth', dependencies: ['db', 'rate-limit', 'errors', 'clock'] })
