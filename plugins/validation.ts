import fp from 'fastify-plugin'
import { Ajv, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { isCalendarDate, parseTimestamp } from '../domain/time.js'

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

// JSON bodies are checked strictly: "5" is not a number, unknown fields are an error, nothing is
// silently removed. Query strings and params arrive as text, so their numbers are coerced.
export default fp(async function validationPlugin (fastify) {
  const bodyAjv = makeAjv({ coerceTypes: false })
  const queryAjv = makeAjv({ coerceTypes: true })
  fastify.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema))
  // Bodies are JSON only: without this, Fastify's built-in text/plain parser hands a string to
  // the body schema and a text body is a confusing 400 instead of 415 unsupported_media_type.
  fastify.removeContentTypeParser('text/plain')
}, { name: 'validation' })
