import type { ErrorCode } from './error-codes.js'

/**
 * The one error type for expected failures. Handlers, hooks and db modules throw it; the single
 * error handler (plugins/errors.ts) turns it into the `{error, message, status, code, request_id}`
 * envelope. `code` is one of the catalogue in domain/error-codes.ts.
 */
export class ApiError extends Error {
  readonly statusCode: number
  readonly code: ErrorCode
  readonly headers: Readonly<Record<string, string>>

  constructor (statusCode: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.name = 'ApiError'
    this.statusCode = statusCode
    this.code = code
    this.headers = headers
  }
}

export const validationError = (message: string): ApiError => new ApiError(400, 'validation_error', message)

export const notFound = (what: string): ApiError => new ApiError(404, 'not_found', `${what} not found`)

export const conflict = (code: ErrorCode, message: string): ApiError => new ApiError(409, code, message)

/** 403 for a key that lacks `scope` ('full': only a full-access key may), with the header RFC 6750 describes. */
export function insufficientScope (scope: string, message: string): ApiError {
  return new ApiError(403, 'insufficient_scope', message, {
    'www-authenticate': scope === 'full' ? 'Bearer error="insufficient_scope"' : `Bearer error="insufficient_scope", scope="${scope}"`
  })
}
