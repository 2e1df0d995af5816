import type { Kysely } from 'kysely'
import type { Database, IdempotencyKeyRow } from './types.js'
import { compileOnce, writeTransaction, type Compiled } from './write-transaction.js'
import { toIsoSeconds } from '../domain/time.js'

/** how long a stored response is replayed */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000
/**
 * A 'pending' row older than this belongs to a request that never finished (the process died
 * mid-request): the next request with the key takes it over instead of waiting 24 hours.
 */
export const PENDING_TAKEOVER_MS = 60_000

export type Claim =
  | { kind: 'claimed', id: number }
  | { kind: 'replay', status: number, body: string }
  | { kind: 'mismatch' }
  | { kind: 'in_progress' }

/** Stored responses behind the Idempotency-Key header, one row per (API key, Idempotency-Key). */
export class IdempotencyStore {
  readonly #find: Compiled<IdempotencyKeyRow>

  constructor (private readonly db: Kysely<Database>) {
    this.#find = compileOnce(db.selectFrom('idempotency_keys').selectAll().where('api_key_id', '=', 0).where('idempotency_key', '=', ''))
  }

  /**
   * Claims the key for this request, or says what to answer instead: the stored response (same
   * fingerprint), a mismatch (another body), or in-progress (the first request is still running).
   */
  async claim (apiKeyId: number, key: string, fingerprint: string, nowMs = Date.now()): Promise<Claim> {
    return await writeTransaction(this.db, async (trx) => await this.#claim(trx, apiKeyId, key, fingerprint, nowMs))
  }

  async #claim (trx: Kysely<Database>, apiKeyId: number, key: string, fingerprint: string, nowMs: number): Promise<Claim> {
    const now = toIsoSeconds(new Date(nowMs))
    const expires = toIsoSeconds(new Date(nowMs + IDEMPOTENCY_TTL_MS))
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await trx.insertInto('idempotency_keys')
        .values({ api_key_id: apiKeyId, idempotency_key: key, fingerprint, state: 'pending', response_status: null, response_body: null, created_at: now, expires_at: expires })
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .executeTakeFirst()
      if (inserted !== undefined) return { kind: 'claimed', id: inserted.id }
      const row = await this.#find.first(trx, apiKeyId, key)
      if (row === undefined) continue // purged in between: try again
      const stale = row.expires_at <= now ||
        (row.state === 'pending' && Date.parse(row.created_at) < nowMs - PENDING_TAKEOVER_MS)
      if (stale) {
        await trx.deleteFrom('idempotency_keys').where('id', '=', row.id).where('created_at', '=', row.created_at).execute()
        continue
      }
      if (row.fingerprint !== fingerprint) return { kind: 'mismatch' }
      if (row.state === 'pending') return { kind: 'in_progress' }
      return { kind: 'replay', status: row.response_status!, body: row.response_body! }
    }
    return { kind: 'in_progress' }
  }

  async complete (id: number, status: number, body: string): Promise<void> {
    await writeTransaction(this.db, async (trx) => {
      await trx.updateTable('idempotency_keys')
        .set({ state: 'completed', response_status: status, response_body: body })
        .where('id', '=', id).execute()
    })
  }

  /** Lets the key be used again: the request changed nothing worth replaying. */
  async release (id: number): Promise<void> {
    await writeTransaction(this.db, async (trx) => {
      await trx.deleteFrom('idempotency_keys').where('id', '=', id).where('state', '=', 'pending').execute()
    })
  }

  async purgeExpired (nowMs = Date.now()): Promise<number> {
    const result = await writeTransaction(this.db, async (trx) =>
      await trx.deleteFrom('idempotency_keys').where('expires_at', '<=', toIsoSeconds(new Date(nowMs))).executeTakeFirst())
    return Number(result.numDeletedRows)
  }
}
