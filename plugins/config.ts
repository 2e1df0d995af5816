import fp from 'fastify-plugin'
import type { Synchronous } from '../db/engine/sqlite/index.js'

export interface AppConfig {
  host: string
  port: number
  /** SQLite file, or ':memory:'; unused when databaseUrl is set */
  dbPath: string
  /** PostgreSQL (postgres:// or postgresql://) instead of the SQLite file: for several processes */
  databaseUrl?: string
  /** PostgreSQL connections each process keeps at most */
  databasePoolSize: number
  /**
   * How long a query waits for a free PostgreSQL connection before the request fails with 503
   * (the engine's default when unset); for embedding and tests, not read from the environment
   */
  databaseConnectTimeoutMs?: number
  /** PostgreSQL cancels a statement after this long; a server that stops answering gets 2 s more */
  databaseStatementTimeoutMs: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  synchronous: Synchronous
  /** request body limit in bytes */
  bodyLimit: number
  /** accept http webhook URLs to loopback hosts (local use and tests) */
  webhooksAllowLoopback: boolean
  /** mark the manage portal's cookies Secure (and send HSTS there): set it when served over HTTPS */
  portalSecureCookies: boolean
  /** run the webhook delivery loop in this process (on in the server, off in tests unless asked) */
  webhooksEnabled: boolean
  /** how often the loop looks for new events and due deliveries; writes also wake it at once */
  webhooksPollMs: number
  /** first retry delay; each further retry doubles it (with jitter) up to webhooksRetryMaxMs */
  webhooksRetryBaseMs: number
  webhooksRetryMaxMs: number
  /** how long a delivery keeps being retried before it is marked failed (24 h) */
  webhooksRetryWindowMs: number
  /** per-request timeout of one delivery attempt */
  webhooksTimeoutMs: number
  /** resolving and connecting alone, within webhooksTimeoutMs: an address that never answers fails fast */
  webhooksConnectTimeoutMs: number
  /** deliveries in flight at once */
  webhooksConcurrency: number
  /** deliveries in flight at once for one account (its slow endpoints leave the other slots free) */
  webhooksAccountConcurrency: number
  /** deliveries in flight at once for one subscription */
  webhooksSubscriptionConcurrency: number
  /** delivered and failed deliveries, and the events behind them, are deleted after this many days */
  webhooksRetentionDays: number
  /** run the document expiry check in this process (on in the server, off in tests unless asked) */
  documentExpiryEnabled: boolean
  /** how often it looks for expiry days that have ended (it also runs at start) */
  documentExpiryIntervalMs: number
  /** load shedding (503 `overloaded`) above these; 0 turns a check off */
  overload: OverloadConfig
  /** slow clients: a request's headers, and the whole request, must arrive within these */
  headersTimeoutMs: number
  requestTimeoutMs: number
  /** Redis that shares rate-limit counters between server processes (redis:// or rediss://); memory when absent */
  redisUrl?: string
  /** the rate limiter's clock in milliseconds, for tests; a monotonic clock when absent */
  rateLimitClock?: () => number
  /**
   * the engine's misuse check (a query on engine.db inside a write, a nested write, throw at
   * once): it costs every promise in the process, so it is on in development and tests and off
   * when NODE_ENV=production; TEMPCLOCK_WRITE_GUARD=on|off overrides
   */
  writeGuard: boolean
}

export interface OverloadConfig {
  /** mean event-loop delay over a sample interval */
  maxEventLoopDelayMs: number
  maxHeapUsedBytes: number
  maxRssBytes: number
  /** seconds, sent as Retry-After on a shed request */
  retryAfterS: number
  /** how often the event loop and memory are sampled */
  sampleIntervalMs: number
}

declare module 'fastify' {
  interface FastifyInstance {
    config: AppConfig
  }
}

export class ConfigError extends Error {}

const MB = 1024 * 1024
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
const SYNCHRONOUS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const

function pick<T extends string> (name: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a.toLowerCase() === value.toLowerCase())
  if (found === undefined) throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`)
  return found
}

function integer (name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`)
  }
  return Number(value)
}

function flag (name: string, value: string): boolean {
  if (['1', 'true', 'yes'].includes(value.toLowerCase())) return true
  if (['0', 'false', 'no', ''].includes(value.toLowerCase())) return false
  throw new ConfigError(`${name} must be 1 or 0 (got ${JSON.stringify(value)})`)
}

/** TEMPCLOCK_WRITE_GUARD when set, else on unless NODE_ENV=production. */
function writeGuard (env: NodeJS.ProcessEnv): boolean {
  const setting = env.TEMPCLOCK_WRITE_GUARD
  if (setting === undefined || setting === '') return env.NODE_ENV !== 'production'
  return pick('TEMPCLOCK_WRITE_GUARD', setting, ['on', 'off'] as const) === 'on'
}

function redisUrl (value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    // the value is not echoed: it may hold a password
    throw new ConfigError('TEMPCLOCK_REDIS_URL must be a URL like redis://host:6379 (got something that is not a URL)')
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new ConfigError(`TEMPCLOCK_REDIS_URL must be a redis:// or rediss:// URL with a host (got scheme ${JSON.stringify(url.protocol)}${url.hostname === '' ? ' and no host' : ''})`)
  }
  return value
}

function databaseUrl (value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  // by the scheme alone: pg's connection strings include forms WHATWG URL rejects, such as a Unix
  // socket's empty host (postgres://user@/dbname?host=/var/run/postgresql); the value is not
  // echoed, it may hold a password
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase()
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw new ConfigError(`TEMPCLOCK_DATABASE_URL must be a postgres:// or postgresql:// URL (got ${scheme === undefined ? 'something that is not a URL' : `scheme ${JSON.stringify(scheme + ':')}`}); leave it unset for the SQLite file in TEMPCLOCK_DB`)
  }
  return value
}

/** Reads and validates the environment once at start; a bad value is a clear error, not a default. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): AppConfig {
  const host = env.HOST ?? '127.0.0.1'
  if (host.trim() === '') throw new ConfigError('HOST must not be empty')
  const config: AppConfig = {
    host,
    port: integer('PORT', env.PORT ?? '3000', 0, 65535),
    dbPath: env.TEMPCLOCK_DB ?? './data/tempclock.db',
    databasePoolSize: integer('TEMPCLOCK_DATABASE_POOL_SIZE', env.TEMPCLOCK_DATABASE_POOL_SIZE ?? '10', 1, 1000),
    databaseStatementTimeoutMs: integer('TEMPCLOCK_DATABASE_STATEMENT_TIMEOUT_MS', env.TEMPCLOCK_DATABASE_STATEMENT_TIMEOUT_MS ?? '10000', 100, 600_000),
    logLevel: pick('LOG_LEVEL', env.LOG_LEVEL ?? 'info', LOG_LEVELS),
    synchronous: pick('TEMPCLOCK_DB_SYNCHRONOUS', env.TEMPCLOCK_DB_SYNCHRONOUS ?? 'FULL', SYNCHRONOUS),
    bodyLimit: integer('TEMPCLOCK_BODY_LIMIT', env.TEMPCLOCK_BODY_LIMIT ?? String(1024 * 1024), 1024, 64 * 1024 * 1024),
    webhooksAllowLoopback: flag('TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK', env.TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK ?? '0'),
    portalSecureCookies: flag('TEMPCLOCK_PORTAL_SECURE_COOKIES', env.TEMPCLOCK_PORTAL_SECURE_COOKIES ?? '0'),
    webhooksEnabled: flag('TEMPCLOCK_WEBHOOKS_ENABLED', env.TEMPCLOCK_WEBHOOKS_ENABLED ?? '1'),
    webhooksPollMs: integer('TEMPCLOCK_WEBHOOKS_POLL_MS', env.TEMPCLOCK_WEBHOOKS_POLL_MS ?? '1000', 10, 60_000),
    webhooksRetryBaseMs: integer('TEMPCLOCK_WEBHOOKS_RETRY_BASE_MS', env.TEMPCLOCK_WEBHOOKS_RETRY_BASE_MS ?? '30000', 10, 3_600_000),
    webhooksRetryMaxMs: integer('TEMPCLOCK_WEBHOOKS_RETRY_MAX_MS', env.TEMPCLOCK_WEBHOOKS_RETRY_MAX_MS ?? '3600000', 10, 6 * 3_600_000),
    webhooksRetryWindowMs: 24 * 3_600_000,
    webhooksTimeoutMs: integer('TEMPCLOCK_WEBHOOKS_TIMEOUT_MS', env.TEMPCLOCK_WEBHOOKS_TIMEOUT_MS ?? '10000', 100, 60_000),
    webhooksConnectTimeoutMs: integer('TEMPCLOCK_WEBHOOKS_CONNECT_TIMEOUT_MS', env.TEMPCLOCK_WEBHOOKS_CONNECT_TIMEOUT_MS ?? '2000', 100, 60_000),
    webhooksConcurrency: integer('TEMPCLOCK_WEBHOOKS_CONCURRENCY', env.TEMPCLOCK_WEBHOOKS_CONCURRENCY ?? '16', 1, 100),
    webhooksAccountConcurrency: integer('TEMPCLOCK_WEBHOOKS_ACCOUNT_CONCURRENCY', env.TEMPCLOCK_WEBHOOKS_ACCOUNT_CONCURRENCY ?? '8', 1, 100),
    webhooksSubscriptionConcurrency: integer('TEMPCLOCK_WEBHOOKS_SUBSCRIPTION_CONCURRENCY', env.TEMPCLOCK_WEBHOOKS_SUBSCRIPTION_CONCURRENCY ?? '4', 1, 100),
    webhooksRetentionDays: integer('TEMPCLOCK_WEBHOOKS_RETENTION_DAYS', env.TEMPCLOCK_WEBHOOKS_RETENTION_DAYS ?? '30', 1, 3650),
    documentExpiryEnabled: flag('TEMPCLOCK_DOCUMENT_EXPIRY_ENABLED', env.TEMPCLOCK_DOCUMENT_EXPIRY_ENABLED ?? '1'),
    documentExpiryIntervalMs: integer('TEMPCLOCK_DOCUMENT_EXPIRY_INTERVAL_MS', env.TEMPCLOCK_DOCUMENT_EXPIRY_INTERVAL_MS ?? '30000', 10, 60_000),
    overload: {
      maxEventLoopDelayMs: integer('TEMPCLOCK_MAX_EVENT_LOOP_DELAY_MS', env.TEMPCLOCK_MAX_EVENT_LOOP_DELAY_MS ?? '1000', 0, 600_000),
      maxHeapUsedBytes: MB * integer('TEMPCLOCK_MAX_HEAP_MB', env.TEMPCLOCK_MAX_HEAP_MB ?? '768', 0, 1_000_000),
      maxRssBytes: MB * integer('TEMPCLOCK_MAX_RSS_MB', env.TEMPCLOCK_MAX_RSS_MB ?? '1024', 0, 1_000_000),
      retryAfterS: integer('TEMPCLOCK_RETRY_AFTER_S', env.TEMPCLOCK_RETRY_AFTER_S ?? '5', 1, 3600),
      sampleIntervalMs: integer('TEMPCLOCK_PRESSURE_SAMPLE_MS', env.TEMPCLOCK_PRESSURE_SAMPLE_MS ?? '1000', 10, 60_000)
    },
    headersTimeoutMs: integer('TEMPCLOCK_HEADERS_TIMEOUT_MS', env.TEMPCLOCK_HEADERS_TIMEOUT_MS ?? '10000', 100, 600_000),
    requestTimeoutMs: integer('TEMPCLOCK_REQUEST_TIMEOUT_MS', env.TEMPCLOCK_REQUEST_TIMEOUT_MS ?? '30000', 100, 600_000),
    writeGuard: writeGuard(env)
  }
  const database = databaseUrl(env.TEMPCLOCK_DATABASE_URL)
  if (database !== undefined) config.databaseUrl = database
  const redis = redisUrl(env.TEMPCLOCK_REDIS_URL)
  if (redis !== undefined) config.redisUrl = redis
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new ConfigError('TEMPCLOCK_HEADERS_TIMEOUT_MS must not exceed TEMPCLOCK_REQUEST_TIMEOUT_MS')
  }
  return config
}

/** Test and embedding default: the server's config with overrides. */
export function testConfig (overrides: Partial<AppConfig> = {}): AppConfig {
  const config = loadConfig({})
  // no load shedding in tests unless a test asks for it: a busy CI machine is not an overload;
  // the webhook loop and the expiry check stay off unless a test turns them on, so they cannot
  // touch other tests
  const overload = { ...config.overload, maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0, maxRssBytes: 0 }
  // the write guard always: a misuse in a test throws at once, whatever NODE_ENV says
  return { ...config, dbPath: ':memory:', logLevel: 'silent', webhooksEnabled: false, documentExpiryEnabled: false, overload, writeGuard: true, ...overrides }
}

export default fp(async function configPlugin (fastify, opts: { config?: AppConfig }) {
  fastify.decorate('config', opts.config ?? loadConfig())
}, { name: 'config' })
