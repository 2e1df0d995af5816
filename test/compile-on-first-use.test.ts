/**
 * Schemas are compiled when a route first needs them (schemas/compile-on-first-use.ts), so a bad
 * schema would only show on its first request: `compilePending` finds it first, and here it
 * compiles every schema of the real app.
 */
import t from 'tap'
import Fastify from 'fastify'
import { compilePending } from '../schemas/compile-on-first-use.js'
import { buildSerializer } from '../schemas/serializer.js'
import validation from '../plugins/validation.js'
import { buildTestApp, createTestAccount, call } from './helper.js'

t.test('every schema of the app compiles', async (t) => {
  const app = await buildTestApp(t)
  const { key } = await createTestAccount(app)
  t.equal((await call(app, key, { method: 'GET', url: '/api/v1/workers.php' })).statusCode, 200)
  const compiled = compilePending()
  // a few dozen routes, each with its query or body validator and its answers' serializers
  t.ok(compiled > 50, `${compiled} compiled on demand, none of them failing`)
  t.equal(compilePending(), 0, 'and nothing is left')
  t.equal((await call(app, key, { method: 'GET', url: '/api/v1/workers.php?limit=2' })).statusCode, 200, 'the app answers as before')
})

t.test('a schema is compiled on its first use, not when its route is registered', async (t) => {
  compilePending()
  const app = Fastify({ schemaController: { compilersFactory: { buildSerializer } } })
  await app.register(validation)
  let ready = false
  app.post('/things', {
    // `type: 'no such type'` is a schema Ajv refuses to compile
    schema: { body: { type: 'no such type' }, response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } }
  }, async () => ({ ok: ready, extra: 'not serialized' }))
  await app.ready()
  ready = true
  t.teardown(async () => { await app.close() })
  t.throws(() => compilePending(), /no such type|schema is invalid/, 'the bad schema was waiting, and compilePending finds it')
  t.equal(compilePending(), 0, 'the serializer was compiled on that pass too')
})

t.test('a route that is used is compiled once, on its first request', async (t) => {
  compilePending()
  const app = Fastify({ schemaController: { compilersFactory: { buildSerializer } } })
  await app.register(validation)
  app.post('/things', {
    schema: {
      body: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } }
    }
  }, async (request) => ({ ...(request.body as object), extra: 'not serialized' }))
  await app.ready()
  t.teardown(async () => { await app.close() })
  const bad = await app.inject({ method: 'POST', url: '/things', payload: { n: 'five' } })
  t.equal(bad.statusCode, 400, 'the validator works from its first call')
  const good = await app.inject({ method: 'POST', url: '/things', payload: { n: 5 } })
  t.same(good.json(), { n: 5 }, 'so does the serializer')
  t.equal(compilePending(), 0, 'both were compiled by those requests, nothing waits')
})
