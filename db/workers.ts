import { sql, type Kysely } from 'kysely'
import { eventRecorder, type EventRecorder } from './events.js'
import { requireOwned } from './integrity.js'
import { paginate, type Page } from './paging.js'
import { RecordCache } from './record-cache.js'
import type { Database, WorkerRow } from './types.js'
import { conflict, notFound } from '../domain/errors.js'
import { nowIso } from '../domain/time.js'
import type { Paging } from '../schemas/common.js'
import type { WorkerCreateBody, WorkerRecord, WorkerUpdateBody } from '../schemas/workers.js'
import type { Engine, WriteOptions } from './engine/engine.js'

/** A worker row with its location's and department's names joined in. */
export type WorkerJoinedRow = Omit<WorkerRow, 'account_id'> & { location_name: string | null, department: string | null }

export function toWorkerRecord (row: WorkerJoinedRow): WorkerRecord {
  return { ...row, active: row.active } as WorkerRecord
}

export interface WorkerFilters {
  location_id?: number
  department_id?: number
  active?: boolean
  search?: string
}

const WORKER_COLUMNS = [
  'workers.id', 'workers.first_name', 'workers.last_name', 'workers.employee_ref', 'workers.email',
  'workers.phone', 'workers.location_id', 'workers.department_id', 'workers.preferred_language',
  'workers.active', 'workers.created_at', 'workers.updated_at'
] as const

/**
 * The worker record query. The location's and department's names are scalar subqueries on their
 * primary keys rather than joins, so the `count(*)` that paginate() runs (after clearSelect())
 * touches the workers index alone, and a page costs two primary-key lookups per row. A reference
 * always points into the same account (enforced on write), so the lookups need no account filter.
 */
function selectWorkers (db: Kysely<Database>) {
  return db.selectFrom('workers')
    .select((eb) => [
      ...WORKER_COLUMNS,
      eb.selectFrom('locations').select('locations.name').whereRef('locations.id', '=', 'workers.location_id').as('location_name'),
      eb.selectFrom('departments').select('departments.name').whereRef('departments.id', '=', 'workers.department_id').as('department')
    ])
}

const employeeRefTaken = (ref: string) =>
  conflict('employee_ref_taken', `employee_ref ${JSON.stringify(ref)} is already used by another worker in this account`)

export class WorkerStore {
  readonly #one: RecordCache<WorkerJoinedRow, WorkerRecord>
  readonly #recordEvent: EventRecorder

  constructor (private readonly engine: Engine) {
    this.#recordEvent = eventRecorder(engine)
    this.#one = new RecordCache(engine, (param) => selectWorkers(engine.db).where('workers.id', '=', param('id')).where('workers.account_id', '=', param('accountId')), toWorkerRecord, 'Worker')
  }

  /** One record as last committed, from memory while nothing has changed (db/record-cache.ts). */
  async find (accountId: number, id: number, asOf?: number): Promise<WorkerRecord | undefined> {
    return await this.#one.find(accountId, id, asOf)
  }

  async get (accountId: number, id: number, asOf?: number): Promise<WorkerRecord> {
    return await this.#one.get(accountId, id, asOf)
  }

  async list (accountId: number, filters: WorkerFilters, paging: Paging): Promise<Page<WorkerRecord>> {
    let query = selectWorkers(this.engine.db).where('workers.account_id', '=', accountId)
    if (filters.location_id !== undefined) query = query.where('workers.location_id', '=', filters.location_id)
    if (filters.department_id !== undefined) query = query.where('workers.department_id', '=', filters.department_id)
    if (filters.active !== undefined) {
      // Most workers are active, so with a location or department filter that index is far more
      // selective. SQLite has no statistics here (no ANALYZE) and would pick workers_account_active
      // (measured: 90,000 index rows instead of 5,000 at 100k workers); comparing an expression
      // rather than the column stops it. `and true` is that expression in SQL both engines read
      // alike (PostgreSQL folds it away and plans from its statistics).
      const narrowed = filters.location_id !== undefined || filters.department_id !== undefined
      query = query.where(narrowed ? sql<boolean>`(workers.active and true)` : sql.ref('workers.active'), '=', filters.active)
    }
    if (filters.search !== undefined) query = query.where(this.engine.sql.matchesSearch('workers', ['first_name', 'last_name', 'employee_ref'], filters.search))
    const page = await paginate(query, 'workers', paging)
    return { rows: page.rows.map(toWorkerRecord), pagination: page.pagination }
  }

  /** The id of the account's worker with this employee_ref, if any (the friendly 409 pre-check). */
  async employeeRefOwner (db: Kysely<Database>, accountId: number, ref: string): Promise<number | undefined> {
    const row = await db.selectFrom('workers').select('id')
      .where('account_id', '=', accountId).where('employee_ref', '=', ref)
      .executeTakeFirst()
    return row?.id
  }

  /** Checks what a worker points at and its employee_ref; `selfId` is the worker being updated. */
  async #checkIntegrity (db: Kysely<Database>, accountId: number, fields: WorkerUpdateBody, selfId?: number): Promise<void> {
    if (fields.location_id != null) await requireOwned(db, 'locations', accountId, fields.location_id)
    if (fields.department_id != null) await requireOwned(db, 'departments', accountId, fields.department_id)
    if (fields.employee_ref != null) {
      const owner = await this.employeeRefOwner(db, accountId, fields.employee_ref)
      if (owner !== undefined && owner !== selfId) throw employeeRefTaken(fields.employee_ref)
    }
  }

  async #readIn (db: Kysely<Database>, accountId: number, id: number): Promise<WorkerRecord | undefined> {
    const row = await selectWorkers(db).where('workers.id', '=', id).where('workers.account_id', '=', accountId).executeTakeFirst()
    return row === undefined ? undefined : toWorkerRecord(row)
  }

  /** Creates a worker and its `worker_created` event in one transaction. */
  async create (accountId: number, body: WorkerCreateBody, options?: WriteOptions): Promise<WorkerRecord> {
    return await this.#mapConflicts(body.employee_ref, async () =>
      await this.engine.write(async (trx) => await this.createIn(trx, accountId, body), options))
  }

  /**
   * The create, inside a transaction the caller owns (the demo seeds a whole account in one).
   * A unique-constraint race surfaces as the SQLite error; create() maps it to 409.
   */
  async createIn (trx: Kysely<Database>, accountId: number, body: WorkerCreateBody): Promise<WorkerRecord> {
    await this.#checkIntegrity(trx, accountId, body)
    const now = nowIso()
    const { id } = await trx.insertInto('workers').values({
      account_id: accountId,
      first_name: body.first_name,
      last_name: body.last_name,
      employee_ref: body.employee_ref ?? null,
      email: body.email ?? null,
      phone: body.phone ?? null,
      location_id: body.location_id ?? null,
      department_id: body.department_id ?? null,
      preferred_language: body.preferred_language ?? 'en',
      active: body.active !== false,
      created_at: now,
      updated_at: now
    }).returning('id').executeTakeFirstOrThrow()
    const record = (await this.#readIn(trx, accountId, id))!
    await this.#recordEvent(trx, accountId, 'worker_created', record)
    return record
  }

  /** Partial update: only the fields given change; writes `worker_updated` in the same transaction. */
  async update (accountId: number, id: number, body: WorkerUpdateBody): Promise<WorkerRecord> {
    return await this.#mapConflicts(body.employee_ref, async () => await this.engine.write(async (trx) => {
      const current = await trx.selectFrom('workers').select('id')
        .where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst()
      if (current === undefined) throw notFound(`Worker ${id}`)
      await this.#checkIntegrity(trx, accountId, body, id)
      const { active, ...fields } = body
      await trx.updateTable('workers')
        .set({ ...fields, ...(active === undefined ? {} : { active }), updated_at: nowIso() })
        .where('id', '=', id).where('account_id', '=', accountId)
        .execute()
      const record = (await this.#readIn(trx, accountId, id))!
      await this.#recordEvent(trx, accountId, 'worker_updated', record)
      return record
    }))
  }

  async #mapConflicts<T> (ref: string | null | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write()
    } catch (err) {
      if (this.engine.sql.isUniqueViolation(err, 'workers.employee_ref')) throw employeeRefTaken(ref ?? '')
      throw err
    }
  }
}
