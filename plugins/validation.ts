import fp from 'fastify-plugin'
import { Ajv, type Options, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { validationError } from '../domain/errors.js'
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../domain/json-depth.js'
import { isCalendarDate, parseTimestamp } from '../domain/time.js'
import { onFirstUse } from '../schemas/compile-on-first-use.js'

// ajv-formats is CommonJS with a default export
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

function makeAjv (options: Options): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: false, useDefaults: true, removeAdditional: false, ...options })
  addFormats(ajv, ['email', 'uri'])
  // Our own meanings: a zoned ISO-8601 timestamp (any offset), and a calendar date that exists.
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => parseTimestamp(s) !== null })
  ajv.addFormat('date', { type: 'string', validate: isCalendarDate })
  return ajv
}

/** What Fastify calls: true or false, with the failure's details on `errors` as Ajv leaves them. */
interface Validator {
  (data: unknown): boolean
  errors: ValidateFunction['errors']
}

// Compiled on first use (schemas/compile-on-first-use.ts) and kept for the life of the process,
// by schema object: the route schemas are module constants, so a process that builds many apps
// (the tests build one per test) compiles each schema once instead of once per app.
const bodyValidators = new WeakMap<object, Validator>()
const otherValidators = new WeakMap<object, Validator>()

function validatorFor (cache: WeakMap<object, Validator>, ajv: Ajv, schema: object): Validator {
  let validator = cache.get(schema)
  if (validator === undefined) {
    const compiled = onFirstUse(() => ajv.compile(schema))
    const check = Object.assign((data: unknown): boolean => {
      const validate = compiled()
      const valid = validate(data)
      check.errors = validate.errors
      return valid
    }, { errors: null as ValidateFunction['errors'] })
    validator = check
    cache.set(schema, validator)
  }
  return validator
}

// JSON bodies are checked strictly: "5" is not a number, unknown fields are an error, nothing is
// silently removed. Query strings and params arrive as text, so their numbers are coerced.
export default fp(async function validationPlugin (fastify) {
  const bodyAjv = makeAjv({ coerceTypes: false })
  const queryAjv = makeAjv({ coerceTypes: true })
  fastify.setValidatorCompiler(({ schema, httpPart }) => httpPart === 'body'
    ? validatorFor(bodyValidators, bodyAjv, schema)
    : validatorFor(otherValidators, queryAjv, schema))
  // Bodies are JSON only: without this, Fastify's built-in text/plain parser hands a string to
  // the body schema and a text body is a confusing 400 instead of 415 unsupported_media_type.
  fastify.removeContentTypeParser('text/plain')

  // Fastify's own JSON parsing (empty and malformed bodies, prototype poisoning), then a cap on
  // nesting before anything recursive sees the body. A too-deep body is valid JSON that breaks a
  // limit on its shape, like a too-long field: validation_error, not invalid_json.
  const parseJson = fastify.getDefaultJsonParser(
    fastify.initialConfig.onProtoPoisoning ?? 'error', fastify.initialConfig.onConstructorPoisoning ?? 'error')
  fastify.removeContentTypeParser('application/json')
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, body as string, (err, value) => {
      if (err !== null) done(err, undefined)
      else if (nestsDeeperThan(value, MAX_JSON_DEPTH)) done(validationError(`Request body is nested too deeply: at most ${MAX_JSON_DEPTH} levels of objects and arrays`), undefined)
      else done(null, value)
    })
  })
}, { name: 'validation' })
