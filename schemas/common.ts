import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox'

/** `T | null` as a JSON-schema type array: cheap to validate and serialize, plain in OpenAPI 3.1. */
export function Nullable<T extends TSchema> (schema: T): TUnsafe<Static<T> | null> {
  const { type } = schema as { type?: string | string[] }
  if (typeof type !== 'string') throw new Error('Nullable() takes a schema with a single type')
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [type, 'null'] })
}

/** A string from a fixed list, as a JSON-schema `enum` (clearer errors than a union of literals). */
export function StringEnum<const T extends readonly string[]> (values: T, options: { description?: string, default?: T[number] } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}

export const Id = Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1 })
/** Output timestamp: ISO-8601 UTC with Z, second precision. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2025-06-15T09:30:00Z'] })
/** Input timestamp: any ISO-8601 offset, normalised to UTC by the server. */
export const TimestampInput = Type.String({ format: 'date-time', maxLength: 40, examples: ['2025-06-15T10:30:00+01:00'] })
export const CalendarDate = Type.String({ format: 'date', examples: ['2025-06-15'] })

/** Query booleans are `1`/`0`, also `true`/`false`. */
export const QueryBoolean = StringEnum(['1', '0', 'true', 'false'])
export function parseQueryBoolean (value: Static<typeof QueryBoolean> | undefined): boolean | undefined {
  return value === undefined ? undefined : value === '1' || value === 'true'
}

/** The list parameters every list endpoint takes (docs/api.md "Conventions, auth, errors"). */
export const ListQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50, description: 'page size (max 100)' }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0, description: 'rows to skip' }),
  after_id: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 53 - 1, description: 'keyset paging: only rows with a greater id' })),
  updated_since: Type.Optional({ ...TimestampInput, description: 'only rows created or changed at or after this time' })
}

export interface Paging {
  limit: number
  offset: number
  after_id?: number
  updated_since?: string
}

export const Pagination = Type.Object({
  total: Type.Integer({ description: 'rows matching the filters (before offset/after_id paging)' }),
  limit: Type.Integer(),
  offset: Type.Integer(),
  has_more: Type.Boolean({ description: 'whether rows follow this page' })
})
export type PaginationType = Static<typeof Pagination>

export const ErrorResponse = Type.Object({
  error: Type.Literal(true),
  message: Type.String(),
  status: Type.Integer(),
  code: Type.String({ description: 'stable machine-readable error code' }),
  request_id: Type.String()
}, { $id: 'ErrorResponse', description: 'The error envelope' })

const ErrorRef = Type.Unsafe<Static<typeof ErrorResponse>>(Type.Ref('ErrorResponse'))

/** Every route's error statuses, so errors are documented and serialized like any other response. */
export const errorResponses = {
  '4xx': ErrorRef,
  '5xx': ErrorRef
}

export function OneResponse<T extends TSchema> (record: T) {
  return Type.Object({ data: record })
}

export function ListResponse<T extends TSchema> (record: T) {
  return Type.Object({ data: Type.Array(record), pagination: Pagination })
}

/** `GET x.php` lists, `GET x.php?id=` returns one: one route, so `data` is either. */
export function OneOrListResponse<T extends TSchema> (record: T) {
  return Type.Object({
    data: Type.Union([record, Type.Array(record)]),
    pagination: Type.Optional(Pagination)
  })
}

export const IdQuery = Type.Object({ id: Id }, { additionalProperties: false })

/** The querystring of a route that takes no query parameters: any one is a 400. */
export const NoQuery = Type.Object({}, { additionalProperties: false })
