import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox'
import { ERROR_CODE_NAMES } from '../domain/error-codes.js'

/** The keyword that names a schema in the OpenAPI document (schemas/openapi.ts hoists it). */
export const COMPONENT_NAME = 'x-component'

/**
 * Names a schema: the OpenAPI document shows it once, as `#/components/schemas/<name>`, wherever it
 * is used. Validation and serialization see the same schema inline (the keyword is ignored there).
 */
export function named<T extends TSchema> (name: string, schema: T): T {
  return { ...schema, [COMPONENT_NAME]: name }
}

export function componentName (schema: TSchema): string | undefined {
  const value = (schema as Record<string, unknown>)[COMPONENT_NAME]
  return typeof value === 'string' ? value : undefined
}

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
/** `?id=`: one record instead of a list. */
export const IdFilter = Type.Optional({ ...Id, description: 'one record by id (the answer is `{data: record}` instead of a list)' })
/** A query filter on a reference. */
export const IdFilterOf = (what: string) => Type.Optional({ ...Id, description: `only rows of this ${what}` })
/** Output timestamp: ISO-8601 UTC with Z, second precision. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2025-06-15T09:30:00Z'] })
/** Input timestamp: any ISO-8601 offset, normalised to UTC by the server. */
export const TimestampInput = Type.String({ format: 'date-time', maxLength: 40, examples: ['2025-06-15T10:30:00+01:00'] })
export const CalendarDate = Type.String({ format: 'date', examples: ['2025-06-15'] })

/** Query booleans are `1`/`0`, also `true`/`false`. */
export const QueryBoolean = StringEnum(['1', '0', 'true', 'false'])
/** `?active=`: the usual boolean filter. */
export const ActiveFilter = Type.Optional(StringEnum(['1', '0', 'true', 'false'], { description: 'only active (1 or true) or only inactive (0 or false) records' }))
export function parseQueryBoolean (value: Static<typeof QueryBoolean> | undefined): boolean | undefined {
  return value === undefined ? undefined : value === '1' || value === 'true'
}

/**
 * The list parameters every list endpoint takes (docs/api.md "Conventions, auth, errors"). `limit`
 * and `offset` have defaults, so validation always fills them in (the handler's type says they are
 * there) while the document marks them optional.
 */
export const ListQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50, description: 'page size (default 50, max 100)' }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0, description: 'rows to skip (default 0); prefer after_id for deep paging' }),
  after_id: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 53 - 1, description: 'keyset paging: only rows with a greater id' })),
  updated_since: Type.Optional({ ...TimestampInput, description: 'only rows created or changed at or after this time' })
}

export interface Paging {
  limit: number
  offset: number
  after_id?: number
  updated_since?: string
}

export const Pagination = named('Pagination', Type.Object({
  total: Type.Integer({ description: 'rows matching the filters (before offset/after_id paging)' }),
  limit: Type.Integer({ description: 'the page size used' }),
  offset: Type.Integer({ description: 'the offset used' }),
  has_more: Type.Boolean({ description: 'whether rows follow this page' })
}))
export type PaginationType = Static<typeof Pagination>

export const ErrorResponse = Type.Object({
  error: Type.Literal(true),
  message: Type.String(),
  status: Type.Integer(),
  code: StringEnum(ERROR_CODE_NAMES, { description: 'stable machine-readable error code (docs/api.md lists what each means)' }),
  request_id: Type.String({ description: 'the X-Request-Id of this request' })
}, { $id: 'ErrorResponse', description: 'The error envelope', examples: [{ error: true, message: 'Missing required field: worker_id', status: 400, code: 'validation_error', request_id: 'req_8f2c41d07a6b4e0b9d3c5a1e2f7b6c90' }] })

const ErrorRef = Type.Unsafe<Static<typeof ErrorResponse>>(Type.Ref('ErrorResponse'))

/**
 * Every route's error statuses, so errors are serialized like any other response. The document
 * lists each status an operation can answer with (schemas/openapi.ts), from the catalogue.
 */
export const errorResponses = {
  '4xx': ErrorRef,
  '5xx': ErrorRef
}

function nameOf (record: TSchema): string {
  const name = componentName(record)
  if (name === undefined) throw new Error('a response wraps a named record schema: declare it with named()')
  return name
}

/** `{data: record}`, named `<Record>One`. */
export function OneResponse<T extends TSchema> (record: T) {
  return named(`${nameOf(record)}One`, Type.Object({ data: record }))
}

/** `{data: [record], pagination}`, named `<Record>List`. */
export function ListResponse<T extends TSchema> (record: T) {
  return named(`${nameOf(record)}List`, Type.Object({ data: Type.Array(record), pagination: Pagination }))
}

/**
 * `GET x.php` lists, `GET x.php?id=` returns one: one route, so the answer is either. The two are
 * separate named schemas, so a typed client tells them apart with one check
 * (`'pagination' in body`); schemas/serializer.ts serializes each branch without Ajv.
 */
export function OneOrListResponse<O extends TSchema, L extends TSchema> (one: O, listed: L) {
  return Type.Union([OneResponse(one), ListResponse(listed)])
}

export const IdQuery = Type.Object({
  id: { ...Id, description: 'the record to change', examples: [1] }
}, { additionalProperties: false })

/** The querystring of a route that takes no query parameters: any one is a 400. */
export const NoQuery = Type.Object({}, { additionalProperties: false })
