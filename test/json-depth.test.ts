import t from 'tap'
import { bearer, buildTestApp, call, createTestAccount, routeTable } from './helper.js'
import { insertWorker } from './time-fixtures.js'

/** `[[[…]]]` nested `depth` levels, as text: building it as an object would recurse in the test itself. */
const nestedArrays = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
const nestedObjects = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)

t.test('a deeply nested body is 400 validation_error on every route, with or without an Idempotency-Key', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  const deep = `{"worker_id":${worker},"action":"in","survey_answers":${nestedArrays(100_000)}}`
  for (const key of [undefined, 'deep-1']) {
    const res = await call(app, acct.key, {
      method: 'POST',
      url: '/api/v1/clock.php',
      headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
      payload: deep
    })
    t.equal(res.statusCode, 400, `Idempotency-Key ${String(key)}`)
    t.equal(res.json().code, 'validation_error')
    t.match(res.json().message, /nested too deeply/)
  }
  const objects = await call(app, acct.key, { method: 'POST', url: '/api/v1/clock.php', headers: { 'content-type': 'application/json', 'idempotency-key': 'deep-2' }, payload: `{"worker_id":${worker},"action":"in","survey_answers":${nestedObjects(50_000)}}` })
  t.equal(objects.statusCode, 400)
  t.equal(objects.json().code, 'validation_error')
  t.equal((await app.db.selectFrom('time_entries').select('id').execute()).length, 0, 'nothing written')

  for (const route of routeTable(app).filter((r) => (r.method === 'POST' || r.method === 'PUT') && r.url.startsWith('/api/v1/'))) {
    const res = await app.inject({
      method: route.method as 'POST' | 'PUT',
      url: route.url,
      headers: { ...bearer(acct.key), 'content-type': 'application/json', 'idempotency-key': `deep-${route.method}-${route.url}` },
      payload: `{"x":${nestedArrays(10_000)}}`
    })
    t.equal(res.statusCode, 400, `${route.method} ${route.url}`)
    t.equal(res.json().code, 'validation_error', `${route.method} ${route.url}`)
  }
})

t.test('32 levels are accepted, 33 are not; wide bodies are not deep', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  // the body itself is level 1, survey_answers' value level 2
  const at = (levels: number, key: string) => call(app, acct.key, {
    method: 'POST',
    url: '/api/v1/clock.php',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    payload: `{"worker_id":${worker},"action":"in","survey_answers":${nestedArrays(levels - 1)}}`
  })
  const over = await at(33, 'depth-33')
  t.equal(over.statusCode, 400)
  t.equal(over.json().code, 'validation_error')
  t.equal((await at(32, 'depth-32')).statusCode, 201)
  const wide = await call(app, acct.key, {
    method: 'POST',
    url: '/api/v1/clock.php',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'wide' },
    payload: JSON.stringify({ worker_id: worker, action: 'out', survey_answers: Array.from({ length: 20_000 }, (_, i) => ({ [`q${i}`]: [i, { a: [i] }] })) })
  })
  t.equal(wide.statusCode, 200, 'twenty thousand shallow answers are fine')
})
