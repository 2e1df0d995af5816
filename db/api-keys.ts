import { hash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { storedGrant, type KeyGrant, type Scope } from '../domain/scopes.js'
import { nowIso } from '../domain/time.js'
import type { CompiledQuery, Engine } from './engine/engine.js'
import type { ApiKeyRow, Database } from './types.js'

export const API_KEY_PATTERN = /^tc_live_[0-9a-f]{40}$/
export const DEFAULT_RATE_LIMIT = 60
/** last_used_at is kept within this much of the truth, so a busy key costs one write a minute. */
export const LAST_USED_RESOLUTION_MS = 60_000

export type ApiKeyStatus = 'active' | 'revoked' | 'expired'

/** What the operator and the portal see of a key: never the key, never its hash. */
export interface ApiKeyRecord {
  id: number
  account_id: number
  name: string
  prefix: string
  /** the scopes of a key without full access; empty for a full-access key */
  scopes: Scope[]
  full_access: boolean
  status: ApiKeyStatus
  expires_at: string | null
  revoked_at: string | null
  last_used_at: string | null
  rate_limit: number
  created_at: string
}

export function generateApiKey (): string {
  return 'tc_live_' + randomBytes(20).toString('hex')
}

export function hashApiKey (key: string): string {
  return hash('sha256', key, 'hex')
}

export function displayPrefix (key: string): string {
  return key.slice(0, 12) + '...'
}

export function keyStatus (key: { revoked_at: string | null, expires_at: string | null }, now: string): ApiKeyStatus {
  if (key.revoked_at !== null) return 'revoked'
  if (key.expires_at !== null && key.expires_at <= now) return 'expired'
  return 'active'
}

export function toApiKeyRecord (row: ApiKeyRow, now = nowIso()): ApiKeyRecord {
  return {
    id: row.id,
    account_id: row.account_id,
    name: row.name,
    prefix: row.key_prefix,
    ...grantFields(storedGrant(row.full_access, row.scopes)),
    status: keyStatus(row, now),
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    last_used_at: row.last_used_at,
    rate_limit: row.rate_limit ?? DEFAULT_RATE_LIMIT,
    created_at: row.created_at
  }
}

function grantFields (grant: KeyGrant): { scopes: Scope[], full_access: boolean } {
  return { scopes: [...grant.scopes], full_access: grant.fullAccess }
}

export interface CreateKeyInput {
  accountId: number
  name: string
  /** the key's scopes; an empty list issues a full-access key (stored as such) */
  scopes: Scope[]
  expiresAt: string | null
  rateLimit: number | null
}

/** Creates a key and returns it in full: the only moment the key exists outside its holder. */
export async function createApiKey (engine: Engine, input: CreateKeyInput): Promise<{ key: string, record: ApiKeyRecord }> {
  return await engine.write(async (trx) => await createApiKeyIn(trx, input))
}

/** The create, inside a transaction the caller owns (the demo seeds a whole account in one). */
export async function createApiKeyIn (trx: Kysely<Database>, input: CreateKeyInput): Promise<{ key: string, record: ApiKeyRecord }> {
  const name = input.name.trim()
  if (name === '') throw new Error('key name must not be empty')
  const now = nowIso()
  if (input.expiresAt !== null && input.expiresAt <= now) throw new Error(`expiry ${input.expiresAt} is not in the future`)
  if (input.rateLimit !== null && (!Number.isInteger(input.rateLimit) || input.rateLimit < 1 || input.rateLimit > 1_000_000)) {
    throw new Error('rate limit must be a whole number of requests per minute from 1 to 1000000')
  }
  if (await trx.selectFrom('accounts').select('id').where('id', '=', input.accountId).executeTakeFirst() === undefined) {
    throw new Error(`no account with id ${input.accountId}`)
  }
  const key = generateApiKey()
  const row = await trx.insertInto('api_keys').values({
    account_id: input.accountId,
    name,
    key_hash: hashApiKey(key),
    key_prefix: displayPrefix(key),
    scopes: JSON.stringify(input.scopes),
    full_access: input.scopes.length === 0,
    expires_at: input.expiresAt,
    revoked_at: null,
    last_used_at: null,
    rate_limit: input.rateLimit,
    created_at: now,
    updated_at: now
  }).returningAll().executeTakeFirstOrThrow()
  return { key, record: toApiKeyRecord(row, now) }
}

export async function listApiKeys (engine: Engine, accountId?: number): Promise<ApiKeyRecord[]> {
  let query = engine.db.selectFrom('api_keys').selectAll().orderBy('id')
  if (accountId !== undefined) query = query.where('account_id', '=', accountId)
  const now = nowIso()
  return (await query.execute()).map((row) => toApiKeyRecord(row, now))
}

/** Revokes a key; returns it, or undefined if there is no such key. Revoking twice keeps the first time. */
export async function revokeApiKey (engine: Engine, id: number): Promise<ApiKeyRecord | undefined> {
  const now = nowIso()
  const row = await engine.write(async (trx) => {
    await trx.updateTable('api_keys').set({ revoked_at: now, updated_at: now })
      .where('id', '=', id).where('revoked_at', 'is', null).execute()
    return await trx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst()
  })
  return row === undefined ? undefined : toApiKeyRecord(row, now)
}

/** The row the authentication hook needs, read fresh on every request so a revocation by
 *  another process (the CLI) takes effect on the very next request. */
export interface KeyAuthRow {
  id: number
  account_id: number
  scopes: string
  full_access: boolean
  expires_at: string | null
  revoked_at: string | null
  last_used_at: string | null
  rate_limit: number | null
  api_enabled: boolean
}

/** A looked-up key as the request path uses it: the row, with its times parsed once. */
export interface AuthKey extends KeyAuthRow {
  /** expires_at in epoch ms; Infinity for a key that never expires */
  expiresAtMs: number
  /** last_used_at in epoch ms; -Infinity before first use */
  lastUsedAtMs: number
}

/** Bounded so a flood of distinct valid keys cannot grow memory; unknown keys are never cached. */
const AUTH_CACHE_LIMIT = 10_000

/**
 * The key lookup on every request. Rows are cached by key hash, and the cache is dropped whenever
 * the database may have changed under it (the engine's `changes`: any commit by any connection, the
 * operator CLI and this server's own writer included). So a revocation, an expiry change or API
 * access switched off still takes effect on the very next request, from any process. Expiry
 * itself is compared with the clock on every request.
 */
export class ApiKeyStore {
  readonly #byHash: CompiledQuery<KeyAuthRow, 'keyHash'>
  readonly #touch: CompiledQuery<unknown, 'now' | 'id'>
  /** none when the engine cannot tell cheaply that nothing changed: then every lookup loads */
  readonly #changes: Engine['changes']
  readonly #grants = new Map<string, KeyGrant>()
  readonly #rows = new Map<string, AuthKey>()
  #seenVersion = -1

  constructor (private readonly engine: Engine) {
    const { db } = engine
    this.#changes = engine.changes
    this.#byHash = engine.compile((param) => db.selectFrom('api_keys')
      .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
      .select(['api_keys.id', 'api_keys.account_id', 'api_keys.scopes', 'api_keys.full_access', 'api_keys.expires_at',
        'api_keys.revoked_at', 'api_keys.last_used_at', 'api_keys.rate_limit', 'accounts.api_enabled'])
      .where('api_keys.key_hash', '=', param('keyHash')))
    this.#touch = engine.compile((param) => db.updateTable('api_keys').set({ last_used_at: param('now') }).where('id', '=', param('id')))
  }

  /**
   * @param version the engine's change version (`engine.changes`), read by the caller for this
   *   request: the cache is dropped when it has moved since the last lookup
   */
  async findByKey (key: string, version: number | undefined): Promise<AuthKey | undefined> {
    const keyHash = hashApiKey(key)
    const caching = this.#changes !== undefined && version !== undefined
    if (caching) {
      if (version > this.#seenVersion) {
        this.#rows.clear()
        this.#seenVersion = version
      }
      const cached = this.#rows.get(keyHash)
      if (cached !== undefined) return cached
    }
    const row = await this.#byHash.readFirst({ keyHash })
    if (row === undefined) return undefined
    const found: AuthKey = {
      ...row,
      expiresAtMs: row.expires_at === null ? Infinity : Date.parse(row.expires_at),
      lastUsedAtMs: row.last_used_at === null ? -Infinity : Date.parse(row.last_used_at)
    }
    if (caching) {
      if (this.#rows.size >= AUTH_CACHE_LIMIT) this.#rows.clear()
      this.#rows.set(keyHash, found)
    }
    return found
  }

  /** Grants are a handful of distinct stored values: parse each once. */
  grantOf (row: KeyAuthRow): KeyGrant {
    const stored = row.full_access ? 'full' : row.scopes
    let grant = this.#grants.get(stored)
    if (grant === undefined) {
      grant = storedGrant(row.full_access, row.scopes)
      if (this.#grants.size > 1000) this.#grants.clear()
      this.#grants.set(stored, grant)
    }
    return grant
  }

  /**
   * Records use at most once per LAST_USED_RESOLUTION_MS per key, not a write per request: returns
   * undefined when there is nothing to write, so the request path awaits nothing then.
   */
  touch (key: AuthKey, nowMs: number): Promise<void> | undefined {
    if (nowMs - key.lastUsedAtMs < LAST_USED_RESOLUTION_MS) return undefined
    const now = new Date(nowMs).toISOString().slice(0, 19) + 'Z'
    // concurrent requests of the same key share the cached row: mark it first so only one writes
    key.last_used_at = now
    key.lastUsedAtMs = nowMs
    const id = key.id
    return this.engine.write(async (trx) => { await this.#touch.run(trx, { now, id }) })
  }
}
