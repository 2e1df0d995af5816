import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, onSendHookHandler, preHandlerHookHandler } from 'fastify'
import { IdempotencyStore } from '../db/idempotency.js'
import { conflict, validationError } from '../domain/errors.js'
import { MAX_JSON_DEPTH } from '../domain/json-depth.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** the claimed idempotency row of this request, or a replay; null without the header */
    idempotency: { id: number } | { replayed: true } | null
    /**
     * set by a handler that answers with an error after writing something (a refused clock-in
     * records its event): that error is stored and replayed like a success
     */
    keepIdempotentError: boolean
  }
}

export const IDEMPOTENCY_HEADER = 'idempotency-key'
const SANE_KEY = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/
const PURGE_EVERY_MS = 3_600_000
const IDEMPOTENCY_HEADER_SCHEMA = {
  type: 'object',
  properties: {
    [IDEMPOTENCY_HEADER]: {
      type: 'string',
      description: 'Makes a retry safe: the same key with the same request within 24 hours replays the first response ' +
        '(with `Idempotent-Replayed: true`) instead of running again. 1–255 printable ASCII characters, scoped to the API key.'
    }
  }
}

/**
 * Sorted keys, so {"a":1,"b":2} and {"b":2,"a":1} are the same request. Bodies arrive capped at
 * MAX_JSON_DEPTH (plugins/validation.ts); the check here keeps the recursion bounded for any caller.
 */
function canonicalJson (value: unknown, depth = 1): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (depth > MAX_JSON_DEPTH) throw validationError(`Request body is nested too deeply: at most ${MAX_JSON_DEPTH} levels of objects and arrays`)
  if (Array.isArray(value)) return '[' + value.map((item) => canonicalJson(item, depth + 1)).join(',') + ']'
  return '{' + Object.keys(value).sort().map((k) => JSON.stringify(k) + ':' + canonicalJson((value as Record<string, unknown>)[k], depth + 1)).join(',') + '}'
}

function fingerprint (request: FastifyRequest): string {
  return createHash('sha256').update(request.method + ' ' + request.url + '\n' + canonicalJson(request.body ?? null)).digest('hex')
}

/**
 * `Idempotency-Key` on every authenticated POST under /api/v1 (API.md §4 "Time"): the same key
 * with the same request within 24 hours replays the first response (status and body, plus
 * `Idempotent-Replayed: true`) without running the handler; another request → 409
 * `idempotency_key_reused`; while the first is still running → 409 `idempotency_key_in_progress`.
 * Keys are scoped per API key. Stored: 2xx answers, and errors a handler marks as having written
 * something. Other errors wrote nothing, so the key is released and a corrected retry may reuse it.
 */
export default fp(async function idempotencyPlugin (fastify) {
  const store = new IdempotencyStore(fastify.db)
  fastify.decorateRequest('idempotency', null)
  fastify.decorateRequest('keepIdempotentError', false)

  const claimKey: preHandlerHookHandler = async function claimKey (request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers[IDEMPOTENCY_HEADER]
    if (header === undefined) return
    if (typeof header !== 'string' || !SANE_KEY.test(header)) {
      throw validationError('Invalid Idempotency-Key header: 1 to 255 printable ASCII characters, sent once')
    }
    const claim = await store.claim(request.apiKey!.id, header, fingerprint(request))
    switch (claim.kind) {
      case 'claimed':
        request.idempotency = { id: claim.id }
        return
      case 'mismatch':
        throw conflict('idempotency_key_reused', 'This Idempotency-Key was already used with a different request')
      case 'in_progress':
        throw conflict('idempotency_key_in_progress', 'A request with this Idempotency-Key is still being processed; retry shortly')
      case 'replay':
        request.idempotency = { replayed: true }
        return await reply.code(claim.status).header('idempotent-replayed', 'true')
          .type('application/json; charset=utf-8').send(claim.body)
    }
  }

  const storeResponse: onSendHookHandler = async function storeResponse (request, reply, payload) {
    const state = request.idempotency
    if (state === null || !('id' in state)) return payload
    const status = reply.statusCode
    const keep = (status >= 200 && status < 300) || (request.keepIdempotentError && status < 500)
    try {
      if (keep && typeof payload === 'string') await store.complete(state.id, status, payload)
      else await store.release(state.id)
    } catch (err) {
      // the response itself stands; a retry then runs again (the clock rules stop a duplicate)
      request.log.error({ err }, 'could not store the idempotent response')
    }
    return payload
  }

  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const scope = route.config?.scope
    if (!methods.includes('POST') || !route.url.startsWith('/api/v1/') || scope === undefined || scope === 'public') return
    const pre = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler]
    const send = route.onSend === undefined ? [] : Array.isArray(route.onSend) ? route.onSend : [route.onSend]
    route.preHandler = [claimKey, ...pre]
    route.onSend = [...send, storeResponse]
    // documented in the OpenAPI reference; checked (with a clear message) by claimKey
    if (route.schema !== undefined && route.schema.headers === undefined) {
      route.schema = { ...route.schema, headers: IDEMPOTENCY_HEADER_SCHEMA }
    }
  })

  const purge = async (): Promise<void> => {
    try {
      await store.purgeExpired()
    } catch (err) {
      fastify.log.error({ err }, 'idempotency purge failed')
    }
  }
  let timer: NodeJS.Timeout | undefined
  fastify.addHook('onReady', async () => {
    await purge()
    timer = setInterval(() => { void purge() }, PURGE_EVERY_MS)
    timer.unref()
  })
  fastify.addHook('onClose', async () => { clearInterval(timer) })
}, { name: 'idempotency', dependencies: ['db', 'auth', 'errors'] })
