import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { bearer, buildTestApp, createTestAccount, createTestKey } from './helper.js'
import { sqliteOf } from './helper.js'

const ORIGIN = 'https://payroll.example'
const EXPOSED = 'X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, WWW-Authenticate'

type Assert = Pick<typeof t, 'equal' | 'notOk' | 'match' | 'ok'>

function assertApiCors (t: Assert, res: LightMyRequestResponse, label: string): void {
  t.equal(res.headers['access-control-allow-origin'], '*', `${label}: Access-Control-Allow-Origin`)
  t.equal(res.headers['access-control-expose-headers'], EXPOSED, `${label}: Access-Control-Expose-Headers`)
  t.notOk('access-control-allow-credentials' in res.headers, `${label}: never Allow-Credentials`)
}

function assertEnvelope (t: Assert, res: LightMyRequestResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, `${code}: status`)
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json()
  t.equal(body.error, true)
  t.equal(body.status, status)
  t.equal(body.code, code)
  t.equal(body.request_id, res.headers['x-request-id'])
}

t.test('preflight OPTIONS is answered 204 before authentication', async (t) => {
  const app = await buildTestApp(t)
  for (const url of ['/api/v1/locations.php', '/api/v1/locations.php?id=5', '/api/v1/anything-unknown.php']) {
    const res = await app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin: ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, content-type, idempotency-key' }
    })
    t.equal(res.statusCode, 204, `${url}: 204 without a key`)
    t.equal(res.body, '')
    assertApiCors(t, res, url)
    t.equal(res.headers['access-control-allow-methods'], 'GET, POST, PUT, DELETE')
    t.equal(res.headers['access-control-allow-headers'], 'Authorization, Content-Type, Idempotency-Key')
    t.equal(res.headers['access-control-max-age'], '600')
    t.notOk('www-authenticate' in res.headers, 'no authentication challenge on a preflight')
    t.match(res.headers['x-request-id'], /^req_[0-9a-f]{32}$/, 'a preflight carries X-Request-Id too')
  }
})

t.test('every API response carries CORS headers, errors included', async (t) => {
  const app = await buildTestApp(t, { bodyLimit: 1024 * 1024 })
  const account = await createTestAccount(app)
  const scoped = await createTestKey(app, account.id, { scopes: ['workers:read'] })
  const limited = await createTestKey(app, account.id, { rateLimit: 1 })
  const headers = { origin: ORIGIN, ...bearer(account.key) }

  const ok = await app.inject({ url: '/api/v1/locations.php', headers })
  t.equal(ok.statusCode, 200)
  t.same(ok.json().data, [])
  assertApiCors(t, ok, '200')

  const noOrigin = await app.inject({ url: '/api/v1/locations.php', headers: bearer(account.key) })
  t.equal(noOrigin.statusCode, 200)
  t.equal(noOrigin.headers['access-control-allow-origin'], '*', 'also without an Origin header')

  const created = await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers, payload: { name: 'Depot' } })
  t.equal(created.statusCode, 201)
  t.equal(created.json().data.name, 'Depot')
  assertApiCors(t, created, '201')

  const cases: Array<[string, () => Promise<LightMyRequestResponse>, number, string]> = [
    ['401', async () => await app.inject({ url: '/api/v1/locations.php', headers: { origin: ORIGIN } }), 401, 'missing_api_key'],
    ['403', async () => await app.inject({ url: '/api/v1/locations.php', headers: { origin: ORIGIN, ...bearer(scoped.key) } }), 403, 'insufficient_scope'],
    ['404 unknown /api path', async () => await app.inject({ url: '/api/v1/nothing-here.php', headers }), 404, 'not_found'],
    ['404 missing record', async () => await app.inject({ url: '/api/v1/locations.php?id=999', headers }), 404, 'not_found'],
    ['405', async () => await app.inject({ method: 'DELETE', url: '/api/v1/locations.php', headers }), 405, 'method_not_allowed'],
    ['400', async () => await app.inject({ method: 'POST', url: '/api/v1/locations.php', headers, payload: {} }), 400, 'validation_error'],
    ['413', async () => await app.inject({
      method: 'POST', url: '/api/v1/locations.php', headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) })
    }), 413, 'payload_too_large'],
    ['415', async () => await app.inject({
      method: 'POST', url: '/api/v1/locations.php', headers: { ...headers, 'content-type': 'text/plain' }, payload: 'name=Depot'
    }), 415, 'unsupported_media_type']
  ]
  for (const [label, send, status, code] of cases) {
    const res = await send()
    assertEnvelope(t, res, status, code)
    assertApiCors(t, res, label)
  }

  const first = await app.inject({ url: '/api/v1/locations.php', headers: { origin: ORIGIN, ...bearer(limited.key) } })
  t.equal(first.statusCode, 200)
  const limitedRes = await app.inject({ url: '/api/v1/locations.php', headers: { origin: ORIGIN, ...bearer(limited.key) } })
  assertEnvelope(t, limitedRes, 429, 'rate_limited')
  assertApiCors(t, limitedRes, '429')
})

t.test('a 500 carries CORS headers and a JSON envelope without internals', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const headers = { origin: ORIGIN, ...bearer(account.key) }

  // the route's own query fails (the table is gone): the error handler answers
  sqliteOf(app).exec('alter table locations rename to locations_gone')
  const routeFailure = await app.inject({ url: '/api/v1/locations.php', headers })
  assertEnvelope(t, routeFailure, 500, 'internal_error')
  assertApiCors(t, routeFailure, '500 in a route')
  t.equal(routeFailure.json().message, 'Internal server error')
  t.notMatch(routeFailure.body, /locations|sqlite|select|at \w|\.ts|\.js/i, 'no SQL, table names or stack')

  // the key lookup itself fails (a key not cached yet, its table gone)
  const fresh = await createTestKey(app, account.id)
  sqliteOf(app).exec('alter table api_keys rename to api_keys_gone')
  const authFailure = await app.inject({ url: '/api/v1/locations.php', headers: { origin: ORIGIN, ...bearer(fresh.key) } })
  assertEnvelope(t, authFailure, 500, 'internal_error')
  assertApiCors(t, authFailure, '500 in authentication')
  t.equal(authFailure.json().message, 'Internal server error')
  t.notMatch(authFailure.body, /sqlite|database|select|api_keys|at \w|tc_live_/i)

  // the database is closed (shutting down): unavailable, not a failure of the request
  sqliteOf(app).close()
  const closed = await app.inject({ url: '/api/v1/locations.php', headers })
  assertEnvelope(t, closed, 503, 'service_unavailable')
  assertApiCors(t, closed, '503 in authentication')
  t.notMatch(closed.body, /sqlite|select|api_keys|at \w|tc_live_/i)
})

t.test('CORS covers only the API: health, readiness and other paths get none', async (t) => {
  const app = await buildTestApp(t)
  for (const url of ['/health', '/ready', '/', '/portal/login', '/docs']) {
    const res = await app.inject({ url, headers: { origin: ORIGIN } })
    t.notOk('access-control-allow-origin' in res.headers, `${url}: no Access-Control-Allow-Origin`)
    t.notOk('access-control-allow-credentials' in res.headers)
  }
  const wrongMethod = await app.inject({ method: 'POST', url: '/health', headers: { origin: ORIGIN } })
  t.equal(wrongMethod.statusCode, 405)
  t.notOk('access-control-allow-origin' in wrongMethod.headers, 'nor on a 405 outside /api')
  const health = await app.inject({ url: '/health', headers: { origin: ORIGIN } })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })

  const preflight = await app.inject({
    method: 'OPTIONS', url: '/health', headers: { origin: ORIGIN, 'access-control-request-method': 'GET' }
  })
  t.notOk('access-control-allow-origin' in preflight.headers, 'a preflight outside /api is not granted')
  t.notOk('access-control-allow-methods' in preflight.headers)
})
