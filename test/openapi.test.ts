import t from 'tap'
import { buildTestApp, routeTable } from './helper.js'

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
  t.same(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.bearerAuth.description })
  const envelope = doc.components.schemas.ErrorResponse
  t.same([...envelope.required].sort(), ['code', 'error', 'message', 'request_id', 'status'], 'the error envelope is a shared schema')
  t.notOk(JSON.stringify(doc).includes('key_hash'), 'no internal columns')

  const routes = routeTable(app).filter((r) => r.url.startsWith('/api/v1/') && r.method !== 'HEAD' && r.method !== 'OPTIONS' && r.url !== '/api/v1/openapi.json')
  t.ok(routes.length >= 3, `the route table has API routes (${routes.length})`)
  for (const { method, url, scope } of routes) {
    const operation = doc.paths[url]?.[method.toLowerCase()]
    t.ok(operation !== undefined, `${method} ${url} is documented`)
    if (operation === undefined) continue
    t.equal(operation['x-scope'], scope, `${method} ${url}: x-scope ${String(scope)}`)
    if (scope === 'public') {
      t.equal(operation.security, undefined, `${method} ${url}: no security requirement`)
    } else {
      t.same(operation.security, [{ bearerAuth: scope === 'full' ? [] : [scope] }], `${method} ${url}: security names the scope`)
      t.match(operation.description, scope === 'full' ? /full-access key/ : `\`${String(scope)}\``, `${method} ${url}: the description says so`)
    }
    const responses = operation.responses as Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>
    t.equal(responses['4XX']?.content?.['application/json']?.schema?.$ref, ERROR_REF, `${method} ${url}: 4XX is the error envelope`)
    t.equal(responses['5XX']?.content?.['application/json']?.schema?.$ref, ERROR_REF, `${method} ${url}: 5XX is the error envelope`)
    const success = Object.keys(responses).filter((s) => /^2\d\d$/.test(s))
    t.ok(success.length > 0, `${method} ${url}: a success response is documented`)
  }

  // no route outside the API is documented
  for (const path of Object.keys(doc.paths)) t.ok(path.startsWith('/api/v1/'), `${path} is an API path`)
  t.notOk('/health' in doc.paths)

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
