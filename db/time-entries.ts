import { sql, type Kysely } from 'kysely'
import { recordEvent } from './events.js'
import { paginate, type Page } from './paging.js'
import type { Database, LocationRow, TimeEntryRow } from './types.js'
import { isUniqueViolation } from './integrity.js'
import { compileOnce, type Compiled } from './precompiled.js'
import { writeTransaction } from './write-transaction.js'
import { ApiError, conflict, notFound, validationError } from '../domain/errors.js'
import { judgeFix } from '../domain/geofence.js'
import { parseTimestamp, toIsoSeconds } from '../domain/time.js'
import { localDateRange } from '../domain/zoned-time.js'
import type { Paging } from '../schemas/common.js'
import type { ClockBodyType, EntryFilter, OnSiteGroupRecord, TimeEntryRecord } from '../schemas/time.js'

/** how far ahead of the server's clock a timestamp may be (device clocks drift) */
export const MAX_AHEAD_MS = 5 * 60_000
/** how far back a clock event may be entered late */
export const MAX_BACK_MS = 7 * 24 * 3_600_000

type EntryWithNames = TimeEntryRow & { worker_name: string, location_name: string | null }

const bool = (v: number | null): boolean | null => v === null ? null : v === 1

export function toTimeEntryRecord (row: EntryWithNames): TimeEntryRecord {
  return {
    id: row.id,
    type: row.type,
    parent_id: row.parent_id,
    worker_id: row.worker_id,
    worker_name: row.worker_name,
    location_id: row.location_id,
    location_name: row.location_name,
    cost_code_id: row.cost_code_id,
    clock_in: row.clock_in,
    clock_out: row.clock_out,
    duration_seconds: row.duration_seconds,
    break_seconds: row.break_seconds,
    status: row.status,
    source: row.source,
    notes: row.notes,
    latitude: row.latitude,
    longitude: row.longitude,
    gps_accuracy: row.gps_accuracy,
    within_geofence: bool(row.within_geofence),
    distance_meters: row.distance_meters,
    low_gps_confidence: bool(row.low_gps_confidence),
    created_at: row.created_at,
    updated_at: row.updated_at
  }
}

export interface TimesheetFilters {
  id?: number
  worker_id?: number
  location_id?: number
  cost_code_id?: number
  start_date?: string
  end_date?: string
  entry_filter: EntryFilter
}

export interface ClockResult {
  status: 200 | 201
  entry: TimeEntryRecord
}

interface WorkerFacts { id: number, first_name: string, last_name: string, location_id: number | null, active: number }

const INSERT_COLUMNS = [
  'account_id', 'type', 'parent_id', 'worker_id', 'location_id', 'cost_code_id', 'clock_in', 'status', 'notes',
  'latitude', 'longitude', 'gps_accuracy', 'within_geofence', 'distance_meters', 'low_gps_confidence', 'created_at', 'updated_at'
] as const
type InsertValues = Record<typeof INSERT_COLUMNS[number], unknown>

const seconds = (fromIso: string, toIso: string): number => Math.round((Date.parse(toIso) - Date.parse(fromIso)) / 1000)

/**
 * Clock events and timesheets: every rule of docs/api.md "Time rules" for `clock.php`, in one write
 * transaction per event (BEGIN IMMEDIATE, so two processes serialise rather than fail), with the
 * webhook event written in the same transaction. The partial unique index
 * `time_entries_one_open` is the last word on "one open entry per worker".
 */
export class TimeEntryStore {
  readonly #worker: Compiled<WorkerFacts>
  readonly #location: Compiled<LocationRow>
  readonly #costCode: Compiled<{ id: number }>
  readonly #latestShift: Compiled<TimeEntryRow>
  readonly #openEntry: Compiled<TimeEntryRow>
  readonly #openBreakOf: Compiled<TimeEntryRow>
  readonly #latestBreak: Compiled<TimeEntryRow>
  readonly #insert: Compiled<TimeEntryRow>
  readonly #close: Compiled<TimeEntryRow>
  readonly #addBreak: Compiled<{ id: number }>
  readonly #timezone: Compiled<{ timezone: string }>

  constructor (private readonly db: Kysely<Database>) {
    this.#worker = compileOnce(db.selectFrom('workers').select(['id', 'first_name', 'last_name', 'location_id', 'active'])
      .where('id', '=', 0).where('account_id', '=', 0))
    this.#location = compileOnce(db.selectFrom('locations').selectAll().where('id', '=', 0).where('account_id', '=', 0))
    this.#costCode = compileOnce(db.selectFrom('cost_codes').select('id').where('id', '=', 0).where('account_id', '=', 0))
    // Entries of a worker never overlap, so the latest clock-in is also the latest clock-out.
    this.#latestShift = compileOnce(db.selectFrom('time_entries').selectAll()
      .where('account_id', '=', 0).where('worker_id', '=', 0).where(sql<boolean>`type = 'shift'`)
      .orderBy('clock_in', 'desc').limit(sql<number>`1`))
    // the literal status keeps the partial index usable
    this.#openEntry = compileOnce(db.selectFrom('time_entries').selectAll()
      .where('worker_id', '=', 0).where(sql<boolean>`type = 'shift'`).where(sql<boolean>`status = 'active'`))
    this.#openBreakOf = compileOnce(db.selectFrom('time_entries').selectAll()
      .where('worker_id', '=', 0).where(sql<boolean>`type = 'break'`).where(sql<boolean>`status = 'active'`))
    this.#latestBreak = compileOnce(db.selectFrom('time_entries').selectAll()
      .where('parent_id', '=', 0).orderBy('clock_in', 'desc').limit(sql<number>`1`))
    const template = Object.fromEntries(INSERT_COLUMNS.map((c) => [c, null])) as Record<string, null>
    this.#insert = compileOnce(db.insertInto('time_entries').values(template as never).returningAll())
    this.#close = compileOnce(db.updateTable('time_entries')
      .set({ clock_out: '', duration_seconds: 0, status: sql<'completed'>`'completed'`, notes: sql<string | null>`coalesce(${null}, notes)`, cost_code_id: sql<number | null>`coalesce(${null}, cost_code_id)`, updated_at: '' })
      .where('id', '=', 0).returningAll())
    this.#addBreak = compileOnce(db.updateTable('time_entries')
      .set({ break_seconds: sql<number>`break_seconds + ${0}`, updated_at: '' }).where('id', '=', 0).returning('id'))
    this.#timezone = compileOnce(db.selectFrom('accounts').select('timezone').where('id', '=', 0))
  }

  async accountTimezone (accountId: number): Promise<string> {
    return (await this.#timezone.first(this.db, accountId))?.timezone ?? 'UTC'
  }

  /** One clock event. Throws ApiError for every refusal; `nowMs` is the server's clock. */
  async clock (accountId: number, body: ClockBodyType, nowMs = Date.now()): Promise<ClockResult> {
    const timestamp = checkTimestamp(body.timestamp, nowMs)
    if ((body.latitude ?? null) === null !== ((body.longitude ?? null) === null)) {
      throw validationError('latitude and longitude must be given together')
    }
    let outcome: ClockResult | ApiError
    try {
      outcome = await writeTransaction(this.db, async (trx) => {
        const worker = await this.#worker.first(trx, body.worker_id, accountId)
        if (worker === undefined) throw notFound(`Worker ${body.worker_id}`)
        const workerName = `${worker.first_name} ${worker.last_name}`
        switch (body.action) {
          case 'in': return await this.#clockIn(trx, accountId, worker, workerName, body, timestamp)
          case 'out': return await this.#clockOut(trx, accountId, worker, workerName, body, timestamp)
          case 'break_start': return await this.#breakStart(trx, accountId, worker, workerName, body, timestamp)
          case 'break_end': return await this.#breakEnd(trx, worker, workerName, timestamp)
        }
      })
    } catch (err) {
      // Only reachable if another writer slipped past the check: the index decides, the caller
      // gets the same answer as if the check had seen it.
      if (isUniqueViolation(err)) {
        const open = await this.#openEntry.first(this.db, body.worker_id)
        throw conflict(body.action === 'in' ? 'already_clocked_in' : 'already_on_break',
          body.action === 'in' ? `Worker ${body.worker_id} is already clocked in (open entry ${open?.id ?? 'unknown'})` : `Worker ${body.worker_id} is already on a break`)
      }
      throw err
    }
    // a refusal that recorded its event: committed, now answered
    if (outcome instanceof ApiError) throw outcome
    return outcome
  }

  async #clockIn (trx: Kysely<Database>, accountId: number, worker: WorkerFacts, workerName: string, body: ClockBodyType, timestamp: string): Promise<ClockResult | ApiError> {
    if (worker.active !== 1) throw conflict('worker_inactive', `Worker ${worker.id} is inactive and cannot clock in`)
    const locationId = body.location_id === undefined ? worker.location_id : body.location_id
    let location: LocationRow | undefined
    if (locationId !== null) {
      location = await this.#location.first(trx, locationId, accountId)
      if (location === undefined) throw notFound(`Location ${locationId}`)
    }
    const costCodeId = body.cost_code_id ?? null
    if (costCodeId !== null && await this.#costCode.first(trx, costCodeId, accountId) === undefined) throw notFound(`Cost code ${costCodeId}`)

    const latest = await this.#latestShift.first(trx, accountId, worker.id)
    if (latest?.status === 'active') throw conflict('already_clocked_in', `Worker ${worker.id} is already clocked in (open entry ${latest.id})`)
    if (latest?.clock_out != null && timestamp < latest.clock_out) {
      throw conflict('entry_overlap', `timestamp ${timestamp} is before the end of worker ${worker.id}'s previous entry ${latest.id} (${latest.clock_out})`)
    }

    const fix = { latitude: body.latitude ?? null, longitude: body.longitude ?? null, gps_accuracy: body.gps_accuracy ?? null }
    const verdict = judgeFix(location ?? null, fix)
    if (verdict.refused !== null) {
      await recordEvent(trx, accountId, 'clock.geofence_refused', {
        worker_id: worker.id,
        worker_name: workerName,
        location_id: location!.id,
        location_name: location!.name,
        reason: verdict.refused,
        geofence_mode: location!.geofence_mode,
        geofence_radius_m: location!.geofence_radius_m,
        timestamp,
        ...fix,
        distance_meters: verdict.distance_meters,
        low_gps_confidence: verdict.low_gps_confidence
      })
      return new ApiError(403, 'geofence_refused', verdict.refused === 'outside_geofence'
        ? `Clock-in refused: ${verdict.distance_meters} m from ${location!.name}, outside its ${location!.geofence_radius_m} m geofence`
        : `Clock-in refused: ${location!.name} requires a usable GPS fix (latitude, longitude and an accuracy within ${location!.gps_accuracy_threshold ?? 'its threshold'} m)`)
    }

    const now = toIsoSeconds(new Date())
    const values: InsertValues = {
      account_id: accountId,
      type: 'shift',
      parent_id: null,
      worker_id: worker.id,
      location_id: location?.id ?? null,
      cost_code_id: costCodeId,
      clock_in: timestamp,
      status: 'active',
      notes: body.notes ?? null,
      latitude: fix.latitude,
      longitude: fix.longitude,
      gps_accuracy: fix.gps_accuracy,
      within_geofence: verdict.within_geofence === null ? null : verdict.within_geofence ? 1 : 0,
      distance_meters: verdict.distance_meters,
      low_gps_confidence: verdict.low_gps_confidence === null ? null : verdict.low_gps_confidence ? 1 : 0,
      created_at: now,
      updated_at: now
    }
    const row = (await this.#insert.first(trx, ...INSERT_COLUMNS.map((c) => values[c])))!
    const entry = toTimeEntryRecord({ ...row, worker_name: workerName, location_name: location?.name ?? null })
    await recordEvent(trx, accountId, 'clock_in', entry)
    if (verdict.breach) await recordEvent(trx, accountId, 'clock.geofence_breach', entry)
    if (verdict.lowConfidence) await recordEvent(trx, accountId, 'clock.low_gps_confidence', entry)
    return { status: 201, entry }
  }

  async #clockOut (trx: Kysely<Database>, accountId: number, worker: WorkerFacts, workerName: string, body: ClockBodyType, timestamp: string): Promise<ClockResult> {
    const open = await this.#openEntry.first(trx, worker.id)
    if (open === undefined) throw conflict('not_clocked_in', `Worker ${worker.id} is not clocked in`)
    if (timestamp < open.clock_in) throw validationError(`timestamp ${timestamp} is before the clock-in (${open.clock_in})`)
    const costCodeId = body.cost_code_id ?? null
    if (costCodeId !== null && await this.#costCode.first(trx, costCodeId, accountId) === undefined) throw notFound(`Cost code ${costCodeId}`)
    const now = toIsoSeconds(new Date())
    let breakSeconds = 0
    const openBreak = await this.#openBreak(trx, worker.id)
    if (openBreak !== undefined) {
      if (timestamp < openBreak.clock_in) throw validationError(`timestamp ${timestamp} is before the open break's start (${openBreak.clock_in})`)
      breakSeconds = seconds(openBreak.clock_in, timestamp)
      await this.#close.first(trx, timestamp, breakSeconds, null, null, now, openBreak.id)
      await this.#addBreak.first(trx, breakSeconds, now, open.id)
    }
    const row = (await this.#close.first(trx, timestamp, seconds(open.clock_in, timestamp), body.notes ?? null, costCodeId, now, open.id))!
    const entry = toTimeEntryRecord({ ...row, worker_name: workerName, location_name: await this.#locationName(trx, row.location_id, accountId) })
    await recordEvent(trx, accountId, 'clock_out', entry)
    return { status: 200, entry }
  }

  async #breakStart (trx: Kysely<Database>, accountId: number, worker: WorkerFacts, workerName: string, body: ClockBodyType, timestamp: string): Promise<ClockResult> {
    const open = await this.#openEntry.first(trx, worker.id)
    if (open === undefined) throw conflict('not_clocked_in', `Worker ${worker.id} is not clocked in`)
    if (timestamp < open.clock_in) throw validationError(`timestamp ${timestamp} is before the clock-in (${open.clock_in})`)
    const previous = await this.#latestBreak.first(trx, open.id)
    if (previous?.status === 'active') throw conflict('already_on_break', `Worker ${worker.id} is already on a break (open entry ${previous.id})`)
    if (previous?.clock_out != null && timestamp < previous.clock_out) {
      throw conflict('entry_overlap', `timestamp ${timestamp} is before the end of the previous break ${previous.id} (${previous.clock_out})`)
    }
    const now = toIsoSeconds(new Date())
    const values: InsertValues = {
      account_id: accountId,
      type: 'break',
      parent_id: open.id,
      worker_id: worker.id,
      location_id: open.location_id,
      cost_code_id: open.cost_code_id,
      clock_in: timestamp,
      status: 'active',
      notes: body.notes ?? null,
      latitude: body.latitude ?? null,
      longitude: body.longitude ?? null,
      gps_accuracy: body.gps_accuracy ?? null,
      within_geofence: null,
      distance_meters: null,
      low_gps_confidence: null,
      created_at: now,
      updated_at: now
    }
    const row = (await this.#insert.first(trx, ...INSERT_COLUMNS.map((c) => values[c])))!
    return { status: 201, entry: toTimeEntryRecord({ ...row, worker_name: workerName, location_name: await this.#locationName(trx, row.location_id, accountId) }) }
  }

  async #breakEnd (trx: Kysely<Database>, worker: WorkerFacts, workerName: string, timestamp: string): Promise<ClockResult> {
    const openBreak = await this.#openBreak(trx, worker.id)
    if (openBreak === undefined) throw conflict('not_on_break', `Worker ${worker.id} is not on a break`)
    if (timestamp < openBreak.clock_in) throw validationError(`timestamp ${timestamp} is before the break's start (${openBreak.clock_in})`)
    const now = toIsoSeconds(new Date())
    const breakSeconds = seconds(openBreak.clock_in, timestamp)
    const row = (await this.#close.first(trx, timestamp, breakSeconds, null, null, now, openBreak.id))!
    await this.#addBreak.first(trx, breakSeconds, now, openBreak.parent_id)
    return { status: 200, entry: toTimeEntryRecord({ ...row, worker_name: workerName, location_name: await this.#locationName(trx, row.location_id, row.account_id) }) }
  }

  async #openBreak (trx: Kysely<Database>, workerId: number): Promise<TimeEntryRow | undefined> {
    return await this.#openBreakOf.first(trx, workerId)
  }

  async #locationName (trx: Kysely<Database>, locationId: number | null, accountId: number): Promise<string | null> {
    if (locationId === null) return null
    return (await this.#location.first(trx, locationId, accountId))?.name ?? null
  }

  #listQuery (accountId: number) {
    return this.db.selectFrom('time_entries')
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
    let query = this.db.selectFrom('time_entries')
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
      if (row.within_geofence === 1) group.within_geofence++
      if (row.within_geofence === 0) group.outside_geofence++
      if (row.latitude === null) group.no_gps++
      group.workers.push({
        worker_id: row.worker_id,
        name: row.name,
        entry_id: row.id,
        clock_in: row.clock_in,
        within_geofence: bool(row.within_geofence),
        distance_meters: row.distance_meters
      })
    }
    return [...groups.values()]
  }
}

/** The event's time: default now; at most 5 minutes ahead and 7 days back. */
export function checkTimestamp (input: string | undefined, nowMs: number): string {
  if (input === undefined) return toIsoSeconds(new Date(nowMs))
  const timestamp = parseTimestamp(input)
  if (timestamp === null) throw validationError('Invalid field timestamp: must be an ISO-8601 date-time with a time zone')
  const ms = Date.parse(timestamp)
  if (ms > nowMs + MAX_AHEAD_MS) throw validationError('Invalid field timestamp: must not be more than 5 minutes in the future')
  if (ms < nowMs - MAX_BACK_MS) throw validationError('Invalid field timestamp: must not be more than 7 days in the past')
  return timestamp
}
