import type { Kysely, Transaction } from 'kysely'
import { nowIso } from '../domain/time.js'
import type { Database } from './types.js'

/** Event names of API v1 (docs/webhooks.md); `*` in a subscription means all of them. */
export const EVENT_TYPES = [
  'clock_in',
  'clock_out',
  'worker_created',
  'worker_updated',
  'shift_created',
  'ping',
  'clock.geofence_breach',
  'clock.geofence_refused',
  'clock.low_gps_confidence',
  'clock.blocked_by_survey',
  'document_expired'
] as const
export type EventType = typeof EVENT_TYPES[number]

/**
 * Writes an event to the outbox. Call it with the transaction that makes the change, so the
 * change and its event are committed together or not at all: a crash can lose neither.
 * Returns the event id.
 */
export async function recordEvent (
  trx: Transaction<Database> | Kysely<Database>,
  accountId: number,
  type: EventType,
  data: unknown
): Promise<number> {
  const row = await trx.insertInto('events')
    .values({ account_id: accountId, type, payload: JSON.stringify(data), created_at: nowIso(), dispatched_at: null })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}
