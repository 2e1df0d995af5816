import { Type, type Static } from '@sinclair/typebox'
import { CalendarDate, Id, ListQuery, Nullable, StringEnum, Timestamp, TimestampInput } from './common.js'

export const SHIFT_STATUSES = ['draft', 'published'] as const

export const Shift = Type.Object({
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
})
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

export const ShiftCreate = Type.Object({
  ...Type.Partial(Type.Object(writable)).properties,
  location_id: writable.location_id,
  start_time: writable.start_time,
  end_time: writable.end_time
}, { additionalProperties: false })
export type ShiftCreateBody = Static<typeof ShiftCreate>

export const ShiftUpdate = Type.Partial(Type.Object(writable), { additionalProperties: false, minProperties: 1 })
export type ShiftUpdateBody = Static<typeof ShiftUpdate>

export const ShiftQuery = Type.Object({
  id: Type.Optional(Id),
  worker_id: Type.Optional(Id),
  location_id: Type.Optional(Id),
  department_id: Type.Optional(Id),
  status: Type.Optional(StringEnum(SHIFT_STATUSES)),
  start_date: Type.Optional({ ...CalendarDate, description: "first start date, in the account's timezone" }),
  end_date: Type.Optional({ ...CalendarDate, description: "last start date (inclusive), in the account's timezone" }),
  ...ListQuery
}, { additionalProperties: false })
export type ShiftQueryType = Static<typeof ShiftQuery>
