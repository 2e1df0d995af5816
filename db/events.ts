import type { Kysely } from 'kysely'
import { nowIso } from '../domain/time.js'
import type { Engine } from './engine/engine.js'
import type { Database } from './types.js'
import type { EventType } from '../domain/events.js'

/**
 * Writes an event to the outbox, in the transaction that makes the change, so the change and its
 * event are committed together or not at all: a crash can lose neither.
 */
export type EventRecorder = (trx: Kysely<Database>, accountId: number, type: EventType, data: unknown) => Promise<void>

/** The same, answering the event's id (a webhook ping tells it to the caller). */
export type EventIdRecorder = (trx: Kysely<Database>, accountId: number, type: EventType, data: unknown) => Promise<number>

type OutboxValue = 'accountId' | 'type' | 'payload' | 'createdAt'

function outboxInsert (engine: Engine, param: (name: OutboxValue) => any) {
  return engine.db.insertInto('events')
    .values({ account_id: param('accountId'), type: param('type'), payload: param('payload'), created_at: param('createdAt'), dispatched_at: null })
}

const valuesOf = (accountId: number, type: EventType, data: unknown): Record<OutboxValue, unknown> =>
  ({ accountId, type, payload: JSON.stringify(data), createdAt: nowIso() })

/**
 * The outbox insert of `engine`, compiled once (each store makes one). Nothing waits for its
 * answer: on PostgreSQL it goes to the server with the write's COMMIT, in one round trip, and a
 * failure fails the write (engine.ts, CompileOptions.unanswered).
 */
export function eventRecorder (engine: Engine): EventRecorder {
  const insert = engine.compile((param: (name: OutboxValue) => any) => outboxInsert(engine, param), { unanswered: true })
  return async (trx, accountId, type, data) => { await insert.run(trx, valuesOf(accountId, type, data)) }
}

/** The outbox insert answering the event's id; it costs the write a round trip of its own on PostgreSQL. */
export function eventIdRecorder (engine: Engine): EventIdRecorder {
  const insert = engine.compile((param: (name: OutboxValue) => any) => outboxInsert(engine, param).returning('id'))
  return async (trx, accountId, type, data) => (await insert.runFirst(trx, valuesOf(accountId, type, data)))!.id
}
