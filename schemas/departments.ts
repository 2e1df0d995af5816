import { Type, type Static } from '@sinclair/typebox'
import { Id, ListQuery, Nullable, QueryBoolean, Timestamp } from './common.js'

export const Department = Type.Object({
  id: Id,
  name: Type.String(),
  location_id: Nullable(Id),
  active: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp
})
export type DepartmentRecord = Static<typeof Department>

const writable = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  location_id: Nullable(Id),
  active: Type.Boolean()
}

export const DepartmentCreate = Type.Object({
  ...Type.Partial(Type.Object(writable)).properties,
  name: writable.name
}, { additionalProperties: false })
export type DepartmentCreateBody = Static<typeof DepartmentCreate>

export const DepartmentUpdate = Type.Partial(Type.Object(writable), { additionalProperties: false, minProperties: 1 })
export type DepartmentUpdateBody = Static<typeof DepartmentUpdate>

export const DepartmentQuery = Type.Object({
  id: Type.Optional(Id),
  active: Type.Optional(QueryBoolean),
  ...ListQuery
}, { additionalProperties: false })
