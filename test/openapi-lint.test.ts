import t from 'tap'
import { copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { createDemoAccount } from '../db/demo.js'
import { isCalendarDate, parseTimestamp } from '../domain/time.js'
import { ROOT, buildTestApp, call, runScript } from './helper.js'

// ajv-formats is CommonJS with a default export
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

type Json = Record<string, any>

async function openapiDocument (t: { after: (fn: () => unknown) => void }): Promise<Json> {
  const app = await buildTestApp(t)
  return (await app.inject({ url: '/api/v1/openapi.json' })).json()
}

t.test('the document passes Redocly\'s recommended ruleset with no errors and no warnings', async (t) => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'openapi.json'), JSON.stringify(await openapiDocument(t), null, 2))
  copyFileSync(join(ROOT, 'test/redocly/redocly.yaml'), join(dir, 'redocly.yaml'))
  copyFileSync(join(ROOT, 'test/redocly/.redocly.lint-ignore.yaml'), join(dir, '.redocly.lint-ignore.yaml'))
  // offline and quiet: no telemetry, no update check
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', CI: 'true', NO_COLOR: '1' }
  const result = await runScript(join(ROOT, 'node_modules/@redocly/cli/bin/cli.js'), ['lint', 'openapi.json', '--format', 'json'], env, dir)
  const report = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as { totals: { errors: number, warnings: number, ignored: number }, problems: Array<{ ruleId: string, message: string, location: Array<{ pointer: string }> }> }
  const problems = report.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(', ')}`)
  t.same(problems, [], 'no problems')
  t.match(report.totals, { errors: 0, warnings: 0 })
  t.equal(result.code, 0, result.stderr)
})

/** Every example in the document, with the schema it illustrates. */
function examplesOf (doc: Json): Array<{ where: string, schema: Json, value: unknown }> {
  const found: Array<{ where: string, schema: Json, value: unknown }> = []
  const fromMedia = (where: string, media: Json | undefined) => {
    if (media?.schema === undefined) return
    if ('example' in media) found.push({ where, schema: media.schema, value: media.example })
    for (const [name, example] of Object.entries<Json>(media.examples ?? {})) found.push({ where: `${where} ${name}`, schema: media.schema, value: example.value })
  }
  const fromSchema = (where: string, schema: unknown) => {
    if (typeof schema !== 'object' || schema === null) return
    if (Array.isArray(schema)) { schema.forEach((s, i) => fromSchema(`${where}/${i}`, s)); return }
    const s = schema as Json
    if (Array.isArray(s.examples)) s.examples.forEach((value: unknown, i: number) => found.push({ where: `${where} examples[${i}]`, schema: s, value }))
    if ('example' in s) found.push({ where: `${where} example`, schema: s, value: s.example })
    for (const [key, value] of Object.entries(s)) if (key !== 'examples' && key !== 'example') fromSchema(`${where}/${key}`, value)
  }
  fromSchema('#/components/schemas', doc.components.schemas)
  for (const [path, item] of Object.entries<Json>({ ...doc.paths, ...doc.webhooks })) {
    for (const [method, operation] of Object.entries<Json>(item)) {
      const at = `${method.toUpperCase()} ${path}`
      for (const parameter of operation.parameters ?? []) {
        fromSchema(`${at} ${String(parameter.name)}`, parameter.schema)
        if ('example' in parameter) found.push({ where: `${at} ${String(parameter.name)} example`, schema: parameter.schema, value: parameter.example })
      }
      for (const [type, media] of Object.entries<Json>(operation.requestBody?.content ?? {})) fromMedia(`${at} body ${type}`, media)
      for (const [status, response] of Object.entries<Json>(operation.responses ?? {})) {
        for (const [type, media] of Object.entries<Json>(response.content ?? {})) fromMedia(`${at} ${status} ${type}`, media)
      }
    }
  }
  return found
}

t.test('every documented example validates against its schema', async (t) => {
  const doc = await openapiDocument(t)
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats(ajv, ['email', 'uri'])
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => parseTimestamp(s) !== null })
  ajv.addFormat('date', { type: 'string', validate: isCalendarDate })
  ajv.addSchema({ $id: 'openapi.json', components: doc.components })
  const refsToDocument = (schema: Json): Json => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi.json#/components/'))
  const examples = examplesOf(doc)
  t.ok(examples.length >= 20, `the document has examples (${examples.length})`)
  for (const { where, schema, value } of examples) {
    const { examples: _examples, example: _example, ...plain } = schema
    const validate = ajv.compile(refsToDocument(plain))
    t.ok(validate(value), `${where}: ${JSON.stringify(value)} ${ajv.errorsText(validate.errors)}`)
  }
})

t.test('the request examples work against `tempclock demo` data on a new database', async (t) => {
  const app = await buildTestApp(t)
  const doc = (await app.inject({ url: '/api/v1/openapi.json' })).json() as Json
  const { key } = await createDemoAccount(app.engine)
  let tried = 0
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const [method, operation] of Object.entries<Json>(item)) {
      const media = operation.requestBody?.content?.['application/json']
      if (media === undefined) continue
      const bodies: unknown[] = 'example' in media ? [media.example] : Object.values<Json>(media.examples ?? {}).map((e) => e.value)
      t.ok(bodies.length > 0, `${method.toUpperCase()} ${path}: "Try it out" has an example body`)
      // a required query parameter (PUT/DELETE ?id=) is filled in from its example
      const query = (operation.parameters ?? []).filter((p: Json) => p.in === 'query' && p.required === true)
        .map((p: Json) => `${String(p.name)}=${String(p.schema.examples?.[0] ?? p.example)}`).join('&')
      for (const body of bodies) {
        const res = await call(app, key, { method: method.toUpperCase() as 'POST', url: query === '' ? path : `${path}?${query}`, payload: body as Json })
        t.ok(res.statusCode >= 200 && res.statusCode < 300, `${method.toUpperCase()} ${path} ${JSON.stringify(body)}: ${res.statusCode} ${res.statusCode >= 300 ? res.body : ''}`)
        tried++
      }
    }
  }
  t.ok(tried >= 10, `examples tried: ${tried}`)
})
