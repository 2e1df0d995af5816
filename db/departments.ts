import type { Kysely } from 'kysely'
import { requireOwned } from './integrity.js'
import { paginate, type Page } from './paging.js'
import { RecordCache } from './record-cache.js'
import { everyColumn, type Database, type DepartmentRow, type DepartmentsTable } from './types.js'
import { notFound } from '../domain/errors.js'
import { nowIso } from '../domain/time.js'
import type { Paging } from '../schemas/common.js'
import type { DepartmentCreateBody, DepartmentRecord, DepartmentUpdateBody } from '../schemas/departments.js'
import type { Engine, WriteOptions } from './engine/engine.js'


const DEPARTMENT_COLUMNS = everyColumn<DepartmentsTable>()(['id', 'account_id', 'name', 'location_id', 'active', 'created_at', 'updated_at'])

export function toDepartmentRecord (row: DepartmentRow): DepartmentRecord {
  const { account_id: _account, ...rest } = row
  return { ...rest, active: row.active }
}

export interface DepartmentFilters {
  active?: boolean
}

export class DepartmentStore {
  readonly #one: RecordCache<DepartmentRow, DepartmentRecord>

  constructor (private readonly engine: Engine) {
    this.#one = new RecordCache(engine, (param) => engine.db.selectFrom('departments').select(DEPARTMENT_COLUMNS).where('id', '=', param('id')).where('account_id', '=', param('accountId')), toDepartmentRecord, 'Department')
  }

  /** One record as last committed, from memory while nothing has changed (db/record-cache.ts). */
  async find (accountId: number, id: number, asOf?: number): Promise<DepartmentRecord | undefined> {
    return await this.#one.find(accountId, id, asOf)
  }

  async get (accountId: number, id: number, asOf?: number): Promise<DepartmentRecord> {
    return await this.#one.get(accountId, id, asOf)
  }

  async list (accountId: number, filters: DepartmentFilters, paging: Paging): Promise<Page<DepartmentRecord>> {
    let query = this.engine.db.selectFrom('departments').selectAll().where('account_id', '=', accountId)
    if (filters.active !== undefined) query = query.where('active', '=', filters.active)
    const page = await paginate(query, 'departments', paging)
    return { rows: page.rows.map(toDepartmentRecord), pagination: page.pagination }
  }

  async create (accountId: number, body: DepartmentCreateBody, options?: WriteOptions): Promise<DepartmentRecord> {
    return await this.engine.write(async (trx) => await this.createIn(trx, accountId, body), options)
  }

  /** The create, inside a transaction the caller owns. */
  async createIn (trx: Kysely<Database>, accountId: number, body: DepartmentCreateBody): Promise<DepartmentRecord> {
    if (body.location_id != null) await requireOwned(trx, 'locations', accountId, body.location_id)
    const now = nowIso()
    const row = await trx.insertInto('departments').values({
      account_id: accountId,
      name: body.name,
      location_id: body.location_id ?? null,
      active: body.active !== false,
      created_at: now,
      updated_at: now
    }).returningAll().executeTakeFirstOrThrow()
    return toDepartmentRecord(row)
  }

  /** Partial update: only the fields given change. */
  async update (accountId: number, id: number, body: DepartmentUpdateBody): Promise<DepartmentRecord> {
    return await this.engine.write(async (trx) => {
      const current = await trx.selectFrom('departments').select('id')
        .where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst()
      if (current === undefined) throw notFound(`Department ${id}`)
      if (body.location_id != null) await requireOwned(trx, 'locations', accountId, body.location_id)
      const { active, ...fields } = body
      const row = await trx.updateTable('departments')
        .set({ ...fields, ...(active === undefined ? {} : { active }), updated_at: nowIso() })
        .where('id', '=', id).where('account_id', '=', accountId)
        .returningAll().executeTakeFirstOrThrow()
      return toDepartmentRecord(row)
    })
  }
}
