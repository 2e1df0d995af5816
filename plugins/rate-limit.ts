import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { ApiError } from '../domain/errors.js'

// Configures @fastify/rate-limit only; the auth plugin applies it per key, right after the key is known.
export default fp(async function rateLimitPlugin (fastify) {
  await fastify.register(rateLimit, {
    global: false,
    timeWindow: 60_000,
    errorResponseBuilder: (_request, context) => new ApiError(429, 'rate_limited',
      `Rate limit exceeded: ${context.max} requests per minute for this API key; retry in ${context.after}`)
  })
}, { name: 'rate-limit' })
