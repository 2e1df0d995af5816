import SerializerSelector from '@fastify/fast-json-stringify-compiler'

type JsonSchema = Record<string, unknown>
type SerializerFactory = SerializerSelector.SerializerFactory
type SerializerCompiler = SerializerSelector.SerializerCompiler

const defaultFactory = SerializerSelector()

function isObject (value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A `GET x.php` answer is one record (`?id=`) or a list, so its schema says
 * `data: anyOf [record, array of records]` (schemas/common.ts `OneOrListResponse`). fast-json-stringify
 * serializes an anyOf by validating the value against each branch with Ajv, formats included, on
 * every response: a single read paid several microseconds for it and a page of fifty records paid it
 * fifty times. For exactly this shape (an object whose `data` is anyOf one object schema and one
 * array schema) the two branches are compiled separately and the branch is picked by
 * `Array.isArray(value.data)`. The route's schema, and so the OpenAPI document, keeps the anyOf.
 */
export function splitOneOrList (schema: unknown): { one: JsonSchema, list: JsonSchema } | undefined {
  if (!isObject(schema) || !isObject(schema.properties)) return undefined
  const data = schema.properties.data
  if (!isObject(data) || !Array.isArray(data.anyOf) || data.anyOf.length !== 2) return undefined
  const branches: unknown[] = data.anyOf
  const one = branches.find((b) => isObject(b) && b.type === 'object')
  const list = branches.find((b) => isObject(b) && b.type === 'array')
  if (one === undefined || list === undefined) return undefined
  const withData = (branch: unknown): JsonSchema => ({ ...schema, properties: { ...(schema.properties as JsonSchema), data: branch } })
  return { one: withData(one), list: withData(list) }
}

/** Fastify's own serializer compiler (fast-json-stringify), with one-or-list answers split as above. */
export const buildSerializer: SerializerFactory = (externalSchemas, options): SerializerCompiler => {
  const compile = defaultFactory(externalSchemas, options)
  return (route) => {
    const split = splitOneOrList(route.schema)
    if (split === undefined) return compile(route)
    const one = compile({ ...route, schema: split.one })
    const list = compile({ ...route, schema: split.list })
    return (value: unknown) => Array.isArray((value as { data?: unknown } | null)?.data) ? list(value) : one(value)
  }
}
