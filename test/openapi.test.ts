import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, buildTestApp, routeTable } from './helper.js'
import { ERROR_CODES } from '../domain/error-codes.js'
import { SCOPES } from '../domain/scopes.js'
import { EVENT_TYPES } from '../domain/events.js'

const ERROR_REF = '#/components/schemas/ErrorResponse'

t.test('/api/v1/openapi.json: OpenAPI 3.1 without a key, every API route with its scope', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ url: '/api/v1/openapi.json', headers: { origin: 'https://tools.example' } })
  t.equal(res.statusCode, 200, 'no key needed')
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['access-control-allow-origin'], '*', 'readable cross-origin, like the rest of the API')
  const doc = res.json()

  t.match(doc.openapi, /^3\.1\.\d+$/)
  t.match(doc.info, { title: 'TempClock API', version: String })
  t.match(doc.servers, [{ url: '/', description: String }], 'one server: the one serving the document')
  t.equal(doc.servers.length, 1)
  t.match(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer' })
  for (const scope of SCOPES) t.match(doc.components.securitySchemes.bearerAuth.description, `\`${scope}\``, `the Authorize dialog lists ${scope}`)
  const envelope = doc.components.schemas.ErrorResponse
  t.same([...envelope.required].sort(), ['code', 'error', 'message', 'request_id', 'status'], 'the error envelope is a shared schema')
  t.same(envelope.properties.code.enum, Object.keys(ERROR_CODES), '`code` is an enum of the whole catalogue')
  t.notOk(JSON.stringify(doc).includes('key_hash'), 'no internal columns')
  t.notOk(JSON.stringify(doc).includes('Default Response'), 'every response has a real description')

  const routes = routeTable(app).filter((r) => r.url.startsWith('/api/v1/') && r.method !== 'HEAD' && r.method !== 'OPTIONS' && r.url !== '/api/v1/openapi.json')
  t.ok(routes.length >= 3, `the route table has API routes (${routes.length})`)
  const operationIds = new Set<string>()
  for (const { method, url, scope } of routes) {
    const operation = doc.paths[url]?.[method.toLowerCase()]
    t.ok(operation !== undefined, `${method} ${url} is documented`)
    if (operation === undefined) continue
    t.match(operation.operationId, /^[a-z][A-Za-z]+$/, `${method} ${url}: operationId ${String(operation.operationId)}`)
    t.notOk(operationIds.has(operation.operationId), `${method} ${url}: its operationId is unique`)
    operationIds.add(operation.operationId)
    t.equal(operation['x-scope'], scope, `${method} ${url}: x-scope ${String(scope)}`)
    if (scope === 'public') {
      t.same(operation.security, [], `${method} ${url}: no key needed, said explicitly`)
    } else {
      t.same(operation.security, [{ bearerAuth: scope === 'full' ? [] : [scope] }], `${method} ${url}: security names the scope`)
      t.match(operation.description, scope === 'full' ? /full-access key/ : `\`${String(scope)}\``, `${method} ${url}: the description says so`)
    }
    const responses = operation.responses as Record<string, { description: string, headers?: Record<string, unknown>, content?: Record<string, { schema?: { $ref?: string } }> }>
    t.notOk('4XX' in responses || '5XX' in responses, `${method} ${url}: error statuses are listed one by one`)
    const expected = scope === 'public' ? ['500', '503'] : ['400', '401', '403', '429', '500', '503']
    for (const status of expected) {
      t.equal(responses[status]?.content?.['application/json']?.schema?.$ref, ERROR_REF, `${method} ${url}: ${status} is the error envelope`)
    }
    for (const [status, response] of Object.entries(responses)) {
      t.ok(response.headers?.['X-Request-Id'] !== undefined, `${method} ${url} ${status}: X-Request-Id`)
      if (scope !== 'public' && status !== '401') t.ok(response.headers?.['X-RateLimit-Remaining'] !== undefined, `${method} ${url} ${status}: X-RateLimit-*`)
    }
    if (scope !== 'public') {
      t.ok(responses['401']?.headers?.['WWW-Authenticate'] !== undefined, `${method} ${url}: 401 documents WWW-Authenticate`)
      t.ok(responses['429']?.headers?.['Retry-After'] !== undefined, `${method} ${url}: 429 documents Retry-After`)
      t.match(responses['401']?.description, /`missing_api_key`/, `${method} ${url}: 401 names its codes`)
    }
    if (method === 'POST' && scope !== 'public') {
      const success = Object.keys(responses).filter((s) => /^2\d\d$/.test(s))
      for (const status of success) t.ok(responses[status]?.headers?.['Idempotent-Replayed'] !== undefined, `${method} ${url} ${status}: Idempotent-Replayed`)
      t.match(responses['409']?.description, /`idempotency_key_reused`/, `${method} ${url}: 409 names the idempotency codes`)
    }
    const success = Object.keys(responses).filter((s) => /^2\d\d$/.test(s))
    t.ok(success.length > 0, `${method} ${url}: a success response is documented`)
    for (const parameter of operation.parameters ?? []) {
      t.ok(typeof parameter.description === 'string' && parameter.description.length > 0, `${method} ${url}: ${String(parameter.name)} is described`)
      if (parameter.schema?.default !== undefined) t.equal(parameter.required, false, `${method} ${url}: ${String(parameter.name)} has a default, so it is optional`)
    }
  }

  // a GET that answers one record or a list documents both, as named schemas
  const workersGet = doc.paths['/api/v1/workers.php'].get.responses['200'].content['application/json'].schema
  t.same(workersGet, { anyOf: [{ $ref: '#/components/schemas/WorkerOne' }, { $ref: '#/components/schemas/WorkerList' }] })
  t.same(doc.components.schemas.WorkerList.properties.data, { type: 'array', items: { $ref: '#/components/schemas/Worker' } })
  t.same(doc.components.schemas.WorkerList.properties.pagination, { $ref: '#/components/schemas/Pagination' })
  t.same(doc.paths['/api/v1/workers.php'].get.parameters.find((p: { name: string }) => p.name === 'limit').required, false, 'limit is not required')
  const timesheets = doc.paths['/api/v1/timesheets.php'].get.parameters
  t.equal(timesheets.find((p: { name: string }) => p.name === 'entry_filter').required, false, 'entry_filter is not required')
  for (const p of timesheets) t.equal(p.schema.examples, undefined, `timesheets ${String(p.name)}: no example for "Try it out" to fill in`)

  // the ping shares POST /webhooks.php: the body is optional, the two answers are named
  const webhookPost = doc.paths['/api/v1/webhooks.php'].post
  t.equal(webhookPost.requestBody.required, false, 'a ping has no body')
  t.same(webhookPost.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/WebhookCreate' })
  t.equal(doc.components.schemas.WebhookCreate.type, 'object', 'the documented body is the object, not null')
  t.same(webhookPost.responses['201'].content['application/json'].schema, { $ref: '#/components/schemas/WebhookCreatedOne' })
  t.same(webhookPost.responses['202'].content['application/json'].schema, { $ref: '#/components/schemas/PingAccepted' })
  t.match(webhookPost.responses['409'].description, /`webhook_inactive`/)
  t.match(doc.paths['/api/v1/clock.php'].post.responses['403'].description, /`geofence_refused`/)

  // liveness and readiness are documented; nothing else outside the API is
  for (const path of Object.keys(doc.paths)) t.ok(path.startsWith('/api/v1/') || path === '/health' || path === '/ready', `${path} is an API path or a health check`)
  t.equal(doc.paths['/health'].get.operationId, 'getHealth')
  t.same(Object.keys(doc.paths['/health'].get.responses), ['200', '500'], '/health is never shed')
  t.match(doc.paths['/ready'].get.responses['503'].description, /`not_ready`/)

  // webhooks: each event's payload, and the signature
  t.same(Object.keys(doc.webhooks).sort(), [...EVENT_TYPES].sort(), 'every event is in the webhooks section')
  for (const [event, item] of Object.entries<any>(doc.webhooks)) {
    t.ok(item.post.parameters.some((p: { name: string, in: string }) => p.name === 'X-TempClock-Signature' && p.in === 'header'), `${event}: the signature header`)
    const ref: string = item.post.requestBody.content['application/json'].schema.$ref
    const payload = doc.components.schemas[ref.split('/').pop()!]
    t.same(payload.properties.event, { type: 'string', const: event }, `${event}: the payload names the event`)
  }
  t.same(doc.components.schemas.ClockInEvent.properties.data, { $ref: '#/components/schemas/TimeEntry' })

  const locations = doc.paths['/api/v1/locations.php']
  t.same(Object.keys(locations.post.requestBody.content), ['application/json'])
  t.ok(locations.get.parameters.some((p: { name: string, in: string }) => p.name === 'after_id' && p.in === 'query'), 'query parameters are documented')
})

t.test('/docs: an interactive page whose assets are served by this server', async (t) => {
  const app = await buildTestApp(t)
  const page = await app.inject({ url: '/docs' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.notMatch(page.body, /https?:\/\//i, 'no absolute URLs: nothing comes from a CDN')
  t.match(page.headers['content-security-policy'], /script-src 'self'/, 'and the browser is told to load scripts only from here')
  t.notMatch(page.headers['content-security-policy'], /upgrade-insecure-requests/, 'over plain http on any host name, the assets load over http')
  t.match(page.body, /<title>TempClock API reference<\/title>/, 'titled as this API')

  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
  t.ok(assets.some((a) => a.endsWith('.js')), 'it loads scripts')
  t.ok(assets.some((a) => a.endsWith('.css')), 'and styles')
  for (const asset of assets) {
    t.match(asset, /^\/docs\//, `${asset} is local`)
    const res = await app.inject({ url: asset })
    t.equal(res.statusCode, 200, `${asset} is served`)
    t.ok(res.rawPayload.length > 0, `${asset} is not empty`)
    if (asset.endsWith('.js')) t.match(res.headers['content-type'], /javascript/)
    if (asset.endsWith('.css')) t.match(res.headers['content-type'], /^text\/css/)
  }

  // the page loads the document from this server
  const initializer = await app.inject({ url: '/docs/static/swagger-initializer.js' })
  t.equal(initializer.statusCode, 200)
  t.match(initializer.body, /validatorUrl: null/, 'no call to the public validator')
  const json = await app.inject({ url: '/docs/json' })
  t.equal(json.statusCode, 200)
  t.same(json.json().paths, (await app.inject({ url: '/api/v1/openapi.json' })).json().paths, 'the page shows the same document')
})

t.test('docs/api.md lists every error code of the catalogue', async (t) => {
  const page = readFileSync(join(ROOT, 'docs/api.md'), 'utf8')
  for (const [code, { status }] of Object.entries(ERROR_CODES)) t.match(page, `| ${status} | \`${code}\` |`, `${code} (${status})`)
})
