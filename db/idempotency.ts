import type { Kysely } from 'kysely'
import { everyColumn, type Database, type IdempotencyKeyRow, type IdempotencyKeysTable } from './types.js'
import type { UnitExtension } from './engine/write-scope.js'
import { toIsoSeconds } from '../domain/time.js'
import type { CompiledQuery, Engine } from './engine/engine.js'

/** how long a stored response is replayed */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000

/** A response as stored and replayed: the status and the exact bytes of the JSON body. */
export interface StoredResponse { status: number, body: string }

/** What a key was first used for: the request's fingerprint and the response it got. */
export interface StoredKey extends StoredResponse { fingerprint: string }

/** The key was used by a request that committed first: the caller replays its response instead. */
export class IdempotencyKeyTaken extends Error {
  constructor (readonly stored: StoredKey) {
    super('Idempotency-Key already used by a committed request')
    this.name = 'IdempotencyKeyTaken'
  }
}

const KEY_COLUMNS = everyColumn<IdempotencyKeysTable>()(['id', 'api_key_id', 'idempotency_key', 'fingerprint', 'state', 'response_status',
  'response_body', 'created_at', 'expires_at'])

/**
 * Stored responses behind the Idempotency-Key header, one row per (API key, Idempotency-Key).
 * A row is only ever written in the same transaction as the request's work (IdempotentWrite,
 * below), so it exists exactly when the work committed: there is no "in progress" row for a
 * crash to leave behind.
 */
export class IdempotencyStore {
  readonly #find: CompiledQuery<IdempotencyKeyRow, 'apiKeyId' | 'key'>

  constructor (private readonly engine: Engine) {
    this.#find = engine.compile((param) => engine.db.selectFrom('idempotency_keys').select(KEY_COLUMNS)
      .where('api_key_id', '=', param('apiKeyId')).where('idempotency_key', '=', param('key')))
  }

  /** The response stored under the key, if any and not expired: the check before any work. */
  async find (apiKeyId: number, key: string, nowMs = Date.now()): Promise<StoredKey | undefined> {
    return replayable(await this.#find.readFirst({ apiKeyId, key }), nowMs)
  }

  /**
   * The same, inside the write unit that would store the key. A row that cannot be replayed is
   * removed so the key can be stored again: an expired one, or a 'pending' one written by an
   * older version (which claimed keys before the work) that never completed.
   */
  async findIn (trx: Kysely<Database>, apiKeyId: number, key: string, nowMs = Date.now()): Promise<StoredKey | undefined> {
    // the same key's requests are serial across processes too (on an engine with several writers)
    await this.engine.sql.lockKey(trx, `idempotency:${apiKeyId}:${key}`)
    const row = await this.#find.runFirst(trx, { apiKeyId, key })
    if (row === undefined) return undefined
    const stored = replayable(row, nowMs)
    if (stored === undefined) await trx.deleteFrom('idempotency_keys').where('id', '=', row.id).execute()
    return stored
  }

  async saveIn (trx: Kysely<Database>, apiKeyId: number, key: string, fingerprint: string, response: StoredResponse, nowMs = Date.now()): Promise<void> {
    await trx.insertInto('idempotency_keys').values({
      api_key_id: apiKeyId,
      idempotency_key: key,
      fingerprint,
      state: 'completed',
      response_status: response.status,
      response_body: response.body,
      created_at: toIsoSeconds(new Date(nowMs)),
      expires_at: toIsoSeconds(new Date(nowMs + IDEMPOTENCY_TTL_MS))
    }).execute()
  }

  async purgeExpired (nowMs = Date.now()): Promise<number> {
    const result = await this.engine.write(async (trx) =>
      await trx.deleteFrom('idempotency_keys').where('expires_at', '<=', toIsoSeconds(new Date(nowMs))).executeTakeFirst())
    return Number(result.numDeletedRows)
  }
}

function replayable (row: IdempotencyKeyRow | undefined, nowMs: number): StoredKey | undefined {
  if (row === undefined || row.state !== 'completed' || row.expires_at <= toIsoSeconds(new Date(nowMs))) return undefined
  return { fingerprint: row.fingerprint, status: row.response_status!, body: row.response_body! }
}

/**
 * One request's Idempotency-Key while its work runs. The one write unit the work starts first
 * checks that the key is still unused (a request with the same key may have committed since the
 * check before the work: then this unit rolls back and throws IdempotencyKeyTaken), runs the work,
 * turns its value into the response (`respond`) and stores it, all in the same transaction. A
 * crash therefore leaves either both the work and its response, or neither.
 */
export class IdempotentWrite implements UnitExtension {
  #state: 'waiting' | 'writing' | 'closed' = 'waiting'
  #pending: StoredResponse | null = null
  /** the stored response, once the unit that stored it has committed */
  response: StoredResponse | null = null

  /**
   * @param respond the response for the unit's value: what the route sends, as bytes. The value
   *   is what the store's write returns, or an ApiError refusal that the unit committed (a refused
   *   clock-in records its event) and the store throws afterwards.
   */
  constructor (
    private readonly store: IdempotencyStore,
    private readonly apiKeyId: number,
    private readonly key: string,
    private readonly fingerprint: string,
    private readonly respond: (value: unknown) => StoredResponse
  ) {}

  extend<T> (fn: (trx: Kysely<Database>) => Promise<T>): (trx: Kysely<Database>) => Promise<T> {
    // options kept past the request's work (a write it left running) no longer extend anything
    if (this.#state === 'closed') return fn
    if (this.#state === 'writing') {
      throw new Error('A request with an Idempotency-Key writes in one unit, which stores its response: make the work one engine.write()')
    }
    this.#state = 'writing'
    return async (trx) => {
      const nowMs = Date.now()
      const stored = await this.store.findIn(trx, this.apiKeyId, this.key, nowMs)
      if (stored !== undefined) throw new IdempotencyKeyTaken(stored)
      const value = await fn(trx)
      const response = this.respond(value)
      await this.store.saveIn(trx, this.apiKeyId, this.key, this.fingerprint, response, nowMs)
      this.#pending = response
      return value
    }
  }

  committed (): void {
    this.response = this.#pending
  }

  /** The request's work is over: later writes are not its own. */
  close (): void {
    this.#state = 'closed'
  }
}
