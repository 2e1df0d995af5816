import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { bearer, buildTestApp, createTestAccount } from './helper.js'
import { sqliteOf, sqliteOnly } from './helper.js'
import { sql } from 'kysely'

type Assert = Pick<typeof t, 'equal' | 'same' | 'match' | 'ok' | 'notMatch'>

/** The §2 envelope, exactly: these five fields and nothing else; request_id equals the header. */
function assertError (t: Assert, res: LightMyRequestResponse, status: number, code: string, message?: string | RegExp): void {
  t.equal(res.statusCode, status, `${code}: status`)
  t.match(res.headers['content-type'], /^application\/json; charset=utf-8/, `${code}: JSON`)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'request_id', 'status'], `${code}: envelope fields`)
  t.equal(body.error, true)
  t.equal(body.status, status)
  t.equal(body.code, code)
  t.equal(body.request_id, res.headers['x-request-id'], `${code}: request_id equals X-Request-Id`)
  if (message instanceof RegExp) t.match(body.message, message)
  else if (message !== undefined) t.equal(body.message, message, `${code}: message`)
  t.notMatch(body.message, /\bat \S+:\d+|SQLITE|select |node_modules/i, 'no internals in the message')
}

t.test('validation errors name the field (body)', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const post = async (payload: unknown) =>
    await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: bearer(account.key), payload: payload as Record<string, unknown> })

  assertError(t, await post({ city: 'Leeds' }), 400, 'validation_error', 'Missing required field: name')
  assertError(t, await post({ name: 'Depot', colour: 'red' }), 400, 'validation_error', 'Unknown field: colour')
  assertError(t, await post({ name: 'Depot', latitude: '5' }), 400, 'validation_error', 'Invalid field latitude: must be number or null')
  assertError(t, await post({ name: 'Depot', geofence_radius_m: 5.5 }), 400, 'validation_error', 'Invalid field geofence_radius_m: must be integer or null')
  assertError(t, await post({ name: 'Depot', active: 'true' }), 400, 'validation_error', 'Invalid field active: must be boolean')
  assertError(t, await post({ name: 'Depot', geofence_mode: 'sometimes' }), 400, 'validation_error', 'Invalid field geofence_mode: must be one of off, warn, block, strict')
  assertError(t, await post({ name: '' }), 400, 'validation_error', 'Invalid field name: must not be empty')
  assertError(t, await post({ name: 'x'.repeat(201) }), 400, 'validation_error', 'Invalid field name: must be at most 200 characters')
  assertError(t, await post({ name: 'Depot', latitude: 91, longitude: 0 }), 400, 'validation_error', 'Invalid field latitude: must be <= 90')
  assertError(t, await post([{ name: 'Depot' }]), 400, 'validation_error', 'Request body must be a JSON object')
  const nothing = await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: { ...bearer(account.key), 'content-type': 'application/json' }, payload: 'null' })
  assertError(t, nothing, 400, 'validation_error', 'Request body must be a JSON object')

  const put = await app.inject({ method: 'PUT', url: '/api/v1/locations.php?id=1', headers: bearer(account.key), payload: {} })
  assertError(t, put, 400, 'validation_error', 'Request body must contain at least one field to change')
  const rows = await app.db.selectFrom('locations').selectAll().execute()
  t.same(rows, [], 'nothing was written by any rejected request')
})

t.test('validation errors name the parameter (query)', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const get = async (query: string) => await app.inject({ url: '/api/v1/locations.php?' + query, headers: bearer(account.key) })
  const dateTime = 'must be a valid date-time (ISO-8601 with a time zone, e.g. 2025-06-15T09:30:00Z)'

  assertError(t, await get('updated_since=yesterday'), 400, 'validation_error', `Invalid query parameter updated_since: ${dateTime}`)
  assertError(t, await get('updated_since=2025-06-15'), 400, 'validation_error', `Invalid query parameter updated_since: ${dateTime}`)
  assertError(t, await get('updated_since=2025-06-15T09:30:00'), 400, 'validation_error', `Invalid query parameter updated_since: ${dateTime}`)
  assertError(t, await get('updated_since=2025-02-30T09:30:00Z'), 400, 'validation_error', `Invalid query parameter updated_since: ${dateTime}`)
  assertError(t, await get('updated_since=2025-06-15T24:00:00Z'), 400, 'validation_error', `Invalid query parameter updated_since: ${dateTime}`)
  assertError(t, await get('limit=101'), 400, 'validation_error', 'Invalid query parameter limit: must be <= 100')
  assertError(t, await get('limit=0'), 400, 'validation_error', 'Invalid query parameter limit: must be >= 1')
  assertError(t, await get('offset=-1'), 400, 'validation_error', 'Invalid query parameter offset: must be >= 0')
  assertError(t, await get('id=abc'), 400, 'validation_error', 'Invalid query parameter id: must be integer')
  assertError(t, await get('id=1.5'), 400, 'validation_error', 'Invalid query parameter id: must be integer')
  assertError(t, await get('id=0'), 400, 'validation_error', 'Invalid query parameter id: must be >= 1')
  assertError(t, await get('after_id=x'), 400, 'validation_error', 'Invalid query parameter after_id: must be integer')
  assertError(t, await get('active=yes'), 400, 'validation_error', 'Invalid query parameter active: must be one of 1, 0, true, false')
  assertError(t, await get('page=2'), 400, 'validation_error', 'Unknown query parameter: page')
  assertError(t, await get('search='), 400, 'validation_error', 'Invalid query parameter search: must not be empty')
  const put = await app.inject({ method: 'PUT', url: '/api/v1/locations.php', headers: bearer(account.key), payload: { name: 'X' } })
  assertError(t, put, 400, 'validation_error', 'Missing required query parameter: id')

  // a timestamp with an offset is fine
  const ok = await get('updated_since=2025-06-15T10:30:00%2B01:00')
  t.equal(ok.statusCode, 200)
  t.same(ok.json().data, [])
})

t.test('malformed and empty JSON bodies', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const send = async (payload: string, contentType = 'application/json') => await app.inject({
    method: 'POST', url: '/api/v1/locations.php', headers: { ...bearer(account.key), 'content-type': contentType }, payload
  })
  assertError(t, await send('{"name": "Depot",'), 400, 'invalid_json', 'Request body is not valid JSON')
  assertError(t, await send("{'name': 'Depot'}"), 400, 'invalid_json', 'Request body is not valid JSON')
  assertError(t, await send(''), 400, 'invalid_json', 'Request body is empty but Content-Type is application/json')
  const put = await app.inject({ method: 'PUT', url: '/api/v1/locations.php?id=1', headers: { ...bearer(account.key), 'content-type': 'application/json' }, payload: '' })
  assertError(t, put, 400, 'invalid_json', 'Request body is empty but Content-Type is application/json')

  assertError(t, await send('name=Depot', 'text/plain'), 415, 'unsupported_media_type', 'Request body must be JSON (Content-Type: application/json)')
  assertError(t, await send('name=Depot', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type')
  assertError(t, await send('<name>Depot</name>', 'application/xml'), 415, 'unsupported_media_type')
  const charset = await send('{"name":"Depot"}', 'application/json; charset=utf-8')
  t.equal(charset.statusCode, 201, 'JSON with a charset is JSON')
  t.equal(charset.json().data.name, 'Depot')
  const count = await app.db.selectFrom('locations').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  t.equal(Number(count.n), 1, 'only the valid request wrote')
})

t.test('413 for a body over the limit', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  t.equal(app.config.bodyLimit, 1024 * 1024, 'the default limit is 1 MiB')
  const big = JSON.stringify({ name: 'Depot', address_line1: 'x'.repeat(1024 * 1024) })
  const res = await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: { ...bearer(account.key), 'content-type': 'application/json' }, payload: big })
  assertError(t, res, 413, 'payload_too_large', 'Request body is larger than the limit')
  const count = await app.db.selectFrom('locations').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  t.equal(Number(count.n), 0)
})

t.test('unknown paths are 404 and wrong methods 405 with Allow, as JSON', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  assertError(t, await app.inject({ url: '/api/v1/nothing.php', headers: bearer(account.key) }), 404, 'not_found', 'No endpoint at GET /api/v1/nothing.php')
  assertError(t, await app.inject({ url: '/api/v1/nothing.php' }), 404, 'not_found', 'No endpoint at GET /api/v1/nothing.php')
  assertError(t, await app.inject({ url: '/no/such/page?x=1' }), 404, 'not_found', 'No endpoint at GET /no/such/page')
  assertError(t, await app.inject({ url: '/api/v1/locations.php/' }), 404, 'not_found')

  for (const method of ['DELETE', 'PATCH'] as const) {
    const res = await app.inject({ method, url: '/api/v1/locations.php?id=1', headers: bearer(account.key) })
    assertError(t, res, 405, 'method_not_allowed', `Method ${method} is not allowed on /api/v1/locations.php; allowed: GET, HEAD, POST, PUT`)
    t.equal(res.headers.allow, 'GET, HEAD, POST, PUT', `${method}: Allow header`)
  }
  const health = await app.inject({ method: 'POST', url: '/health' })
  assertError(t, health, 405, 'method_not_allowed')
  t.equal(health.headers.allow, 'GET, HEAD')
})

t.test('500: JSON envelope, no stack, no SQL', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  await sql`alter table locations rename to locations_moved`.execute(app.db)
  const res = await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers: bearer(account.key), payload: { name: 'Depot' } })
  assertError(t, res, 500, 'internal_error', 'Internal server error')
  t.notMatch(res.body, /locations|no such table|relation|insert|sqlite|postgres|Error:|\.js:\d+/i, 'nothing of the failure leaks')
  const get = await app.inject({ url: '/api/v1/locations.php?id=1', headers: bearer(account.key) })
  assertError(t, get, 500, 'internal_error', 'Internal server error')
})

t.test('X-Request-Id on every response; a sane one is echoed, others replaced', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const generated = /^req_[0-9a-f]{32}$/

  const responses = [
    await app.inject({ url: '/health' }),
    await app.inject({ url: '/ready' }),
    await app.inject({ url: '/api/v1/locations.php', headers: bearer(account.key) }),
    await app.inject({ url: '/api/v1/locations.php' }),
    await app.inject({ url: '/api/v1/openapi.json' }),
    await app.inject({ url: '/docs' }),
    await app.inject({ url: '/nowhere' }),
    await app.inject({ method: 'OPTIONS', url: '/api/v1/locations.php', headers: { origin: 'https://a.example', 'access-control-request-method': 'GET' } })
  ]
  const ids = new Set<string>()
  for (const res of responses) {
    const id = res.headers['x-request-id']
    t.match(id, generated, `${res.statusCode}: generated X-Request-Id`)
    ids.add(String(id))
  }
  t.equal(ids.size, responses.length, 'every request gets its own id')

  for (const sane of ['abc-123', 'trace.2025:06_15', 'x'.repeat(128), '0f8fad5b-d9cb-469f-a165-70867728950e']) {
    const res = await app.inject({ url: '/api/v1/locations.php?id=9', headers: { ...bearer(account.key), 'x-request-id': sane } })
    t.equal(res.headers['x-request-id'], sane, `echoed: ${sane.slice(0, 20)}`)
    t.equal(res.json().request_id, sane, 'and in the error body')
  }
  for (const insane of ['x'.repeat(129), 'has space', 'semi;colon', '<script>', 'quote"d', 'ünïcode', '']) {
    const res = await app.inject({ url: '/api/v1/locations.php', headers: { 'x-request-id': insane } })
    t.match(res.headers['x-request-id'], generated, `replaced: ${JSON.stringify(insane.slice(0, 20))}`)
    t.equal(res.json().request_id, res.headers['x-request-id'])
  }
})

t.test('/ready answers 503 not_ready in the envelope when the database does not answer', { skip: sqliteOnly('closes the SQLite connection under the app; a stopped PostgreSQL has tests of its own') }, async (t) => {
  const app = await buildTestApp(t)
  t.equal((await app.inject({ url: '/ready' })).statusCode, 200)
  sqliteOf(app).close()
  const res = await app.inject({ url: '/ready' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { error: true, message: 'Database unavailable', status: 503, code: 'not_ready', request_id: res.headers['x-request-id'] })
})
