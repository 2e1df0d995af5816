import type { Kysely, Transaction } from 'kysely'
import { nowIso } from '../domain/time.js'
import type { Engine } from './engine/engine.js'
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

export type EventRecorder = (trx: Kysely<Database>, accountId: number, type: EventType, data: unknown) => Promise<number>

/** `recordEvent` with its query compiled once, for a store whose hot path records events. */
export function eventRecorder (engine: Engine): EventRecorder {
  const insert = engine.compile((param) => engine.db.insertInto('events')
    .values({ account_id: param('accountId'), type: param('type'), payload: param('payload'), created_at: param('createdAt'), dispatched_at: null })
    .returning('id'))
  return async (trx, accountId, type, data) =>
    (await insert.runFirst(trx, { accountId, type, payload: JSON.stringify(data), createdAt: nowIso() }))!.id
}
