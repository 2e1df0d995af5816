/**
 * Every `code` the error envelope can carry, with the status it comes with and what it means.
 * `ApiError` accepts only these, and the OpenAPI document's `ErrorResponse.code` enum and each
 * operation's documented error statuses are built from this list (docs/api.md "Errors"), so a
 * client can switch on `code` exhaustively. Add a code here before throwing it.
 */
export const ERROR_CODES = {
  validation_error: { status: 400, description: 'a query parameter, header or body field is missing, unknown or invalid (the message names it)' },
  invalid_json: { status: 400, description: 'the body is not valid JSON' },
  invalid_request: { status: 400, description: 'the request could not be processed (e.g. Content-Length does not match the body)' },
  malformed_request: { status: 400, description: 'the request is not valid HTTP (the connection is closed)' },
  missing_api_key: { status: 401, description: 'no Authorization header' },
  invalid_authorization_scheme: { status: 401, description: 'the Authorization header is not "Bearer <key>"' },
  invalid_api_key: { status: 401, description: 'the key is malformed or unknown' },
  api_key_revoked: { status: 401, description: 'the key was revoked' },
  api_key_expired: { status: 401, description: 'the key has expired' },
  api_access_disabled: { status: 403, description: "the key's account has API access switched off" },
  insufficient_scope: { status: 403, description: 'the key lacks the scope this operation needs (the message and WWW-Authenticate name it)' },
  geofence_refused: { status: 403, description: "a clock-in refused by the location's geofence mode (no entry is written; the event is)" },
  blocked_by_survey: { status: 403, description: "a clock-in refused by the location's pre-clock-in survey" },
  not_found: { status: 404, description: 'no such endpoint, or the record (or one it references) does not exist in this account' },
  method_not_allowed: { status: 405, description: 'the path exists but not with this method (Allow lists the methods)' },
  request_timeout: { status: 408, description: 'the request did not arrive in time (the connection is closed)' },
  already_clocked_in: { status: 409, description: 'the worker already has an open entry (the message names it)' },
  already_on_break: { status: 409, description: 'the worker is already on a break' },
  not_clocked_in: { status: 409, description: 'the worker has no open entry' },
  not_on_break: { status: 409, description: 'the worker is not on a break' },
  entry_overlap: { status: 409, description: "the timestamp falls before the end of the worker's previous entry or break" },
  worker_inactive: { status: 409, description: 'an inactive worker cannot clock in' },
  shift_overlap: { status: 409, description: "the worker already has a shift overlapping this one (the message names it)" },
  employee_ref_taken: { status: 409, description: 'another worker of this account has this employee_ref' },
  cost_code_taken: { status: 409, description: 'another cost code of this account has this code' },
  webhook_inactive: { status: 409, description: 'an inactive subscription cannot be pinged' },
  subscription_limit_reached: { status: 409, description: 'the account already has the most webhook subscriptions it may (20)' },
  survey_conflict: { status: 409, description: 'another active survey already applies to this location (the message names it)' },
  idempotency_key_reused: { status: 409, description: 'this Idempotency-Key was used with a different request' },
  payload_too_large: { status: 413, description: 'the body is over the size limit' },
  unsupported_media_type: { status: 415, description: 'the body is not JSON (Content-Type: application/json)' },
  rate_limited: { status: 429, description: "the key's rate limit is used up (Retry-After says when to retry)" },
  headers_too_large: { status: 431, description: 'the headers or URL are over 16 KB (the connection is closed)' },
  internal_error: { status: 500, description: 'a bug: nothing to fix on your side; the request id helps us find it' },
  overloaded: { status: 503, description: 'the server is shedding load (Retry-After says when to retry)' },
  not_ready: { status: 503, description: 'the database, or Redis when configured, does not answer (GET /ready)' },
  service_unavailable: { status: 503, description: 'a service the server needs is unreachable; retry later' }
} as const satisfies Record<string, { status: number, description: string }>

export type ErrorCode = keyof typeof ERROR_CODES

export const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as ErrorCode[]

export function statusOf (code: ErrorCode): number {
  return ERROR_CODES[code].status
}
