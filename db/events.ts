import type { Kysely } from 'kysely'
import { nowIso } from '../domain/time.js'
import type { Engine } from './engine/engine.js'
import type { Database } from './types.js'
import type { EventType } from '../domain/events.js'

/** Writes an event to the outbox; returns its id. */
export type EventRecorder = (trx: Kysely<Database>, accountId: number, type: EventType, data: unknown) => Promise<number>

/**
 * The outbox insert of `engine`, compiled once (each store makes one). Call it with the
 * transaction that makes the change, so the change and its event are committed together or not at
 * all: a crash can lose neither.
 */
export function eventRecorder (engine: Engine): EventRecorder {
  const insert = engine.compile((param) => engine.db.insertInto('events')
    .values({ account_id: param('accountId'), type: param('type'), payload: param('payload'), created_at: param('createdAt'), dispatched_at: null })
    .returning('id'))
  return async (trx, accountId, type, data) =>
    (await insert.runFirst(trx, { accountId, type, payload: JSON.stringify(data), createdAt: nowIso() }))!.id
}
