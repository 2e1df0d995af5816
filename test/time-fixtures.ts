import type { FastifyInstance } from 'fastify'
import { LocationStore } from '../db/locations.js'
import type { LocationCreateBody, LocationRecord } from '../schemas/locations.js'
import type { Kysely } from 'kysely'
import type { Database } from '../db/types.js'

const NOW = '2025-01-01T00:00:00Z'

/** A worker row, inserted directly (the workers endpoints belong to another issue). */
export async function insertWorker (db: Kysely<Database>, accountId: number, fields: { first_name?: string, last_name?: string, location_id?: number | null, department_id?: number | null, active?: boolean } = {}): Promise<number> {
  const row = await db.insertInto('workers').values({
    account_id: accountId,
    first_name: fields.first_name ?? 'Ada',
    last_name: fields.last_name ?? 'Lovelace',
    employee_ref: null,
    email: null,
    phone: null,
    location_id: fields.location_id ?? null,
    department_id: fields.department_id ?? null,
    preferred_language: 'en',
    active: fields.active !== false,
    created_at: NOW,
    updated_at: NOW
  }).returning('id').executeTakeFirstOrThrow()
  return row.id
}

export async function insertCostCode (db: Kysely<Database>, accountId: number, code = 'CC1'): Promise<number> {
  const row = await db.insertInto('cost_codes').values({ account_id: accountId, code, name: `Cost ${code}`, active: true, created_at: NOW, updated_at: NOW })
    .returning('id').executeTakeFirstOrThrow()
  return row.id
}

export async function insertDepartment (db: Kysely<Database>, accountId: number, name = 'Warehouse'): Promise<number> {
  const row = await db.insertInto('departments').values({ account_id: accountId, name, location_id: null, active: true, created_at: NOW, updated_at: NOW })
    .returning('id').executeTakeFirstOrThrow()
  return row.id
}

export async function createLocation (app: FastifyInstance, accountId: number, body: Partial<LocationCreateBody> = {}): Promise<LocationRecord> {
  return await new LocationStore(app.engine).create(accountId, { name: 'Leeds Depot', ...body })
}

/** A fenced location: 100 m around Leeds station, with a 50 m accuracy threshold. */
export const LEEDS = { latitude: 53.7955, longitude: -1.5479 }
export async function createFencedLocation (app: FastifyInstance, accountId: number, mode: 'off' | 'warn' | 'block' | 'strict', extra: Partial<LocationCreateBody> = {}): Promise<LocationRecord> {
  return await createLocation(app, accountId, { name: `Fence ${mode}`, ...LEEDS, geofence_radius_m: 100, geofence_mode: mode, gps_accuracy_threshold: 50, ...extra })
}

/** An ISO timestamp `minutes` before now, at second precision. */
export function minutesAgo (minutes: number, from = Date.now()): string {
  return new Date(from - minutes * 60_000).toISOString().slice(0, 19) + 'Z'
}

export async function events (db: Kysely<Database>, accountId: number, type?: string): Promise<Array<{ type: string, data: any }>> {
  let q = db.selectFrom('events').select(['type', 'payload']).where('account_id', '=', accountId)
  if (type !== undefined) q = q.where('type', '=', type)
  const rows = await q.orderBy('id').execute()
  return rows.map((r) => ({ type: r.type, data: JSON.parse(r.payload) }))
}
