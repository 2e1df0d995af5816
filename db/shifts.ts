import { sql, type Kysely } from 'kysely'
import { eventRecorder, type EventRecorder } from './events.js'
import { paginate, type Page } from './paging.js'
import type { Database, ShiftRow } from './types.js'
import { conflict, notFound, validationError } from '../domain/errors.js'
import { nowIso, parseTimestamp } from '../domain/time.js'
import { localDateRange } from '../domain/zoned-time.js'
import type { Paging } from '../schemas/common.js'
import type { ShiftCreateBody, ShiftRecord, ShiftUpdateBody } from '../schemas/shifts.js'
import type { Engine, WriteOptions } from './engine/engine.js'

export const MAX_SHIFT_MS = 24 * 3_600_000

type ShiftWithNames = ShiftRow & { worker_name: string | null, location_name: string }

export function toShiftRecord (row: ShiftWithNames): ShiftRecord {
  const { account_id: _account, ...rest } = row
  return rest
}

export interface ShiftFilters {
  worker_id?: number
  location_id?: number
  department_id?: number
  status?: 'draft' | 'published'
  start_date?: string
  end_date?: string
}

type ShiftFields = Pick<ShiftRow, 'worker_id' | 'location_id' | 'department_id' | 'cost_code_id' | 'start_time' | 'end_time' | 'break_minutes' | 'status' | 'notes'>

/** Scheduled shifts: validation, same-account references, and no overlap for one worker. */
export class ShiftStore {
  readonly #recordEvent: EventRecorder

  constructor (private readonly engine: Engine) {
    this.#recordEvent = eventRecorder(engine)
  }

  #select (on: Kysely<Database>, accountId: number) {
    return on.selectFrom('shifts')
      .innerJoin('locations', 'locations.id', 'shifts.location_id')
      .leftJoin('workers', 'workers.id', 'shifts.worker_id')
      .selectAll('shifts')
      .select(sql<string | null>`workers.first_name || ' ' || workers.last_name`.as('worker_name'))
      .select('locations.name as location_name')
      .where('shifts.account_id', '=', accountId)
  }

  async find (accountId: number, id: number, on: Kysely<Database> = this.engine.db): Promise<ShiftRecord | undefined> {
    const row = await this.#select(on, accountId).where('shifts.id', '=', id).executeTakeFirst()
    return row === undefined ? undefined : toShiftRecord(row)
  }

  async get (accountId: number, id: number): Promise<ShiftRecord> {
    const found = await this.find(accountId, id)
    if (found === undefined) throw notFound(`Shift ${id}`)
    return found
  }

  async list (accountId: number, filters: ShiftFilters, paging: Paging): Promise<Page<ShiftRecord>> {
    let query = this.#select(this.engine.db, accountId)
    if (filters.worker_id !== undefined) query = query.where('shifts.worker_id', '=', filters.worker_id)
    if (filters.location_id !== undefined) query = query.where('shifts.location_id', '=', filters.location_id)
    if (filters.department_id !== undefined) query = query.where('shifts.department_id', '=', filters.department_id)
    if (filters.status !== undefined) query = query.where('shifts.status', '=', filters.status)
    if (filters.start_date !== undefined || filters.end_date !== undefined) {
      if (filters.start_date !== undefined && filters.end_date !== undefined && filters.end_date < filters.start_date) {
        throw validationError('end_date must not be before start_date')
      }
      const tz = (await this.engine.db.selectFrom('accounts').select('timezone').where('id', '=', accountId).executeTakeFirst())?.timezone ?? 'UTC'
      const range = localDateRange(tz, filters.start_date, filters.end_date)
      if (range.from !== undefined) query = query.where('shifts.start_time', '>=', range.from)
      if (range.to !== undefined) query = query.where('shifts.start_time', '<', range.to)
    }
    const page = await paginate(query, 'shifts', paging)
    return { rows: page.rows.map(toShiftRecord), pagination: page.pagination }
  }

  async #check (trx: Kysely<Database>, accountId: number, shift: ShiftFields, selfId: number | null): Promise<void> {
    const durationMs = Date.parse(shift.end_time) - Date.parse(shift.start_time)
    if (durationMs <= 0) throw validationError('end_time must be after start_time')
    if (durationMs > MAX_SHIFT_MS) throw validationError('A shift may last at most 24 hours')
    if (shift.break_minutes * 60_000 >= durationMs) throw validationError('break_minutes must be shorter than the shift')
    const owned = async (table: 'locations' | 'workers' | 'departments' | 'cost_codes', id: number | null, what: string): Promise<void> => {
      if (id === null) return
      const row = await trx.selectFrom(table).select('id').where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst()
      if (row === undefined) throw notFound(`${what} ${id}`)
    }
    await owned('locations', shift.location_id, 'Location')
    await owned('workers', shift.worker_id, 'Worker')
    await owned('departments', shift.department_id, 'Department')
    await owned('cost_codes', shift.cost_code_id, 'Cost code')
    if (shift.worker_id !== null) {
      let overlap = trx.selectFrom('shifts').select(['id', 'start_time', 'end_time'])
        .where('account_id', '=', accountId).where('worker_id', '=', shift.worker_id)
        .where('start_time', '<', shift.end_time).where('end_time', '>', shift.start_time)
      if (selfId !== null) overlap = overlap.where('id', '!=', selfId)
      const clash = await overlap.orderBy('start_time').executeTakeFirst()
      if (clash !== undefined) {
        throw conflict('shift_overlap', `Worker ${shift.worker_id} already has shift ${clash.id} (${clash.start_time} to ${clash.end_time}) overlapping this one`)
      }
    }
  }

  async create (accountId: number, body: ShiftCreateBody, options?: WriteOptions): Promise<ShiftRecord> {
    const fields: ShiftFields = {
      worker_id: body.worker_id ?? null,
      location_id: body.location_id,
      department_id: body.department_id ?? null,
      cost_code_id: body.cost_code_id ?? null,
      start_time: parseTimestamp(body.start_time)!,
      end_time: parseTimestamp(body.end_time)!,
      break_minutes: body.break_minutes ?? 0,
      status: body.status ?? 'draft',
      notes: body.notes ?? null
    }
    return await this.engine.write(async (trx) => {
      await this.#check(trx, accountId, fields, null)
      const now = nowIso()
      const { id } = await trx.insertInto('shifts').values({ ...fields, account_id: accountId, created_at: now, updated_at: now })
        .returning('id').executeTakeFirstOrThrow()
      const shift = (await this.find(accountId, id, trx))!
      await this.#recordEvent(trx, accountId, 'shift_created', shift)
      return shift
    }, options)
  }

  /** Partial update, checked against the same rules as a new shift (excluding itself from overlap). */
  async update (accountId: number, id: number, body: ShiftUpdateBody): Promise<ShiftRecord> {
    return await this.engine.write(async (trx) => {
      const current = await trx.selectFrom('shifts').selectAll().where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst()
      if (current === undefined) throw notFound(`Shift ${id}`)
      const changes: Partial<ShiftFields> = { ...body } as Partial<ShiftFields>
      if (body.start_time !== undefined) changes.start_time = parseTimestamp(body.start_time)!
      if (body.end_time !== undefined) changes.end_time = parseTimestamp(body.end_time)!
      await this.#check(trx, accountId, { ...current, ...changes }, id)
      await trx.updateTable('shifts').set({ ...changes, updated_at: nowIso() }).where('id', '=', id).where('account_id', '=', accountId).execute()
      return (await this.find(accountId, id, trx))!
    })
  }

  /** Deletes a shift and returns it as it was. */
  async delete (accountId: number, id: number): Promise<ShiftRecord> {
    return await this.engine.write(async (trx) => {
      const shift = await this.find(accountId, id, trx)
      if (shift === undefined) throw notFound(`Shift ${id}`)
      await trx.deleteFrom('shifts').where('id', '=', id).where('account_id', '=', accountId).execute()
      return shift
    })
  }
}
