import fp from 'fastify-plugin'
import cors, { type FastifyCorsOptions } from '@fastify/cors'

const API_CORS: FastifyCorsOptions = {
  origin: '*',
  methods: ['GET', 'POST', 'PUT', 'DELETE'],
  allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
  exposedHeaders: ['X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Retry-After', 'WWW-Authenticate'],
  credentials: false,
  maxAge: 600
}
const NO_CORS: FastifyCorsOptions = { origin: false }

// The API is open to every origin (keys are bearer tokens, never cookies); nothing else is
// (the portal). Registered first so a preflight is answered before any authentication, and the
// headers are set in onRequest so they stay on every error response too.
export default fp(async function corsPlugin (fastify) {
  await fastify.register(cors, {
    hook: 'onRequest',
    delegator: (request, callback) => {
      callback(null, request.url.startsWith('/api/') ? API_CORS : NO_CORS)
    }
  })
}, { name: 'cors', dependencies: ['request-id'] }) // request-id first: a preflight answer carries X-Request-Id too
