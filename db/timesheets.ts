import { sql, type Kysely } from 'kysely'
import { paginate, type Page } from './paging.js'
import { toTimeEntryRecord } from './time-entries.js'
import type { Database } from './types.js'
import { validationError } from '../domain/errors.js'
import { localDateRange } from '../domain/zoned-time.js'
import type { Paging } from '../schemas/common.js'
import type { EntryFilter, OnSiteGroupRecord, TimeEntryRecord } from '../schemas/time.js'
import type { CompiledQuery, Engine } from './engine/engine.js'

export interface TimesheetFilters {
  id?: number
  worker_id?: number
  location_id?: number
  cost_code_id?: number
  start_date?: string
  end_date?: string
  entry_filter: EntryFilter
}

/** Reading time: one entry, the timesheet list, and who is on site now. */
export class TimesheetStore {
  readonly #timezone: CompiledQuery<{ timezone: string }, 'id'>

  constructor (private readonly engine: Engine) {
    this.#timezone = engine.compile((param) => engine.db.selectFrom('accounts').select('timezone').where('id', '=', param('id')))
  }

  async accountTimezone (accountId: number): Promise<string> {
    return (await this.#timezone.readFirst({ id: accountId }))?.timezone ?? 'UTC'
  }

  #listQuery (accountId: number) {
    return this.engine.db.selectFrom('time_entries')
      .innerJoin('workers', 'workers.id', 'time_entries.worker_id')
      .leftJoin('locations', 'locations.id', 'time_entries.location_id')
      .selectAll('time_entries')
      .select(sql<string>`workers.first_name || ' ' || workers.last_name`.as('worker_name'))
      .select('locations.name as location_name')
      .where('time_entries.account_id', '=', accountId)
  }

  async find (accountId: number, id: number): Promise<TimeEntryRecord | undefined> {
    const row = await this.#listQuery(accountId).where('time_entries.id', '=', id).executeTakeFirst()
    return row === undefined ? undefined : toTimeEntryRecord(row)
  }

  /** The timesheet: entries by the clock-in's calendar date in the account's timezone. */
  async list (accountId: number, filters: TimesheetFilters, paging: Paging): Promise<Page<TimeEntryRecord>> {
    let query = this.#listQuery(accountId)
    if (filters.id !== undefined) query = query.where('time_entries.id', '=', filters.id)
    if (filters.worker_id !== undefined) query = query.where('time_entries.worker_id', '=', filters.worker_id)
    if (filters.location_id !== undefined) query = query.where('time_entries.location_id', '=', filters.location_id)
    if (filters.cost_code_id !== undefined) query = query.where('time_entries.cost_code_id', '=', filters.cost_code_id)
    switch (filters.entry_filter) {
      case 'shifts': query = query.where('time_entries.type', '=', 'shift').where('time_entries.status', '=', 'completed'); break
      case 'active': query = query.where('time_entries.status', '=', 'active'); break
      case 'breaks': query = query.where('time_entries.type', '=', 'break'); break
      case 'all': break
    }
    if (filters.start_date !== undefined || filters.end_date !== undefined) {
      if (filters.start_date !== undefined && filters.end_date !== undefined && filters.end_date < filters.start_date) {
        throw validationError('end_date must not be before start_date')
      }
      const range = localDateRange(await this.accountTimezone(accountId), filters.start_date, filters.end_date)
      if (range.from !== undefined) query = query.where('time_entries.clock_in', '>=', range.from)
      if (range.to !== undefined) query = query.where('time_entries.clock_in', '<', range.to)
    }
    const page = await paginate(query, 'time_entries', paging)
    return { rows: page.rows.map(toTimeEntryRecord), pagination: page.pagination }
  }

  /** Who is clocked in now, one group per location (entries without a location form one group). */
  async onSiteNow (accountId: number, locationId?: number): Promise<OnSiteGroupRecord[]> {
    let query = this.engine.db.selectFrom('time_entries')
      .innerJoin('workers', 'workers.id', 'time_entries.worker_id')
      .leftJoin('locations', 'locations.id', 'time_entries.location_id')
      .select([
        'time_entries.id', 'time_entries.worker_id', 'time_entries.location_id', 'time_entries.clock_in',
        'time_entries.within_geofence', 'time_entries.distance_meters', 'time_entries.latitude', 'locations.name as location_name'
      ])
      .select(sql<string>`workers.first_name || ' ' || workers.last_name`.as('name'))
      .where('time_entries.account_id', '=', accountId)
      .where(sql<boolean>`time_entries.status = 'active'`)
      .where('time_entries.type', '=', 'shift')
    if (locationId !== undefined) query = query.where('time_entries.location_id', '=', locationId)
    const rows = await query.orderBy('time_entries.location_id').orderBy('time_entries.clock_in').orderBy('time_entries.id').execute()
    const groups = new Map<number | null, OnSiteGroupRecord>()
    for (const row of rows) {
      let group = groups.get(row.location_id)
      if (group === undefined) {
        group = { location_id: row.location_id, location_name: row.location_name, on_site: 0, within_geofence: 0, outside_geofence: 0, no_gps: 0, workers: [] }
        groups.set(row.location_id, group)
      }
      group.on_site++
      if (row.within_geofence === true) group.within_geofence++
      if (row.within_geofence === false) group.outside_geofence++
      if (row.latitude === null) group.no_gps++
      group.workers.push({
        worker_id: row.worker_id,
        name: row.name,
        entry_id: row.id,
        clock_in: row.clock_in,
        within_geofence: row.within_geofence,
        distance_meters: row.distance_meters
      })
    }
    return [...groups.values()]
  }
}
