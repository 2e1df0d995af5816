import { Type, type Static } from '@sinclair/typebox'
import { ActiveFilter, Id, IdFilter, IdFilterOf, ListQuery, Nullable, StringEnum, Timestamp, named } from './common.js'
import { LANGUAGES } from './locations.js'

export const Worker = named('Worker', Type.Object({
  id: Id,
  first_name: Type.String(),
  last_name: Type.String(),
  employee_ref: Nullable(Type.String({ description: 'the account\'s own reference; unique within the account' })),
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  location_id: Nullable(Id),
  location_name: Nullable(Type.String({ description: 'name of location_id' })),
  department_id: Nullable(Id),
  department: Nullable(Type.String({ description: 'name of department_id' })),
  preferred_language: StringEnum(LANGUAGES),
  active: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type WorkerRecord = Static<typeof Worker>

const writable = {
  first_name: Type.String({ minLength: 1, maxLength: 100 }),
  last_name: Type.String({ minLength: 1, maxLength: 100 }),
  employee_ref: Nullable(Type.String({ minLength: 1, maxLength: 50 })),
  email: Nullable(Type.String({ format: 'email', maxLength: 254 })),
  phone: Nullable(Type.String({ maxLength: 40 })),
  location_id: Nullable(Id),
  department_id: Nullable(Id),
  preferred_language: StringEnum(LANGUAGES),
  active: Type.Boolean()
}

export const WorkerCreate = named('WorkerCreate', Type.Object({
  ...Type.Partial(Type.Object(writable)).properties,
  first_name: writable.first_name,
  last_name: writable.last_name
}, {
  additionalProperties: false,
  examples: [{ first_name: 'Ada', last_name: 'Lovelace', email: 'ada.lovelace@example.com', location_id: 1, department_id: 1, preferred_language: 'en' }]
}))
export type WorkerCreateBody = Static<typeof WorkerCreate>

export const WorkerUpdate = named('WorkerUpdate', Type.Partial(Type.Object(writable), { additionalProperties: false, minProperties: 1, examples: [{ phone: '07700 900999', department_id: 4 }] }))
export type WorkerUpdateBody = Static<typeof WorkerUpdate>

export const WorkerQuery = Type.Object({
  id: IdFilter,
  location_id: IdFilterOf('location'),
  department_id: IdFilterOf('department'),
  active: ActiveFilter,
  search: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'matches first name, last name or employee_ref' })),
  ...ListQuery
}, { additionalProperties: false })
