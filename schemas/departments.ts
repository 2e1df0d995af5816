import { Type, type Static } from '@sinclair/typebox'
import { ActiveFilter, Id, IdFilter, ListQuery, Nullable, Timestamp, named } from './common.js'

export const Department = named('Department', Type.Object({
  id: Id,
  name: Type.String(),
  location_id: Nullable({ ...Id, description: 'the site this department belongs to; null = not tied to one' }),
  active: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type DepartmentRecord = Static<typeof Department>

const writable = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  location_id: Nullable(Id),
  active: Type.Boolean()
}

export const DepartmentCreate = named('DepartmentCreate', Type.Object({
  ...Type.Partial(Type.Object(writable)).properties,
  name: writable.name
}, { additionalProperties: false, examples: [{ name: 'Returns', location_id: 1 }] }))
export type DepartmentCreateBody = Static<typeof DepartmentCreate>

export const DepartmentUpdate = named('DepartmentUpdate', Type.Partial(Type.Object(writable), { additionalProperties: false, minProperties: 1, examples: [{ name: 'Goods In and Returns' }] }))
export type DepartmentUpdateBody = Static<typeof DepartmentUpdate>

export const DepartmentQuery = Type.Object({
  id: IdFilter,
  active: ActiveFilter,
  ...ListQuery
}, { additionalProperties: false })
