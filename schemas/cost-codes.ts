import { Type, type Static } from '@sinclair/typebox'
import { ActiveFilter, Id, IdFilter, ListQuery, Timestamp, named } from './common.js'

export const CostCode = named('CostCode', Type.Object({
  id: Id,
  code: Type.String({ description: 'unique within the account (case-sensitive)' }),
  name: Type.String(),
  active: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp
}))
export type CostCodeRecord = Static<typeof CostCode>

const writable = {
  code: Type.String({ minLength: 1, maxLength: 50 }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  active: Type.Boolean()
}

export const CostCodeCreate = named('CostCodeCreate', Type.Object({
  ...Type.Partial(Type.Object(writable)).properties,
  code: writable.code,
  name: writable.name
}, { additionalProperties: false, examples: [{ code: 'WH-RET', name: 'Returns processing' }] }))
export type CostCodeCreateBody = Static<typeof CostCodeCreate>

export const CostCodeUpdate = named('CostCodeUpdate', Type.Partial(Type.Object(writable), { additionalProperties: false, minProperties: 1, examples: [{ name: 'Picking (ambient)' }] }))
export type CostCodeUpdateBody = Static<typeof CostCodeUpdate>

export const CostCodeQuery = Type.Object({
  id: IdFilter,
  active: ActiveFilter,
  search: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'matches code or name' })),
  ...ListQuery
}, { additionalProperties: false })
