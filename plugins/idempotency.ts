import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, onSendHookHandler, preHandlerHookHandler } from 'fastify'
import { IdempotencyKeyTaken, IdempotencyStore, IdempotentWrite, type StoredKey } from '../db/idempotency.js'
import type { WriteOptions } from '../db/engine/engine.js'
import { ApiError, conflict, validationError } from '../domain/errors.js'
import { MAX_JSON_DEPTH } from '../domain/json-depth.js'
import { errorEnvelope } from './errors.js'

/** An unused Idempotency-Key on a request, until the request's write stores its response. */
export interface IdempotencyClaim {
  readonly store: IdempotencyStore
  readonly apiKeyId: number
  readonly key: string
  readonly fingerprint: string
  /** set once the response sent is the one stored with the work (or a replay) */
  answered: boolean
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the request's Idempotency-Key, checked unused before the handler; null without the header */
    idempotency: IdempotencyClaim | null
  }
}

export const IDEMPOTENCY_HEADER = 'idempotency-key'
const SANE_KEY = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/
const PURGE_EVERY_MS = 3_600_000
const JSON_TYPE = 'application/json; charset=utf-8'
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

/** The first request's response, or 409 when the key was used for another request. */
async function replay (request: FastifyRequest, reply: FastifyReply, stored: StoredKey): Promise<FastifyReply> {
  if (stored.fingerprint !== request.idempotency!.fingerprint) {
    throw conflict('idempotency_key_reused', 'This Idempotency-Key was already used with a different request')
  }
  request.idempotency!.answered = true
  return await reply.code(stored.status).header('idempotent-replayed', 'true').type(JSON_TYPE).send(stored.body)
}

/** What a write route answers for its write's value. */
export interface WriteAnswer { status: number, payload: unknown }

const NO_OPTIONS: WriteOptions = Object.freeze({})

/**
 * How a POST route runs its write and answers. `work` makes the route's one write (a store call,
 * one engine.write()) and hands the store the `options` it is given, which the store passes to
 * its engine.write(fn, options); `answer` turns the value that write returns into the status and
 * payload. With an Idempotency-Key the options carry the key's record: the payload is serialised
 * (by the route's own response schema) inside the write's transaction and stored with the work,
 * and exactly those bytes are sent: a retry, even after a crash right after the commit, replays
 * them. A refusal the write commits on purpose (an ApiError its unit returns, such as a refused
 * clock-in that records its event) is stored and replayed the same way. A route whose store
 * drops the options answers 500 to a keyed request (nothing stored), which the generated test in
 * test/idempotency.test.ts catches for every POST route.
 */
export async function sendWrite<T> (request: FastifyRequest, reply: FastifyReply, work: (options: WriteOptions) => Promise<T>, answer: (value: T) => WriteAnswer): Promise<FastifyReply> {
  const claim = request.idempotency
  if (claim === null) {
    const { status, payload } = answer(await work(NO_OPTIONS))
    return await reply.code(status).send(payload)
  }
  const write = new IdempotentWrite(claim.store, claim.apiKeyId, claim.key, claim.fingerprint, (value) => {
    const { status, payload } = value instanceof ApiError
      ? { status: value.statusCode, payload: errorEnvelope(request, value) }
      : answer(value as T)
    reply.code(status)
    const body = reply.serialize(payload)
    if (typeof body !== 'string') throw new Error('the route serialiser returned bytes, not JSON text')
    return { status, body }
  })
  let failure: unknown = null
  try {
    await work({ extension: write })
  } catch (err) {
    failure = err
  } finally {
    write.close()
  }
  if (failure instanceof IdempotencyKeyTaken) return await replay(request, reply, failure.stored)
  // stored with the work: sent as stored even when the store then throws the committed refusal
  if (write.response !== null) {
    claim.answered = true
    return await reply.code(write.response.status).type(JSON_TYPE).send(write.response.body)
  }
  if (failure !== null) throw failure
  throw new Error(`${request.method} ${request.routeOptions.url ?? request.url}: its work wrote nothing, so there is no response to store for the Idempotency-Key`)
}

/**
 * `Idempotency-Key` on every authenticated POST under /api/v1 (README "Idempotency-Key"): the
 * same key with the same request within 24 hours replays the first response (status and body,
 * plus `Idempotent-Replayed: true`) without running the handler; another request → 409
 * `idempotency_key_reused`. Keys are scoped per API key. The response is stored by `sendWrite`,
 * in the transaction of the request's work; a request that fails before committing stores
 * nothing, so a corrected retry may reuse the key.
 */
export default fp(async function idempotencyPlugin (fastify) {
  const store = new IdempotencyStore(fastify.engine)
  fastify.decorateRequest('idempotency', null)

  const checkKey: preHandlerHookHandler = async function checkKey (request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers[IDEMPOTENCY_HEADER]
    if (header === undefined) return
    if (typeof header !== 'string' || !SANE_KEY.test(header)) {
      throw validationError('Invalid Idempotency-Key header: 1 to 255 printable ASCII characters, sent once')
    }
    const apiKeyId = request.apiKey!.id
    request.idempotency = { store, apiKeyId, key: header, fingerprint: fingerprint(request), answered: false }
    const stored = await store.find(apiKeyId, header)
    if (stored !== undefined) return await replay(request, reply, stored)
  }

  // A route that answers 2xx to a keyed POST without storing its response through sendWrite
  // would let a retry run its work twice: fail loudly instead.
  const requireStoredResponse: onSendHookHandler = async function requireStoredResponse (request, reply, payload) {
    const claim = request.idempotency
    if (claim !== null && !claim.answered && reply.statusCode >= 200 && reply.statusCode < 300) {
      throw new Error(`${request.method} ${request.routeOptions.url ?? request.url} answered ${reply.statusCode} without storing its response for the Idempotency-Key: write through sendWrite (plugins/idempotency.ts)`)
    }
    return payload
  }

  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const scope = route.config?.scope
    if (!methods.includes('POST') || !route.url.startsWith('/api/v1/') || scope === undefined || scope === 'public') return
    const pre = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler]
    const send = route.onSend === undefined ? [] : Array.isArray(route.onSend) ? route.onSend : [route.onSend]
    route.preHandler = [checkKey, ...pre]
    route.onSend = [...send, requireStoredResponse]
    // documented in the OpenAPI reference; checked (with a clear message) by checkKey
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
