import SerializerSelector from '@fastify/fast-json-stringify-compiler'
import { onFirstUse } from './compile-on-first-use.js'

type JsonSchema = Record<string, unknown>
type SerializerFactory = SerializerSelector.SerializerFactory
type SerializerCompiler = SerializerSelector.SerializerCompiler

const defaultFactory = SerializerSelector()

function isObject (value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A `GET x.php` answer is one record (`?id=`) or a list, so its schema is
 * `anyOf [{data: record}, {data: [record], pagination}]` (schemas/common.ts `OneOrListResponse`).
 * fast-json-stringify serializes an anyOf by validating the value against each branch with Ajv,
 * formats included, on every response: a single read paid several microseconds for it and a page of
 * fifty records paid it fifty times. For exactly this shape (two object branches, one whose `data`
 * is an object, one whose `data` is an array) the branches are compiled separately and picked by
 * `Array.isArray(value.data)`. The route's schema, and so the OpenAPI document, keeps the anyOf.
 */
export function splitOneOrList (schema: unknown): { one: JsonSchema, list: JsonSchema } | undefined {
  if (!isObject(schema) || !Array.isArray(schema.anyOf) || schema.anyOf.length !== 2) return undefined
  const branches: unknown[] = schema.anyOf
  const dataType = (branch: unknown): unknown =>
    isObject(branch) && isObject(branch.properties) && isObject(branch.properties.data) ? branch.properties.data.type : undefined
  const one = branches.find((b) => dataType(b) === 'object')
  const list = branches.find((b) => dataType(b) === 'array')
  if (one === undefined || list === undefined) return undefined
  return { one: one as JsonSchema, list: list as JsonSchema }
}

type Serializer = ReturnType<SerializerCompiler>

/**
 * Serializers are compiled on first use (schemas/compile-on-first-use.ts) and kept for the life of
 * the process, by the shared schemas and options, the route's schema object, status and content
 * type (all a serializer depends on): the route schemas are module constants, so a process that
 * builds many apps (the tests build one per test) compiles each once instead of once per app.
 */
const compiledByContext = new Map<string, WeakMap<object, Map<string, Serializer>>>()

/** Fastify's own serializer compiler (fast-json-stringify), with one-or-list answers split as above. */
export const buildSerializer: SerializerFactory = (externalSchemas, options): SerializerCompiler => {
  const compile = defaultFactory(externalSchemas, options)
  const context = JSON.stringify([externalSchemas, options ?? null])
  let compiled = compiledByContext.get(context)
  if (compiled === undefined) {
    compiled = new WeakMap()
    compiledByContext.set(context, compiled)
  }
  const build = (route: Parameters<SerializerCompiler>[0]): Serializer => {
    const split = splitOneOrList(route.schema)
    if (split === undefined) return compile(route)
    const one = compile({ ...route, schema: split.one })
    const list = compile({ ...route, schema: split.list })
    return (value: unknown) => Array.isArray((value as { data?: unknown } | null)?.data) ? list(value) : one(value)
  }
  return (route) => {
    if (typeof route.schema !== 'object' || route.schema === null) return build(route)
    let bySchema = compiled.get(route.schema)
    if (bySchema === undefined) {
      bySchema = new Map()
      compiled.set(route.schema, bySchema)
    }
    const key = `${route.httpStatus} ${(route as { contentType?: string }).contentType ?? ''}`
    let serializer = bySchema.get(key)
    if (serializer === undefined) {
      const built = onFirstUse(() => build(route))
      serializer = (value: unknown) => built()(value)
      bySchema.set(key, serializer)
    }
    return serializer
  }
}
