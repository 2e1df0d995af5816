import { Type, type Static } from '@sinclair/typebox'
import { EVENT_TYPES } from '../domain/events.js'
import { ActiveFilter, Id, IdFilter, ListQuery, Nullable, OneOrListResponse, StringEnum, Timestamp, named } from './common.js'

/** What a subscription may list: any v1 event, or `*` for all of them. */
export const SUBSCRIBABLE_EVENTS = ['*', ...EVENT_TYPES] as const

const EventList = Type.Array(StringEnum(SUBSCRIBABLE_EVENTS), {
  minItems: 1,
  maxItems: SUBSCRIBABLE_EVENTS.length,
  uniqueItems: true,
  description: 'event names, or ["*"] for every v1 event (ping is always sent to the subscription it was fired for)'
})

export const Webhook = named('Webhook', Type.Object({
  id: Id,
  url: Type.String({ description: 'where events are POSTed' }),
  events: Type.Array(Type.String(), { description: 'the events subscribed to; ["*"] = every event' }),
  active: Type.Boolean(),
  description: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type WebhookRecord = Static<typeof Webhook>

export const WebhookCreated = named('WebhookCreated', Type.Object({
  ...Webhook.properties,
  secret: Type.String({ description: 'the HMAC-SHA256 signing key; shown only in this response' })
}))
export type WebhookCreatedRecord = Static<typeof WebhookCreated>

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const

export const WebhookDelivery = named('WebhookDelivery', Type.Object({
  id: Id,
  event_id: Id,
  event: Type.String(),
  status: StringEnum(DELIVERY_STATUSES),
  attempts: Type.Integer(),
  last_response_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  last_attempt_at: Nullable(Timestamp),
  next_attempt_at: Nullable({ ...Timestamp, description: 'when the next attempt is due; null unless pending' }),
  delivered_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type WebhookDeliveryRecord = Static<typeof WebhookDelivery>

export const WebhookDetail = named('WebhookDetail', Type.Object({
  ...Webhook.properties,
  deliveries: Type.Array(WebhookDelivery, { description: 'the most recent deliveries, newest first' })
}))
export type WebhookDetailRecord = Static<typeof WebhookDetail>

const writable = {
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'https URL (http only to loopback when the server allows it)' }),
  events: EventList,
  active: Type.Boolean(),
  description: Nullable(Type.String({ maxLength: 500 }))
}

// A POST with ?action=ping has no body, so the create body may be absent (null) at the schema
// level; the handler insists on it for a create. The document shows the body as optional.
export const WebhookCreate = named('WebhookCreate', Nullable(Type.Object({
  url: writable.url,
  events: writable.events,
  active: Type.Optional(writable.active),
  description: Type.Optional(writable.description)
}, { additionalProperties: false, examples: [{ url: 'https://hooks.example.com/tempclock', events: ['clock_in', 'clock_out'], description: 'Payroll sync' }] })))
export type WebhookCreateBody = NonNullable<Static<typeof WebhookCreate>>

export const WebhookUpdate = named('WebhookUpdate', Type.Partial(Type.Object(writable), { additionalProperties: false, minProperties: 1, examples: [{ active: false }] }))
export type WebhookUpdateBody = Static<typeof WebhookUpdate>

export const WebhookQuery = Type.Object({
  id: IdFilter,
  active: ActiveFilter,
  ...ListQuery
}, { additionalProperties: false })

export const WebhookPostQuery = Type.Object({
  id: Type.Optional({ ...Id, description: 'with action=ping: the subscription to ping' }),
  action: Type.Optional(StringEnum(['ping'], { description: 'ping: send a ping event to subscription ?id=' }))
}, { additionalProperties: false })

/** One subscription comes with its recent deliveries; a list without them. */
export const WebhookOneOrList = OneOrListResponse(WebhookDetail, Webhook)

export const PingAccepted = named('PingAccepted', Type.Object({
  data: Type.Object({
    event_id: { ...Id, description: 'the queued ping event' },
    subscription_id: { ...Id, description: 'the subscription it goes to' },
    event: Type.Literal('ping')
  })
}))
