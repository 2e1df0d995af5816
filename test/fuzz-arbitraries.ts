import fc from 'fast-check'

/**
 * fast-check arbitraries derived from a route's own JSON schemas (TypeBox objects are plain JSON
 * schema), in three flavours: values the schema accepts, values on its edges, and values it must
 * refuse (wrong types, out of range, too long, hostile text). Only the keywords the app's schemas
 * use are understood; anything else falls back to "any JSON".
 */
export interface JsonSchema {
  type?: string | string[]
  enum?: unknown[]
  const?: unknown
  format?: string
  pattern?: string
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  minLength?: number
  maxLength?: number
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  minProperties?: number
  items?: JsonSchema
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  allOf?: JsonSchema[]
  $ref?: string
  [key: string]: unknown
}

export type Resolve = (ref: string) => JsonSchema | undefined

/** Where the value goes: query strings carry text, so every leaf is turned into a string. */
export type Part = 'body' | 'query'

const HOSTILE_STRINGS = [
  '', ' ', '\u0000', 'null', 'undefined', 'NaN', '-0', '1e309', '0x10', '[]', '{}', '"', '\\', '%', '%00', '%zz',
  "' OR 1=1 --", '"; DROP TABLE workers; --', '<script>alert(1)</script>', '../../etc/passwd',
  '\u202e\u0645\u0631\u062d\u0628\u0627', 'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319', '\ud83d\ude00\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67',
  '\ud800', '\udfff', '\uffff', '\ufeffBOM', 'line\nbreak', 'tab\there', '２０２５－０６－１５', '٣', '𝟙𝟚𝟛',
  '2025-02-30', '2025-06-15T25:00:00Z', '2025-06-15T09:30:00', '9999-12-31T23:59:59+14:00', '0000-01-01T00:00:00Z',
  'tc_live_' + '0'.repeat(40), 'http://127.0.0.1:9/x?y=%00', 'file:///etc/passwd', 'javascript:alert(1)'
]

const hostileText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 200_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 5_000 }).map((n) => '\ud83d\ude00'.repeat(n)) }
)

const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }),
  hostileText, fc.constant([]), fc.constant({}), fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 })
)

function typesOf (schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type
  if (typeof schema.type === 'string') return [schema.type]
  return []
}

function pad2 (n: number): string { return String(n).padStart(2, '0') }

const calendarDate = fc.record({ y: fc.integer({ min: 2000, max: 2035 }), m: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }) })
  .map(({ y, m, d }) => `${y}-${pad2(m)}-${pad2(d)}`)
const timestamp = fc.record({
  date: calendarDate,
  h: fc.integer({ min: 0, max: 23 }),
  min: fc.integer({ min: 0, max: 59 }),
  s: fc.integer({ min: 0, max: 59 }),
  zone: fc.constantFrom('Z', '+00:00', '+01:00', '-05:00', '+05:30', '+14:00', '-12:00', '.123Z', '.5+02:00')
}).map(({ date, h, min, s, zone }) => `${date}T${pad2(h)}:${pad2(min)}:${pad2(s)}${zone}`)
/**
 * URLs (here and in the hostile strings) only ever point at a closed loopback port: a webhook ping
 * must never send fuzzing traffic anywhere else.
 */
const loopbackUrl = fc.tuple(fc.constantFrom('http', 'https'), fc.constantFrom('127.0.0.1', 'localhost'), fc.stringMatching(/^[a-z0-9/_-]{0,20}$/))
  .map(([scheme, host, path]) => `${scheme}://${host}:9/${path}`)

function formatted (format: string): fc.Arbitrary<string> | undefined {
  switch (format) {
    case 'date-time': return timestamp
    case 'date': return calendarDate
    case 'email': return fc.emailAddress()
    case 'uri': case 'url': return loopbackUrl
    case 'time': return fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([h, m]) => `${pad2(h)}:${pad2(m)}`)
    default: return undefined
  }
}

function stringArb (schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0
  const max = schema.maxLength ?? Math.max(min, 60)
  const fits = (s: string): boolean => s.length >= min && s.length <= max
  if (schema.format !== undefined) {
    const f = formatted(schema.format)
    if (f !== undefined) return f.filter(fits)
  }
  if (schema.pattern !== undefined) return fc.stringMatching(new RegExp(schema.pattern)).filter(fits)
  const cap = Math.min(max, min + 40)
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ minLength: min, maxLength: cap }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: min, maxLength: cap }).filter(fits) }
  )
}

function numberRange (schema: JsonSchema, integer: boolean): { min: number, max: number } {
  const step = integer ? 1 : 1e-9
  let min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + step : -1e9)
  let max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - step : 1e9)
  if (integer) { min = Math.ceil(Math.max(min, Number.MIN_SAFE_INTEGER)); max = Math.floor(Math.min(max, Number.MAX_SAFE_INTEGER)) }
  return { min, max }
}

export class SchemaArbitraries {
  constructor (private readonly resolve: Resolve) {}

  private deref (schema: JsonSchema): JsonSchema {
    let s = schema
    for (let i = 0; i < 5 && s.$ref !== undefined; i++) s = this.resolve(s.$ref) ?? {}
    return s
  }

  /** Values the schema accepts; ids and other bounded integers favour small values (existing rows). */
  valid (input: JsonSchema, part: Part): fc.Arbitrary<unknown> {
    const schema = this.deref(input)
    if (schema.const !== undefined) return fc.constant(schema.const)
    if (schema.enum !== undefined) return fc.constantFrom(...schema.enum)
    // the schema's own examples are values the route's deeper rules accept (a real time zone, …)
    const examples = [...(Array.isArray(schema.examples) ? schema.examples : []), ...(schema.default !== undefined ? [schema.default] : [])]
    if (examples.length > 0) return fc.oneof(fc.constantFrom(...examples), this.validWithoutExamples(schema, part))
    return this.validWithoutExamples(schema, part)
  }

  private validWithoutExamples (schema: JsonSchema, part: Part): fc.Arbitrary<unknown> {
    const options = schema.anyOf ?? schema.oneOf
    if (options !== undefined) return fc.oneof(...options.map((o) => this.valid(o, part)))
    if (schema.allOf !== undefined) return this.valid(Object.assign({}, ...schema.allOf.map((s) => this.deref(s))) as JsonSchema, part)
    const types = typesOf(schema)
    if (types.length === 0) return anyJson
    return fc.oneof(...types.map((type) => this.validOfType({ ...schema, type }, type, part)))
  }

  private validOfType (schema: JsonSchema, type: string, part: Part): fc.Arbitrary<unknown> {
    switch (type) {
      case 'null': return fc.constant(null)
      case 'boolean': return fc.boolean()
      case 'string': return stringArb(schema)
      case 'integer': {
        const { min, max } = numberRange(schema, true)
        const small = fc.integer({ min: Math.max(min, Math.min(max, 0)), max: Math.min(max, Math.max(min, 0) + 6) })
        return fc.oneof({ weight: 3, arbitrary: small }, { weight: 1, arbitrary: fc.integer({ min, max }) })
      }
      case 'number': {
        const { min, max } = numberRange(schema, false)
        return fc.double({ min, max, noNaN: true, noDefaultInfinity: true })
      }
      case 'array': {
        const items = schema.items === undefined ? anyJson : this.valid(schema.items, part)
        const arr = fc.array(items, { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 5, (schema.minItems ?? 0) + 5) })
        return schema.uniqueItems === true ? arr.map((a) => [...new Map(a.map((v) => [JSON.stringify(v), v])).values()]).filter((a) => a.length >= (schema.minItems ?? 0)) : arr
      }
      case 'object': return this.object(schema, part, () => 'valid')
      default: return anyJson
    }
  }

  /** Edge values: limits exactly, empty and full-length text, zero, the largest safe integers. */
  boundary (input: JsonSchema, part: Part): fc.Arbitrary<unknown> {
    const schema = this.deref(input)
    const types = typesOf(schema)
    const edges: unknown[] = []
    if (types.includes('integer') || types.includes('number')) {
      const { min, max } = numberRange(schema, types.includes('integer'))
      edges.push(min, max, 0, -0)
      if (types.includes('number')) edges.push(min + 1e-7, max - 1e-7, 1e-300)
    }
    if (types.includes('string') && schema.format === undefined && schema.pattern === undefined && schema.enum === undefined) {
      const min = schema.minLength ?? 0
      const max = schema.maxLength ?? 1000
      edges.push('a'.repeat(min), 'é'.repeat(max), '\ud83d\ude00'.repeat(Math.floor(max / 2)), ' '.repeat(Math.max(min, 1)), '\u0000'.repeat(Math.max(min, 1)))
    }
    if (types.includes('null')) edges.push(null)
    if (edges.length === 0) return this.valid(schema, part)
    return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...edges) }, { weight: 1, arbitrary: this.valid(schema, part) })
  }

  /** Values the schema should refuse (or nearly: fuzzing only needs them hostile). */
  invalid (input: JsonSchema, part: Part): fc.Arbitrary<unknown> {
    const schema = this.deref(input)
    const types = typesOf(schema)
    const wrong: Array<fc.Arbitrary<unknown>> = [hostileText, anyJson]
    if (types.includes('integer') || types.includes('number')) {
      const { min, max } = numberRange(schema, types.includes('integer'))
      wrong.push(fc.constantFrom(min - 1, max + 1, 1.5, -1, 2 ** 53, 1e308, '5', '1e3', true))
    }
    if (types.includes('string')) {
      const max = schema.maxLength ?? 1000
      wrong.push(fc.constantFrom('x'.repeat(max + 1), 123, false, ['a'], { a: 1 }))
    }
    if (schema.enum !== undefined) wrong.push(fc.constantFrom('NOT_IN_ENUM', String(schema.enum[0]).toUpperCase(), ` ${String(schema.enum[0])}`))
    if (!types.includes('null')) wrong.push(fc.constant(null))
    if (types.includes('object')) wrong.push(this.object(schema, part, () => 'invalid'))
    return fc.oneof(...wrong)
  }

  /** A value for any schema: mostly valid, sometimes on an edge, sometimes hostile. */
  mixed (schema: JsonSchema, part: Part, hostility: number): fc.Arbitrary<unknown> {
    return fc.oneof(
      { weight: 20 - hostility, arbitrary: this.valid(schema, part) },
      { weight: 3, arbitrary: this.boundary(schema, part) },
      { weight: hostility, arbitrary: this.invalid(schema, part) }
    )
  }

  /**
   * An object for an object schema: each property valid / boundary / invalid as `flavour` says;
   * sometimes a required property missing, sometimes an unknown one added.
   */
  object (input: JsonSchema, part: Part, flavour: () => 'valid' | 'mixed' | 'invalid', hostility = 1): fc.Arbitrary<Record<string, unknown>> {
    const schema = this.deref(input)
    const props = schema.properties ?? {}
    const required = new Set(schema.required ?? [])
    const entries = Object.entries(props).map(([name, prop]) => {
      const f = flavour()
      const value = f === 'valid' ? this.valid(prop, part) : f === 'invalid' ? this.invalid(prop, part) : this.mixed(prop, part, hostility)
      // optional properties are present about half the time; required ones nearly always
      const presence = required.has(name) ? fc.nat(30).map((n) => n !== 0) : fc.boolean()
      return fc.tuple(fc.constant(name), presence, value)
    })
    const unknownField = fc.tuple(fc.constantFrom('extra', '__proto__', 'constructor', 'id', 'account_id', 'created_at', ''), anyJson)
    const extra = sometimes(unknownField, flavour() === 'valid' ? 0 : 1, 5)
    // a third of the objects carry only their required properties: cross-field rules (latitude
    // needs longitude, …) then rarely get in the way of reaching the deeper code
    const minimal = fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 2, arbitrary: fc.constant(false) })
    return fc.tuple(minimal, fc.tuple(...entries), extra).map(([onlyRequired, fields, more]) => {
      const out: Record<string, unknown> = {}
      for (const [name, present, value] of fields) if (present && (!onlyRequired || required.has(name))) out[name] = value
      if (more !== null) Object.defineProperty(out, more[0], { value: more[1], enumerable: true, configurable: true, writable: true })
      return out
    })
  }
}

/** `arb` in `weight` cases out of `weight + nulls`, else null. */
export function sometimes<T> (arb: fc.Arbitrary<T>, weight: number, nulls: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: nulls, arbitrary: fc.constant(null) }, { weight, arbitrary: arb })
}

/** Query values travel as text: numbers and booleans are written out, nested values JSON-encoded. */
export function toQueryString (query: Record<string, unknown>, repeatKey: string | null): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) {
    const text = value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value)
    params.append(name, text)
    if (name === repeatKey) params.append(name, text)
  }
  const s = params.toString()
  return s === '' ? '' : '?' + s
}

/**
 * A body reshaped to stress the parser: one field holding arrays or objects nested `size` levels
 * deep, or one holding `size` siblings. Built as text, because JSON.stringify itself recurses.
 */
export interface BodyShape { kind: 'deep' | 'wide', size: number, container: 'array' | 'object', field: string }

export function bodyShape (properties: Record<string, JsonSchema>): fc.Arbitrary<BodyShape> {
  const fields = Object.keys(properties)
  // free-form fields (no type) pass schema validation whatever they hold: the deepest path in
  const freeForm = fields.filter((f) => { const p = properties[f]!; return p.type === undefined && p.anyOf === undefined && p.$ref === undefined && p.enum === undefined && p.const === undefined })
  const field = fc.oneof(
    { weight: freeForm.length === 0 ? 0 : 3, arbitrary: freeForm.length === 0 ? fc.constant('extra') : fc.constantFrom(...freeForm) },
    { weight: fields.length === 0 ? 0 : 1, arbitrary: fields.length === 0 ? fc.constant('extra') : fc.constantFrom(...fields) },
    { weight: 1, arbitrary: fc.constant('extra') })
  return fc.record({
    kind: fc.constantFrom<BodyShape['kind']>('deep', 'wide'),
    // around the depth limit most often, then anything up to far past it
    size: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 41, max: 2_000 }), { weight: 2, arbitrary: fc.integer({ min: 2_001, max: 100_000 }) }),
    container: fc.constantFrom<BodyShape['container']>('array', 'object'),
    field
  })
}

function shapedValue (shape: BodyShape): string {
  const { kind, size, container } = shape
  if (kind === 'deep') return container === 'array' ? '['.repeat(size) + ']'.repeat(size) : '{"a":'.repeat(size) + '0' + '}'.repeat(size)
  if (container === 'array') return '[' + Array.from({ length: size }, (_, i) => i % 2 === 0 ? String(i) : `{"a":[${i}]}`).join(',') + ']'
  return '{' + Array.from({ length: size }, (_, i) => `"k${i}":[${i}]`).join(',') + '}'
}

/** `body` (an object, else `{}`) with `shape.field` replaced by the shaped value, as JSON text. */
export function shapedJson (body: unknown, shape: BodyShape): string {
  const rest = body !== null && typeof body === 'object' && !Array.isArray(body) ? { ...(body as Record<string, unknown>) } : {}
  delete rest[shape.field]
  const restText = JSON.stringify(rest)
  return '{' + JSON.stringify(shape.field) + ':' + shapedValue(shape) + (restText === '{}' ? '}' : ',' + restText.slice(1))
}
