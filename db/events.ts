import type { Kysely, Transaction } from 'kysely'
import { nowIso } from '../domain/time.js'
import type { Database } from './types.js'
import type { EventType } from '../domain/events.js'

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
