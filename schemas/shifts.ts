import { Type, type Static } from '@sinclair/typebox'
import { CalendarDate, Id, IdFilter, IdFilterOf, ListQuery, Nullable, StringEnum, Timestamp, TimestampInput, named } from './common.js'

export const SHIFT_STATUSES = ['draft', 'published'] as const

export const Shift = named('Shift', Type.Object({
  id: Id,
  worker_id: Nullable(Type.Integer({ description: 'null = an open shift' })),
  worker_name: Nullable(Type.String()),
  location_id: Id,
  location_name: Type.String(),
  department_id: Nullable(Type.Integer()),
  cost_code_id: Nullable(Type.Integer()),
  start_time: Timestamp,
  end_time: Timestamp,
  break_minutes: Type.Integer(),
  status: StringEnum(SHIFT_STATUSES),
  notes: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type ShiftRecord = Static<typeof Shift>

const writable = {
  worker_id: Nullable(Id),
  location_id: Id,
  department_id: Nullable(Id),
  cost_code_id: Nullable(Id),
  start_time: TimestampInput,
  end_time: TimestampInput,
  break_minutes: Type.Integer({ minimum: 0, maximum: 1440 }),
  status: StringEnum(SHIFT_STATUSES),
  notes: Nullable(Type.String({ maxLength: 2000 }))
}

export const ShiftCreate = named('ShiftCreate', Type.Object({
  ...Type.Partial(Type.Object(writable)).properties,
  location_id: writable.location_id,
  start_time: writable.start_time,
  end_time: writable.end_time
}, {
  additionalProperties: false,
  // an open shift (no worker) never overlaps, so this example works every time it is tried
  examples: [{ location_id: 1, department_id: 1, start_time: '2030-01-07T08:00:00Z', end_time: '2030-01-07T16:30:00Z', break_minutes: 30, status: 'draft', notes: 'Peak season cover' }]
}))
export type ShiftCreateBody = Static<typeof ShiftCreate>

export const ShiftUpdate = named('ShiftUpdate', Type.Partial(Type.Object(writable), { additionalProperties: false, minProperties: 1, examples: [{ status: 'published' }] }))
export type ShiftUpdateBody = Static<typeof ShiftUpdate>

export const ShiftQuery = Type.Object({
  id: IdFilter,
  worker_id: IdFilterOf('worker'),
  location_id: IdFilterOf('location'),
  department_id: IdFilterOf('department'),
  status: Type.Optional(StringEnum(SHIFT_STATUSES, { description: 'only draft or only published shifts' })),
  start_date: Type.Optional({ ...CalendarDate, description: "first start date, in the account's timezone" }),
  end_date: Type.Optional({ ...CalendarDate, description: "last start date (inclusive), in the account's timezone" }),
  ...ListQuery
}, { additionalProperties: false })
export type ShiftQueryType = Static<typeof ShiftQuery>
