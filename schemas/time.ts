import { Type, type Static } from '@sinclair/typebox'
import { CalendarDate, Id, IdFilter, IdFilterOf, ListQuery, Nullable, StringEnum, Timestamp, TimestampInput, named } from './common.js'

export const CLOCK_ACTIONS = ['in', 'out', 'break_start', 'break_end'] as const
export type ClockAction = typeof CLOCK_ACTIONS[number]

export const ClockBody = named('ClockRequest', Type.Object({
  worker_id: { ...Id, description: 'the worker clocking' },
  action: StringEnum(CLOCK_ACTIONS, { description: 'in and break_start answer 201; out and break_end answer 200' }),
  location_id: Type.Optional(Nullable({ ...Id, description: "where (clock-in only; default: the worker's location; null = none)" })),
  cost_code_id: Type.Optional(Nullable({ ...Id, description: 'what the time is booked to' })),
  timestamp: Type.Optional({ ...TimestampInput, description: 'when it happened (default now); at most 5 minutes ahead and 7 days back' }),
  notes: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))),
  latitude: Type.Optional(Nullable(Type.Number({ minimum: -90, maximum: 90 }))),
  longitude: Type.Optional(Nullable(Type.Number({ minimum: -180, maximum: 180 }))),
  gps_accuracy: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1_000_000, description: 'metres' }))),
  survey_id: Type.Optional(Nullable({ ...Id, description: 'in: the survey that applies at the location (required there; ignored elsewhere)' })),
  // checked against the survey's questions by the clock decision, so that a location without a
  // survey ignores it whatever its shape
  survey_answers: Type.Optional(Type.Unknown({ examples: [{ fit_for_work: true, ppe: 'full' }], description: 'in: an object of question id → answer (true/false for yes_no, one of the options for choice, a string of at most 1,000 characters for text)' }))
}, {
  additionalProperties: false,
  // ids as `tempclock demo` makes them on a new database: worker 13 is at Leeds and not clocked
  // in, worker 1 is one of those clocked in now
  examples: [
    { worker_id: 13, action: 'in', latitude: 53.8013, longitude: -1.4441, gps_accuracy: 12, notes: 'Gate 2' },
    { worker_id: 1, action: 'out' },
    { worker_id: 2, action: 'break_start' }
  ]
}))
export type ClockBodyType = Static<typeof ClockBody>

export const TimeEntry = named('TimeEntry', Type.Object({
  id: Id,
  type: StringEnum(['shift', 'break']),
  parent_id: Nullable(Type.Integer({ description: "a break's shift entry" })),
  worker_id: Id,
  worker_name: Type.String(),
  location_id: Nullable(Type.Integer()),
  location_name: Nullable(Type.String()),
  cost_code_id: Nullable(Type.Integer()),
  clock_in: Timestamp,
  clock_out: Nullable(Type.String({ format: 'date-time' })),
  duration_seconds: Nullable(Type.Integer({ description: 'clock_out − clock_in; null while open' })),
  break_seconds: Type.Integer({ description: "a shift's closed breaks (0 for a break entry)" }),
  status: StringEnum(['active', 'completed']),
  source: Type.String(),
  notes: Nullable(Type.String()),
  latitude: Nullable(Type.Number()),
  longitude: Nullable(Type.Number()),
  gps_accuracy: Nullable(Type.Number()),
  within_geofence: Nullable(Type.Boolean()),
  distance_meters: Nullable(Type.Integer()),
  low_gps_confidence: Nullable(Type.Boolean()),
  survey_response_id: Nullable(Type.Integer({ description: 'the survey response that let this shift start' })),
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type TimeEntryRecord = Static<typeof TimeEntry>

export const ENTRY_FILTERS = ['shifts', 'active', 'breaks', 'all'] as const
export type EntryFilter = typeof ENTRY_FILTERS[number]

export const TimesheetQuery = Type.Object({
  id: IdFilter,
  worker_id: IdFilterOf('worker'),
  location_id: IdFilterOf('location'),
  cost_code_id: IdFilterOf('cost code'),
  start_date: Type.Optional({ ...CalendarDate, description: "first clock-in date, in the account's timezone" }),
  end_date: Type.Optional({ ...CalendarDate, description: "last clock-in date (inclusive), in the account's timezone" }),
  entry_filter: StringEnum(ENTRY_FILTERS, { default: 'shifts', description: 'shifts: completed shift entries · active: open entries · breaks: break entries · all' }),
  ...ListQuery
}, { additionalProperties: false })
export type TimesheetQueryType = Static<typeof TimesheetQuery>

export const OnSiteQuery = Type.Object({
  location_id: IdFilterOf('location')
}, { additionalProperties: false })

export const OnSiteWorker = named('OnSiteWorker', Type.Object({
  worker_id: Id,
  name: Type.String(),
  entry_id: Id,
  clock_in: Timestamp,
  within_geofence: Nullable(Type.Boolean()),
  distance_meters: Nullable(Type.Integer())
}))

export const OnSiteGroup = named('OnSiteGroup', Type.Object({
  location_id: Nullable(Type.Integer()),
  location_name: Nullable(Type.String()),
  on_site: Type.Integer({ description: 'workers clocked in here' }),
  within_geofence: Type.Integer({ description: 'of them, clocked in inside the fence' }),
  outside_geofence: Type.Integer({ description: 'of them, clocked in outside the fence' }),
  no_gps: Type.Integer({ description: 'of them, clocked in without a GPS fix' }),
  workers: Type.Array(OnSiteWorker)
}))
export type OnSiteGroupRecord = Static<typeof OnSiteGroup>

export const OnSiteResponse = named('OnSiteNow', Type.Object({
  data: Type.Array(OnSiteGroup),
  as_of: { ...Timestamp, description: 'when this was read' }
}))
