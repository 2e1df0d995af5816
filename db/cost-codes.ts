import type { Kysely } from 'kysely'
import { paginate, type Page } from './paging.js'
import { RecordCache } from './record-cache.js'
import { everyColumn, type CostCodeRow, type CostCodesTable, type Database } from './types.js'
import { conflict, notFound } from '../domain/errors.js'
import { nowIso } from '../domain/time.js'
import type { Paging } from '../schemas/common.js'
import type { CostCodeCreateBody, CostCodeRecord, CostCodeUpdateBody } from '../schemas/cost-codes.js'
import type { Engine, WriteOptions } from './engine/engine.js'

export function toCostCodeRecord (row: CostCodeRow): CostCodeRecord {
  const { account_id: _account, ...rest } = row
  return { ...rest, active: row.active }
}

export interface CostCodeFilters {
  active?: boolean
  search?: string
}

const codeTaken = (code: string) =>
  conflict('cost_code_taken', `Cost code ${JSON.stringify(code)} already exists in this account`)

const COST_CODE_COLUMNS = everyColumn<CostCodesTable>()(['id', 'account_id', 'code', 'name', 'active', 'created_at', 'updated_at'])

export class CostCodeStore {
  readonly #one: RecordCache<CostCodeRow, CostCodeRecord>

  constructor (private readonly engine: Engine) {
    this.#one = new RecordCache(engine, (param) => engine.db.selectFrom('cost_codes').select(COST_CODE_COLUMNS).where('id', '=', param('id')).where('account_id', '=', param('accountId')), toCostCodeRecord, 'Cost code')
  }

  /** One record as last committed, from memory while nothing has changed (db/record-cache.ts). */
  async find (accountId: number, id: number, asOf?: number): Promise<CostCodeRecord | undefined> {
    return await this.#one.find(accountId, id, asOf)
  }

  async get (accountId: number, id: number, asOf?: number): Promise<CostCodeRecord> {
    return await this.#one.get(accountId, id, asOf)
  }

  async list (accountId: number, filters: CostCodeFilters, paging: Paging): Promise<Page<CostCodeRecord>> {
    let query = this.engine.db.selectFrom('cost_codes').selectAll().where('account_id', '=', accountId)
    if (filters.active !== undefined) query = query.where('active', '=', filters.active)
    if (filters.search !== undefined) query = query.where(this.engine.sql.matchesSearch('cost_codes', ['code', 'name'], filters.search))
    const page = await paginate(query, 'cost_codes', paging)
    return { rows: page.rows.map(toCostCodeRecord), pagination: page.pagination }
  }

  /** The id of the account's cost code with this code, if any (the friendly 409 pre-check). */
  async codeOwner (db: Kysely<Database>, accountId: number, code: string): Promise<number | undefined> {
    const row = await db.selectFrom('cost_codes').select('id')
      .where('account_id', '=', accountId).where('code', '=', code)
      .executeTakeFirst()
    return row?.id
  }

  async create (accountId: number, body: CostCodeCreateBody, options?: WriteOptions): Promise<CostCodeRecord> {
    return await this.#mapConflicts(body.code, async () =>
      await this.engine.write(async (trx) => await this.createIn(trx, accountId, body), options))
  }

  /** The create, inside a transaction the caller owns. */
  async createIn (trx: Kysely<Database>, accountId: number, body: CostCodeCreateBody): Promise<CostCodeRecord> {
    if (await this.codeOwner(trx, accountId, body.code) !== undefined) throw codeTaken(body.code)
    const now = nowIso()
    const row = await trx.insertInto('cost_codes').values({
      account_id: accountId,
      code: body.code,
      name: body.name,
      active: body.active !== false,
      created_at: now,
      updated_at: now
    }).returningAll().executeTakeFirstOrThrow()
    return toCostCodeRecord(row)
  }

  /** Partial update: only the fields given change. */
  async update (accountId: number, id: number, body: CostCodeUpdateBody): Promise<CostCodeRecord> {
    return await this.#mapConflicts(body.code, async () => await this.engine.write(async (trx) => {
      const current = await trx.selectFrom('cost_codes').select('id')
        .where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst()
      if (current === undefined) throw notFound(`Cost code ${id}`)
      if (body.code !== undefined) {
        const owner = await this.codeOwner(trx, accountId, body.code)
        if (owner !== undefined && owner !== id) throw codeTaken(body.code)
      }
      const { active, ...fields } = body
      const row = await trx.updateTable('cost_codes')
        .set({ ...fields, ...(active === undefined ? {} : { active }), updated_at: nowIso() })
        .where('id', '=', id).where('account_id', '=', accountId)
        .returningAll().executeTakeFirstOrThrow()
      return toCostCodeRecord(row)
    }))
  }

  async #mapConflicts<T> (code: string | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write()
    } catch (err) {
      if (this.engine.sql.isUniqueViolation(err, 'cost_codes.code')) throw codeTaken(code ?? '')
      throw err
    }
  }
}
