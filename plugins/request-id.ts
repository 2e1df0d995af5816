import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import fp from 'fastify-plugin'
import { looksLikeKey } from '../domain/redact.js'

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Echoes a sane incoming X-Request-Id (so a caller can correlate), otherwise makes one. An id
 * that could be a key is never echoed: it would be logged on every line of the request.
 */
export function generateRequestId (req: IncomingMessage): string {
  const incoming = req.headers['x-request-id']
  if (typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) && !looksLikeKey(incoming)) return incoming
  return 'req_' + randomUUID().replaceAll('-', '')
}

export default fp(async function requestIdPlugin (fastify) {
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
}, { name: 'request-id' })
