import fp from 'fastify-plugin'
import type { Synchronous } from '../db/connection.js'

export interface AppConfig {
  host: string
  port: number
  /** SQLite file, or ':memory:' */
  dbPath: string
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
  /** deliveries in flight at once */
  webhooksConcurrency: number
}

declare module 'fastify' {
  interface FastifyInstance {
    config: AppConfig
  }
}

export class ConfigError extends Error {}

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

/** Reads and validates the environment once at start; a bad value is a clear error, not a default. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): AppConfig {
  const host = env.HOST ?? '127.0.0.1'
  if (host.trim() === '') throw new ConfigError('HOST must not be empty')
  return {
    host,
    port: integer('PORT', env.PORT ?? '3000', 0, 65535),
    dbPath: env.TEMPCLOCK_DB ?? './data/tempclock.db',
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
    webhooksConcurrency: integer('TEMPCLOCK_WEBHOOKS_CONCURRENCY', env.TEMPCLOCK_WEBHOOKS_CONCURRENCY ?? '8', 1, 100)
  }
}

/** Test and embedding default: the server's config with overrides. */
export function testConfig (overrides: Partial<AppConfig> = {}): AppConfig {
  // the webhook loop stays off unless a test turns it on, so it cannot touch other tests
  return { ...loadConfig({}), dbPath: ':memory:', logLevel: 'silent', webhooksEnabled: false, ...overrides }
}

export default fp(async function configPlugin (fastify, opts: { config?: AppConfig }) {
  fastify.decorate('config', opts.config ?? loadConfig())
}, { name: 'config' })
