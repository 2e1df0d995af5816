import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { ApiError } from '../domain/errors.js'
import type { ErrorCode } from '../domain/error-codes.js'
import { redactKeys } from '../domain/redact.js'
import { ErrorResponse } from '../schemas/common.js'

interface AjvLikeError {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

function fieldName (instancePath: string, extra?: unknown): string {
  const path = instancePath.replace(/^\//, '').replace(/\//g, '.')
  const tail = typeof extra === 'string' ? extra : ''
  return [path, tail].filter((p) => p !== '').join('.')
}

/** Turns the first AJV error into one sentence an integrator can act on. */
export function describeValidationError (error: AjvLikeError, part: string): string {
  const where = part === 'querystring' ? 'query parameter' : 'field'
  const name = fieldName(error.instancePath)
  const p = error.params
  switch (error.keyword) {
    case 'required':
      return `Missing required ${where}: ${fieldName(error.instancePath, p.missingProperty)}`
    case 'additionalProperties':
      return `Unknown ${where}: ${fieldName(error.instancePath, p.additionalProperty)}`
    case 'type':
      return name === '' ? `Request ${part === 'body' ? 'body' : part} must be ${p.type === 'object' ? 'a JSON object' : String(p.type)}` : `Invalid ${where} ${name}: must be ${String(p.type).replace(',', ' or ')}`
    case 'enum':
      return `Invalid ${where} ${name}: must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`
    case 'format':
      return `Invalid ${where} ${name}: must be a valid ${String(p.format)}${p.format === 'date-time' ? ' (ISO-8601 with a time zone, e.g. 2025-06-15T09:30:00Z)' : p.format === 'date' ? ' (YYYY-MM-DD)' : ''}`
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      return `Invalid ${where} ${name}: must be ${String(p.comparison)} ${String(p.limit)}`
    case 'minLength':
      return p.limit === 1 ? `Invalid ${where} ${name}: must not be empty` : `Invalid ${where} ${name}: must be at least ${String(p.limit)} characters`
    case 'maxLength':
      return `Invalid ${where} ${name}: must be at most ${String(p.limit)} characters`
    case 'minProperties':
      return 'Request body must contain at least one field to change'
    case 'maxItems':
      return `Invalid ${where} ${name}: must have at most ${String(p.limit)} items`
    case 'minItems':
      return `Invalid ${where} ${name}: must have at least ${String(p.limit)} items`
    case 'uniqueItems':
      return `Invalid ${where} ${name}: must not contain duplicates`
    default:
      return `Invalid ${where}${name === '' ? '' : ' ' + name}: ${error.message ?? 'invalid value'}`
  }
}

const INVALID_JSON = new Set(['FST_ERR_CTP_INVALID_JSON_BODY', 'FST_ERR_CTP_EMPTY_JSON_BODY'])

/** Maps anything thrown in a request to the envelope's status, code and message. */
export function toApiError (err: FastifyError | ApiError | Error): ApiError {
  if (err instanceof ApiError) return err
  const fe = err as FastifyError & { validation?: AjvLikeError[], validationContext?: string }
  if (Array.isArray(fe.validation) && fe.validation.length > 0) {
    return new ApiError(400, 'validation_error', describeValidationError(fe.validation[0]!, fe.validationContext ?? 'body'))
  }
  if (INVALID_JSON.has(fe.code) || (err instanceof SyntaxError && fe.statusCode === 400)) {
    return new ApiError(400, 'invalid_json', fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
      ? 'Request body is empty but Content-Type is application/json'
      : 'Request body is not valid JSON')
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'payload_too_large', 'Request body is larger than the limit')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'Request body must be JSON (Content-Type: application/json)')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'invalid_request', 'Content-Length does not match the body')
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500
  if (status >= 400 && status < 500) {
    // a client error raised by Fastify or a plugin: keep its status, never its internals
    return new ApiError(status, status === 404 ? 'not_found' : 'invalid_request', status === 404 ? 'Not found' : 'The request could not be processed')
  }
  return new ApiError(500, 'internal_error', 'Internal server error')
}

const CLIENT_ERRORS: Record<string, { status: number, code: ErrorCode, message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'The request was not received in time' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'The request headers are too large' }
}
const DATABASE_UNAVAILABLE = new ApiError(503, 'service_unavailable', 'The database is unavailable; retry later')
const MALFORMED: { status: number, code: ErrorCode, message: string } = { status: 400, code: 'malformed_request', message: 'The request is not valid HTTP' }

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses before Fastify sees it
 * (malformed HTTP, headers over the size limit, a slow client cut by a timeout) still gets the JSON
 * error envelope, then the socket is closed.
 */
export function answerClientError (err: Error & { code?: string }, socket: Duplex): void {
  // a reset connection has no one left to answer
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  if (socket.writable) {
    const { status, code, message } = CLIENT_ERRORS[err.code ?? ''] ?? MALFORMED
    const requestId = 'req_' + randomUUID().replaceAll('-', '')
    const body = JSON.stringify({ error: true, message, status, code, request_id: requestId })
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}

/** The JSON error envelope for `apiError`, answering `request`. */
export function errorEnvelope (request: FastifyRequest, apiError: ApiError): { error: true, message: string, status: number, code: string, request_id: string } {
  // a message may quote the request (an unknown parameter's name): never a key in it
  return { error: true, message: redactKeys(apiError.message), status: apiError.statusCode, code: apiError.code, request_id: request.id }
}

export function sendError (request: FastifyRequest, reply: FastifyReply, apiError: ApiError): FastifyReply {
  for (const [name, value] of Object.entries(apiError.headers)) reply.header(name, value)
  return reply.code(apiError.statusCode).type('application/json; charset=utf-8').send(errorEnvelope(request, apiError))
}

/**
 * For a path that has routes but none for `method`: the `Allow` header value (405).
 * Undefined when the path is unknown (404) or the method is served.
 */
export function allowedMethods (routeIndex: Map<string, Map<string, string | undefined>>, path: string, method: string): string | undefined {
  const methods = routeIndex.get(path)
  if (methods === undefined || methods.has(method)) return undefined
  return [...methods.keys()].filter((m) => m !== 'OPTIONS').sort().join(', ')
}

declare module 'fastify' {
  interface FastifyInstance {
    /** path → method → declared scope, for 405 answers and for tests that walk every route */
    routeIndex: Map<string, Map<string, string | undefined>>
  }
}

export default fp(async function errorsPlugin (fastify) {
  fastify.addSchema(ErrorResponse)

  const routeIndex = new Map<string, Map<string, string | undefined>>()
  fastify.decorate('routeIndex', routeIndex)
  fastify.addHook('onRoute', (route) => {
    if (route.url.includes('*')) return
    const methods = routeIndex.get(route.url) ?? new Map<string, string | undefined>()
    const scope = route.config?.scope
    for (const m of Array.isArray(route.method) ? route.method : [route.method]) methods.set(m, scope)
    routeIndex.set(route.url, methods)
  })

  fastify.setErrorHandler(function handleError (err, request, reply) {
    // the database unreachable or shutting down is not the request's fault: retry later
    const apiError = !(err instanceof ApiError) && fastify.hasDecorator('engine') && fastify.engine.isUnavailable(err)
      ? DATABASE_UNAVAILABLE
      : toApiError(err instanceof Error ? err : new Error(String(err)))
    // a shed request (503 `overloaded`) is the server protecting itself, not a failure: an error
    // line with a stack for each would add work exactly when there is least to spare
    if (apiError.statusCode >= 500 && !(err instanceof ApiError && err.statusCode === 503)) {
      request.log.error({ err }, 'request failed')
    } else {
      request.log.debug({ code: apiError.code }, redactKeys(apiError.message))
    }
    return sendError(request, reply, apiError)
  })

  fastify.setNotFoundHandler(function handleNotFound (request, reply) {
    const path = request.url.split('?', 1)[0] ?? ''
    const allow = allowedMethods(routeIndex, path, request.method)
    if (allow !== undefined) {
      return sendError(request, reply, new ApiError(405, 'method_not_allowed',
        `Method ${request.method} is not allowed on ${path}; allowed: ${allow}`, { allow }))
    }
    return sendError(request, reply, new ApiError(404, 'not_found', `No endpoint at ${request.method} ${path}`))
  })
}, { name: 'errors' })
