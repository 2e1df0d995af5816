import { hash } from 'node:crypto'
import type pg from 'pg'

/** The API's key lookup, as both hand-written references send it: the key by its hash, joined to its account. */
const KEY_BY_HASH = `select api_keys.id, api_keys.account_id, api_keys.scopes, api_keys.full_access, api_keys.expires_at,
  api_keys.revoked_at, api_keys.last_used_at, api_keys.rate_limit, accounts.api_enabled
  from api_keys inner join accounts on accounts.id = api_keys.account_id where api_keys.key_hash = $1`

interface KeyRow { account_id: number, expires_at: Date | null, revoked_at: Date | null, api_enabled: boolean }

/**
 * The account a request's `Authorization: Bearer <key>` header stands for, read from the database
 * on every request as the API does (a named statement, prepared once per connection); undefined
 * when the key is unknown, revoked, expired or its account's API access is off.
 */
export async function keyOwner (pool: pg.Pool, authorization: string | undefined): Promise<number | undefined> {
  const header = authorization ?? ''
  const key = header.slice(0, 7).toLowerCase() === 'bearer ' ? header.slice(7) : ''
  const owner = (await pool.query<KeyRow>({ name: 'key_by_hash', text: KEY_BY_HASH, values: [hash('sha256', key, 'hex')] })).rows[0]
  if (owner === undefined || owner.revoked_at !== null || !owner.api_enabled ||
    (owner.expires_at !== null && owner.expires_at.getTime() <= Date.now())) return undefined
  return owner.account_id
}
