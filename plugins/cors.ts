import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import { ApiError } from '../domain/errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/cors reads this: false switches CORS off for the route */
    cors?: false
  }
}

const API_PREFIX = '/api/'

// The API is open to every origin (keys are bearer tokens, never cookies); nothing else is
// (the portal, health checks, docs). Static options keep the per-request cost low; non-API routes
// switch CORS off in their route config, and preflights for non-API paths are refused before the
// CORS hook can answer them. Registered before authentication, and the headers are set in
// onRequest, so every API error response carries them too.
export default fp(async function corsPlugin (fastify) {
  fastify.addHook('onRoute', (route) => {
    if (route.url !== '*' && !route.url.startsWith(API_PREFIX)) route.config = { ...route.config, cors: false }
  })
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (request.method === 'OPTIONS' && !request.url.startsWith(API_PREFIX)) {
      done(new ApiError(404, 'not_found', 'Cross-origin requests are only served under /api/'))
      return
    }
    done()
  })
  await fastify.register(cors, {
    hook: 'onRequest',
    origin: '*',
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
    // one string: @fastify/cors joins an array on every request
    exposedHeaders: 'X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, WWW-Authenticate',
    credentials: false,
    maxAge: 600
  })
  // The catch-all not-found route keeps CORS on, so an unknown /api/ path still answers
  // cross-origin; for any other unmatched path, take the headers back off here, in one place.
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!request.url.startsWith(API_PREFIX) && request.routeOptions.config?.cors !== false) {
      reply.removeHeader('access-control-allow-origin')
      reply.removeHeader('access-control-expose-headers')
    }
    done()
  })
}, { name: 'cors', dependencies: ['request-id'] }) // request-id first: a preflight answer carries X-Request-Id too
