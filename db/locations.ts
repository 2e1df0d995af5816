import type { Kysely } from 'kysely'
import { isTimezone } from './accounts.js'
import { paginate, type Page } from './paging.js'
import { RecordCache } from './record-cache.js'
import { everyColumn, type Database, type LocationRow, type LocationsTable } from './types.js'
import { notFound, validationError } from '../domain/errors.js'
import { nowIso } from '../domain/time.js'
import type { Paging } from '../schemas/common.js'
import type { LocationCreateBody, LocationRecord, LocationUpdateBody } from '../schemas/locations.js'
import type { Engine, WriteOptions } from './engine/engine.js'

const LOCATION_COLUMNS = everyColumn<LocationsTable>()(['id', 'account_id', 'name', 'address_line1', 'address_line2', 'city', 'postcode',
  'latitude', 'longitude', 'geofence_radius_m', 'geofence_mode', 'gps_accuracy_threshold', 'kiosk_language', 'timezone', 'active',
  'created_at', 'updated_at'])

export function toLocationRecord (row: LocationRow): LocationRecord {
  const { account_id: _account, ...rest } = row
  return { ...rest, active: row.active } as LocationRecord
}

export interface LocationFilters {
  active?: boolean
  search?: string
}

/** A fence needs a centre and a radius; a timezone must be one Node knows. */
function checkLocationRules (merged: Pick<LocationRow, 'latitude' | 'longitude' | 'geofence_radius_m' | 'geofence_mode' | 'timezone'>): void {
  if ((merged.latitude === null) !== (merged.longitude === null)) {
    throw validationError('latitude and longitude must be given together')
  }
  if (merged.geofence_mode !== 'off' && (merged.latitude === null || merged.geofence_radius_m === null)) {
    throw validationError(`geofence_mode ${merged.geofence_mode} needs latitude, longitude and geofence_radius_m`)
  }
  if (merged.timezone !== null && !isTimezone(merged.timezone)) {
    throw validationError(`Invalid field timezone: unknown IANA time zone ${JSON.stringify(merged.timezone)}`)
  }
}

export class LocationStore {
  readonly #one: RecordCache<LocationRow, LocationRecord>

  constructor (private readonly engine: Engine) {
    this.#one = new RecordCache(engine, (param) => engine.db.selectFrom('locations').select(LOCATION_COLUMNS).where('id', '=', param('id')).where('account_id', '=', param('accountId')), toLocationRecord, 'Location')
  }

  /** One record as last committed, from memory while nothing has changed (db/record-cache.ts). */
  async find (accountId: number, id: number, asOf?: number): Promise<LocationRecord | undefined> {
    return await this.#one.find(accountId, id, asOf)
  }

  async get (accountId: number, id: number, asOf?: number): Promise<LocationRecord> {
    return await this.#one.get(accountId, id, asOf)
  }

  async list (accountId: number, filters: LocationFilters, paging: Paging): Promise<Page<LocationRecord>> {
    let query = this.engine.db.selectFrom('locations').selectAll().where('account_id', '=', accountId)
    if (filters.active !== undefined) query = query.where('active', '=', filters.active)
    if (filters.search !== undefined) query = query.where(this.engine.sql.matchesSearch('locations', ['name', 'city', 'postcode'], filters.search))
    const page = await paginate(query, 'locations', paging)
    return { rows: page.rows.map(toLocationRecord), pagination: page.pagination }
  }

  async create (accountId: number, body: LocationCreateBody, options?: WriteOptions): Promise<LocationRecord> {
    return await this.engine.write(async (trx) => await this.createIn(trx, accountId, body), options)
  }

  /** The create, inside a transaction the caller owns (the demo seeds a whole account in one). */
  async createIn (trx: Kysely<Database>, accountId: number, body: LocationCreateBody): Promise<LocationRecord> {
    const now = nowIso()
    const values = {
      account_id: accountId,
      name: body.name,
      address_line1: body.address_line1 ?? null,
      address_line2: body.address_line2 ?? null,
      city: body.city ?? null,
      postcode: body.postcode ?? null,
      latitude: body.latitude ?? null,
      longitude: body.longitude ?? null,
      geofence_radius_m: body.geofence_radius_m ?? null,
      geofence_mode: body.geofence_mode ?? 'off',
      gps_accuracy_threshold: body.gps_accuracy_threshold ?? null,
      kiosk_language: body.kiosk_language ?? 'en',
      timezone: body.timezone ?? null,
      active: body.active !== false,
      created_at: now,
      updated_at: now
    }
    checkLocationRules(values)
    const row = await trx.insertInto('locations').values(values).returningAll().executeTakeFirstOrThrow()
    return toLocationRecord(row)
  }

  /** Partial update: only the fields given change. */
  async update (accountId: number, id: number, body: LocationUpdateBody): Promise<LocationRecord> {
    return await this.engine.write(async (trx) => {
      const current = await trx.selectFrom('locations').selectAll()
        .where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst()
      if (current === undefined) throw notFound(`Location ${id}`)
      const { active, ...fields } = body
      const changes = { ...fields, ...(active === undefined ? {} : { active }) }
      checkLocationRules({ ...current, ...changes })
      const row = await trx.updateTable('locations').set({ ...changes, updated_at: nowIso() })
        .where('id', '=', id).where('account_id', '=', accountId)
        .returningAll().executeTakeFirstOrThrow()
      return toLocationRecord(row)
    })
  }
}
