import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { nowIso, toIsoSeconds } from '../domain/time.js'
import type { Database } from './types.js'
import type { CompiledQuery, Engine } from './engine/engine.js'

/** Sessions end this long after sign-in, whatever happens in between. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000
/** 32 random bytes, base64url: what the cookie carries. */
export const SESSION_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** The signed-in admin, as a portal request sees it. */
export interface PortalSession {
  userId: number
  email: string
  accountId: number
  accountName: string
  accountTimezone: string
  csrfToken: string
  expiresAt: string
}

export function hashSessionToken (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export function generateToken (): string {
  return randomBytes(32).toString('base64url')
}

interface SessionLookupRow {
  user_id: number
  email: string
  account_id: number
  account_name: string
  account_timezone: string
  csrf_token: string
  expires_at: string
}

export class PortalSessionStore {
  readonly #lookup: CompiledQuery<SessionLookupRow, 'id' | 'now'>

  constructor (private readonly engine: Engine) {
    // read on every portal request: an expired session, a deleted one (logout) or a disabled user
    // stops working on the very next request, also when the CLI changed it in another process
    this.#lookup = engine.compile((param) => engine.db.selectFrom('portal_sessions')
      .innerJoin('portal_users', 'portal_users.id', 'portal_sessions.user_id')
      .innerJoin('accounts', 'accounts.id', 'portal_users.account_id')
      .select(['portal_sessions.user_id', 'portal_users.email', 'portal_users.account_id',
        'accounts.name as account_name', 'accounts.timezone as account_timezone',
        'portal_sessions.csrf_token', 'portal_sessions.expires_at'])
      .where('portal_sessions.id', '=', param('id'))
      .where('portal_sessions.expires_at', '>', param('now'))
      .where('portal_users.disabled_at', 'is', null))
  }

  /** Starts a session; returns the opaque token for the cookie (stored only as its hash). */
  async create (userId: number, nowMs = Date.now()): Promise<{ token: string, expiresAt: string }> {
    const token = generateToken()
    const now = toIsoSeconds(new Date(nowMs))
    const expiresAt = toIsoSeconds(new Date(nowMs + SESSION_TTL_MS))
    await this.engine.write(async (trx) => {
      // expired rows are swept here rather than by a timer: sign-ins are rare and this is indexed
      await trx.deleteFrom('portal_sessions').where('expires_at', '<=', now).execute()
      await trx.insertInto('portal_sessions').values({
        id: hashSessionToken(token), user_id: userId, csrf_token: generateToken(), expires_at: expiresAt, created_at: now
      }).execute()
    })
    return { token, expiresAt }
  }

  /** The live session for a cookie token, or undefined (unknown, expired, user disabled). */
  async find (token: string): Promise<PortalSession | undefined> {
    if (!SESSION_TOKEN_PATTERN.test(token)) return undefined
    const row = await this.#lookup.readFirst({ id: hashSessionToken(token), now: nowIso() })
    if (row === undefined) return undefined
    return {
      userId: row.user_id,
      email: row.email,
      accountId: row.account_id,
      accountName: row.account_name,
      accountTimezone: row.account_timezone,
      csrfToken: row.csrf_token,
      expiresAt: row.expires_at
    }
  }

  async destroy (token: string): Promise<void> {
    if (!SESSION_TOKEN_PATTERN.test(token)) return
    await this.engine.write(async (trx) => await trx.deleteFrom('portal_sessions').where('id', '=', hashSessionToken(token)).execute())
  }
}
