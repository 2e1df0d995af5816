import { Type, type Static } from '@sinclair/typebox'
import { ActiveFilter, Id, IdFilter, ListQuery, Nullable, StringEnum, Timestamp, named } from './common.js'

export const GEOFENCE_MODES = ['off', 'warn', 'block', 'strict'] as const
export const LANGUAGES = ['en', 'pl', 'ro', 'lt'] as const

export const Location = named('Location', Type.Object({
  id: Id,
  name: Type.String(),
  address_line1: Nullable(Type.String()),
  address_line2: Nullable(Type.String()),
  city: Nullable(Type.String()),
  postcode: Nullable(Type.String()),
  latitude: Nullable(Type.Number()),
  longitude: Nullable(Type.Number()),
  geofence_radius_m: Nullable(Type.Integer()),
  geofence_mode: StringEnum(GEOFENCE_MODES, { description: 'off: record only · warn: accept but flag · block: refuse outside the fence · strict: refuse outside and without a usable GPS fix' }),
  gps_accuracy_threshold: Nullable(Type.Integer({ description: 'metres; a fix less accurate than this is low confidence' })),
  kiosk_language: StringEnum(LANGUAGES),
  timezone: Nullable(Type.String({ description: 'IANA zone; null = the account\'s' })),
  active: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type LocationRecord = Static<typeof Location>

const text = (max: number) => Nullable(Type.String({ maxLength: max }))

const writable = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  address_line1: text(200),
  address_line2: text(200),
  city: text(100),
  postcode: text(20),
  latitude: Nullable(Type.Number({ minimum: -90, maximum: 90 })),
  longitude: Nullable(Type.Number({ minimum: -180, maximum: 180 })),
  geofence_radius_m: Nullable(Type.Integer({ minimum: 1, maximum: 100_000 })),
  geofence_mode: StringEnum(GEOFENCE_MODES),
  gps_accuracy_threshold: Nullable(Type.Integer({ minimum: 1, maximum: 100_000 })),
  kiosk_language: StringEnum(LANGUAGES),
  timezone: Nullable(Type.String({ minLength: 1, maxLength: 64 })),
  active: Type.Boolean()
}

export const LocationCreate = named('LocationCreate', Type.Object({
  ...Type.Partial(Type.Object(writable)).properties,
  name: writable.name
}, {
  additionalProperties: false,
  examples: [{ name: 'Leeds Overflow Yard', city: 'Leeds', postcode: 'LS9 0PS', latitude: 53.7905, longitude: -1.5197, geofence_radius_m: 150, geofence_mode: 'warn', gps_accuracy_threshold: 50 }]
}))
export type LocationCreateBody = Static<typeof LocationCreate>

export const LocationUpdate = named('LocationUpdate', Type.Partial(Type.Object(writable), { additionalProperties: false, minProperties: 1, examples: [{ geofence_mode: 'block', geofence_radius_m: 250 }] }))
export type LocationUpdateBody = Static<typeof LocationUpdate>

export const LocationQuery = Type.Object({
  id: IdFilter,
  active: ActiveFilter,
  search: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'matches name, city or postcode' })),
  ...ListQuery
}, { additionalProperties: false })
export type LocationQueryType = Static<typeof LocationQuery>
