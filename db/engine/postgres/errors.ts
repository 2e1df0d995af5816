/** What pg's errors carry (pg-protocol's DatabaseError, and Node's system errors). */
interface PgErrorFields {
  code?: unknown
  table?: unknown
  constraint?: unknown
  detail?: unknown
  message?: unknown
  cause?: unknown
  errors?: unknown
}

function fields (err: unknown): PgErrorFields | undefined {
  return typeof err === 'object' && err !== null ? err as PgErrorFields : undefined
}

/** SQLSTATE of a PostgreSQL error, or undefined for anything else. */
export function sqlState (err: unknown): string | undefined {
  const code = fields(err)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/** A UNIQUE violation (23505), on `column` ("table.column") when given. */
export function isUniqueViolation (err: unknown, column?: `${string}.${string}`): boolean {
  if (sqlState(err) !== '23505') return false
  if (column === undefined) return true
  const [table, name] = column.split('.') as [string, string]
  const e = fields(err)!
  if (e.table !== table) return false
  // "Key (account_id, code)=(1, X) already exists." names the index's columns (or expressions)
  const key = typeof e.detail === 'string' ? /^Key \((.*?)\)=\(/.exec(e.detail) : null
  if (key !== null) return (key[1]!.match(/[A-Za-z_][A-Za-z0-9_$]*/g) ?? [] as string[]).includes(name)
  // no detail (a role that may not read the row): the index's name, which names its columns here
  return typeof e.constraint === 'string' && e.constraint.includes(name)
}

/** Serialization failure or deadlock: the transaction was rolled back and may simply run again. */
export function isRetryableConflict (err: unknown): boolean {
  const state = sqlState(err)
  return state === '40001' || state === '40P01'
}

const UNAVAILABLE_SYSTEM_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENOTFOUND', 'EAI_AGAIN',
  // a Unix socket path that is not there: the server is stopped
  'ENOENT'
])

const UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovering)
  '53300', // too_many_connections
  // query_canceled: the statement timeout, a database too slow to answer within the request
  '57014'
])

/** pg's own errors for a connection that is gone or never came (they carry no code). */
const UNAVAILABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
  'the database did not answer the ping in time'
]

/**
 * Whether `err` means the database is unreachable or shutting down rather than that the query was
 * wrong: the API answers 503 for these. Looks through `cause` and an AggregateError's `errors`
 * (a host name with several addresses fails with one error per address).
 */
export function isUnavailable (err: unknown, depth = 0): boolean {
  const e = fields(err)
  if (e === undefined || depth > 4) return false
  const state = sqlState(err)
  if (state !== undefined && (state.startsWith('08') || UNAVAILABLE_STATES.has(state))) return true
  if (typeof e.code === 'string' && UNAVAILABLE_SYSTEM_CODES.has(e.code)) return true
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.some((m) => (e.message as string).startsWith(m))) return true
  if (Array.isArray(e.errors) && e.errors.some((inner) => isUnavailable(inner, depth + 1))) return true
  return e.cause !== undefined && isUnavailable(e.cause, depth + 1)
}
