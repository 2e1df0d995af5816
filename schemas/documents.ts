import { Type, type Static } from '@sinclair/typebox'
import { DOCUMENT_STATUSES, EXPIRING_WITHIN_DAYS } from '../domain/documents.js'
import { CalendarDate, Id, IdFilter, IdFilterOf, ListQuery, Nullable, StringEnum, Timestamp, named } from './common.js'

/** A worker's document; also the `data` of the `document_expired` webhook event. */
export const Document = named('Document', Type.Object({
  id: Id,
  worker_id: Id,
  worker_name: Type.String(),
  type: Type.String({ description: 'what the document is', examples: ['Forklift licence (counterbalance)'] }),
  reference: Nullable(Type.String({ examples: ['FLT-40074'] })),
  issued_on: Nullable(CalendarDate),
  expires_on: Nullable({ ...CalendarDate, description: 'the last day the document is valid; null = it does not expire' }),
  status: StringEnum(DOCUMENT_STATUSES, {
    description: `in the account's timezone: expired once the expiry day has passed, expiring from ${EXPIRING_WITHIN_DAYS} days before it, else valid (always valid without an expiry)`
  }),
  notes: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type DocumentRecord = Static<typeof Document>

/** The body POSTed to a subscription for `document_expired`: `data` is the document, now expired. */
export const DocumentExpiredEvent = named('DocumentExpiredEvent', Type.Object({
  id: Id,
  event: Type.Literal('document_expired'),
  created_at: Timestamp,
  data: Document
}))

const writable = {
  worker_id: Id,
  type: Type.String({ minLength: 1, maxLength: 200, examples: ['Forklift licence (counterbalance)'] }),
  reference: Nullable(Type.String({ maxLength: 200, examples: ['FLT-40074'] })),
  issued_on: Nullable(CalendarDate),
  expires_on: Nullable(CalendarDate),
  notes: Nullable(Type.String({ maxLength: 2000 }))
}

export const DocumentCreate = named('DocumentCreate', Type.Object({
  ...Type.Partial(Type.Object(writable)).properties,
  worker_id: writable.worker_id,
  type: writable.type
}, {
  additionalProperties: false,
  // worker 13 of `tempclock demo` on a new database
  examples: [{ worker_id: 13, type: 'Forklift licence (counterbalance)', reference: 'FLT-40074', issued_on: '2025-01-10', expires_on: '2030-01-09' }]
}))
export type DocumentCreateBody = Static<typeof DocumentCreate>

export const DocumentUpdate = named('DocumentUpdate', Type.Partial(Type.Object(writable), { additionalProperties: false, minProperties: 1, examples: [{ expires_on: '2031-01-09', notes: 'Renewed' }] }))
export type DocumentUpdateBody = Static<typeof DocumentUpdate>

export const DocumentQuery = Type.Object({
  id: IdFilter,
  worker_id: IdFilterOf('worker'),
  status: Type.Optional(StringEnum(DOCUMENT_STATUSES, { description: "the computed status, in the account's timezone" })),
  expires_before: Type.Optional({ ...CalendarDate, description: 'only documents whose expires_on is before this date' }),
  ...ListQuery
}, { additionalProperties: false })
export type DocumentQueryType = Static<typeof DocumentQuery>
