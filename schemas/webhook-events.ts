import { Type, type TSchema } from '@sinclair/typebox'
import type { EventType } from '../domain/events.js'
import { Id, Nullable, StringEnum, Timestamp, named } from './common.js'
import { Document } from './documents.js'
import { Shift } from './shifts.js'
import { TimeEntry } from './time.js'
import { Worker } from './workers.js'

const GeofenceRefusal = named('GeofenceRefusal', Type.Object({
  worker_id: Id,
  worker_name: Type.String(),
  location_id: Id,
  location_name: Type.String(),
  reason: StringEnum(['outside_geofence', 'no_usable_fix'], { description: 'outside the fence (block, strict), or no usable GPS fix (strict)' }),
  geofence_mode: StringEnum(['block', 'strict']),
  geofence_radius_m: Nullable(Type.Integer()),
  timestamp: { ...Timestamp, description: 'when the worker tried to clock in' },
  latitude: Nullable(Type.Number()),
  longitude: Nullable(Type.Number()),
  gps_accuracy: Nullable(Type.Number()),
  distance_meters: Nullable(Type.Integer()),
  low_gps_confidence: Nullable(Type.Boolean())
}, { description: 'A refused clock-in: no time entry was written' }))

const Ping = named('Ping', Type.Object({
  subscription_id: Id,
  message: Type.String()
}))

const SurveyBlock = named('SurveyBlock', Type.Object({
  worker_id: Id,
  location_id: Id,
  survey_id: Id,
  reason: StringEnum(['not_answered', 'failed']),
  failed_questions: Type.Array(Type.String(), { description: 'ids of the questions whose answers were not accepted' })
}, { description: 'A clock-in refused by the pre-clock-in survey: no time entry was written' }))

/** What each event's `data` is, and when it is sent. */
const EVENTS: Record<EventType, { data: TSchema, summary: string }> = {
  clock_in: { data: TimeEntry, summary: 'A worker clocked in (the new entry)' },
  clock_out: { data: TimeEntry, summary: 'A worker clocked out (the closed entry)' },
  worker_created: { data: Worker, summary: 'A worker was created' },
  worker_updated: { data: Worker, summary: 'A worker was changed' },
  shift_created: { data: Shift, summary: 'A shift was scheduled' },
  ping: { data: Ping, summary: 'A test event fired with POST /webhooks.php?id=N&action=ping (sent only to that subscription)' },
  'clock.geofence_breach': { data: TimeEntry, summary: 'A clock-in outside the fence at a location in warn mode (the accepted entry)' },
  'clock.geofence_refused': { data: GeofenceRefusal, summary: 'A clock-in refused by the geofence (block or strict mode)' },
  'clock.low_gps_confidence': { data: TimeEntry, summary: "A clock-in whose GPS accuracy is worse than the location's threshold (the accepted entry)" },
  'clock.blocked_by_survey': { data: SurveyBlock, summary: 'A clock-in refused by the pre-clock-in survey' },
  document_expired: { data: Document, summary: "A worker's document expired: sent once per document and expiry date, within a minute after the account's local midnight that ends expires_on" }
}

/** `clock.geofence_breach` → `ClockGeofenceBreach` */
export function pascalCase (name: string): string {
  return name.split(/[._-]/).map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('')
}

/** Each event as delivered: the body a receiver parses, after checking its signature. */
export const WEBHOOK_EVENTS = Object.entries(EVENTS).map(([event, { data, summary }]) => ({
  event,
  summary,
  payload: named(`${pascalCase(event)}Event`, Type.Object({
    id: { ...Id, description: 'the event id, unique per server: de-duplicate on it (delivery is at least once)' },
    event: Type.Literal(event),
    created_at: { ...Timestamp, description: 'when the event happened' },
    data
  }))
}))
