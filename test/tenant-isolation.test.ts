/**
 * Tenant isolation over EVERY /api/v1 route in the app's route table (docs/api.md: another account's
 * id answers exactly like a missing id; lists never show other accounts' rows; a record never
 * points at another account's row).
 *
 * HOW TO ADD A RESOURCE (one entry in FIXTURES below, keyed by the route's path):
 *   '/api/v1/things.php': {
 *     // create one record in `api`'s account through the API and return its id; use
 *     // `api.make('/api/v1/other.php')` for a record it needs (e.g. a location), `api.unique()`
 *     // for a value that must be unique (refs, codes)
 *     create: async (api) => (await api.post('/api/v1/things.php', { name: 'x', location_id: await api.make('/api/v1/locations.php') })).id,
 *     // a valid PUT body, when the path has PUT ?id=
 *     update: { name: 'changed' },
 *     // bodies that point at records of `theirs` (the other account; `own` is the caller's, for
 *     // required references that are not under test): each must be 404 on POST and on PUT ?id= —
 *     // required when the POST/PUT body has a field ending in `_id`, and together they must name
 *     // every such field (list any that point at no account record in `notReferences`)
 *     foreignReferences: async (theirs, own) => [{ name: 'x', location_id: await theirs.make('/api/v1/locations.php') }],
 *     // optional: the ids a GET list shows, when the list's records have no `id` (default data[].id)
 *     listedIds: (body) => body.data.map((group) => group.location_id),
 *     // required when POST takes ?id= (an action on a record): the rest of the query, and a body
 *     postWithId: { query: 'action=ping' }
 *   }
 * or `{ skip: 'why this path holds no account data' }`.
 *
 * What is checked, for account A's record and account B's full-access key:
 *   GET ?id=A → 404 not_found with the same message as a missing id; PUT, DELETE and POST ?id=A
 *   → 404 (the same) and A's record unchanged; B's GET list shows B's record and never A's (and vice versa);
 *   POST / PUT with A's ids in the body → 404 and nothing written.
 * Which operations take `?id=` and which body fields are references is read from the OpenAPI
 * document generated from the route schemas, so a new route cannot slip past: a guarded route
 * without a fixture fails this test.
 */
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildTestApp, call, createTestAccount, routeTable } from './helper.js'

type Body = Record<string, unknown>
type ListBody = { data: Array<Record<string, unknown>>, pagination?: unknown }

interface Api {
  accountId: number
  key: string
  request: (method: string, url: string, payload?: unknown) => Promise<LightMyRequestResponse>
  /** POST that must succeed (200/201); returns `data` */
  post: (url: string, payload: Body) => Promise<Body & { id: number }>
  /** a new record of another resource in this account, by that resource's fixture */
  make: (path: string) => Promise<number>
  /** a fresh string for fields that must be unique */
  unique: (prefix: string) => string
  /** every id make() returned, so the test can tell which body fields hold the other account's ids */
  made: Set<number>
}

interface Fixture {
  create?: (api: Api) => Promise<number>
  update?: Body
  foreignReferences?: (theirs: Api, own: Api) => Promise<Body[]>
  /** body fields ending in `_id` that are not looked up as records (e.g. the clock's `survey_id`: checked against the survey that applies) */
  notReferences?: string[]
  /** for a POST that acts on record ?id= (e.g. webhooks ?action=ping): the rest of its query, and a body */
  postWithId?: { query: string, body?: Body }
  listedIds?: (body: ListBody) => number[]
  skip?: string
}

const FIXTURES: Record<string, Fixture> = {
  '/api/v1/locations.php': {
    create: async (api) => (await api.post('/api/v1/locations.php', { name: api.unique('Site') })).id,
    update: { name: 'Renamed by the other account' }
  },
  '/api/v1/departments.php': {
    create: async (api) => (await api.post('/api/v1/departments.php', { name: api.unique('Dept'), location_id: await api.make('/api/v1/locations.php') })).id,
    update: { name: 'Renamed by the other account' },
    foreignReferences: async (theirs) => [{ name: 'Linked', location_id: await theirs.make('/api/v1/locations.php') }]
  },
  '/api/v1/cost-codes.php': {
    create: async (api) => (await api.post('/api/v1/cost-codes.php', { code: api.unique('CC'), name: 'Isolation' })).id,
    update: { name: 'Renamed by the other account' }
  },
  '/api/v1/workers.php': {
    create: async (api) => (await api.post('/api/v1/workers.php', {
      first_name: 'Iso', last_name: 'Lation', employee_ref: api.unique('REF'),
      location_id: await api.make('/api/v1/locations.php'), department_id: await api.make('/api/v1/departments.php')
    })).id,
    update: { first_name: 'Renamed by the other account' },
    foreignReferences: async (theirs) => [
      { first_name: 'A', last_name: 'B', location_id: await theirs.make('/api/v1/locations.php') },
      { first_name: 'A', last_name: 'B', department_id: await theirs.make('/api/v1/departments.php') }
    ]
  },
  '/api/v1/shifts.php': {
    create: async (api) => (await api.post('/api/v1/shifts.php', {
      location_id: await api.make('/api/v1/locations.php'), worker_id: await api.make('/api/v1/workers.php'), ...nextShiftTimes()
    })).id,
    update: { notes: 'Changed by the other account' },
    foreignReferences: async (theirs, own) => [
      { location_id: await theirs.make('/api/v1/locations.php'), ...nextShiftTimes() },
      { location_id: await own.make('/api/v1/locations.php'), worker_id: await theirs.make('/api/v1/workers.php'), ...nextShiftTimes() },
      { location_id: await own.make('/api/v1/locations.php'), department_id: await theirs.make('/api/v1/departments.php'), ...nextShiftTimes() },
      { location_id: await own.make('/api/v1/locations.php'), cost_code_id: await theirs.make('/api/v1/cost-codes.php'), ...nextShiftTimes() }
    ]
  },
  '/api/v1/clock.php': {
    create: async (api) => await clockIn(api),
    notReferences: ['survey_id'],
    foreignReferences: async (theirs, own) => [
      { worker_id: await theirs.make('/api/v1/workers.php'), action: 'in' },
      { worker_id: await own.make('/api/v1/workers.php'), action: 'in', location_id: await theirs.make('/api/v1/locations.php') },
      { worker_id: await own.make('/api/v1/workers.php'), action: 'in', cost_code_id: await theirs.make('/api/v1/cost-codes.php') }
    ]
  },
  '/api/v1/timesheets.php': {
    // a completed shift entry: what the default entry_filter lists
    create: async (api) => {
      const worker = await api.make('/api/v1/workers.php')
      const id = await clockIn(api, worker, new Date(Date.now() - 3_600_000).toISOString())
      await api.post('/api/v1/clock.php', { worker_id: worker, action: 'out' })
      return id
    }
  },
  '/api/v1/on-site-now.php': {
    create: async (api) => await clockIn(api),
    listedIds: (body) => body.data.flatMap((group) => (group.workers as Array<{ entry_id: number }>).map((w) => w.entry_id))
  },
  '/api/v1/documents.php': {
    create: async (api) => (await api.post('/api/v1/documents.php', {
      worker_id: await api.make('/api/v1/workers.php'), type: 'Forklift licence', expires_on: '2030-01-01'
    })).id,
    update: { notes: 'Changed by the other account' },
    foreignReferences: async (theirs) => [{ worker_id: await theirs.make('/api/v1/workers.php'), type: 'Forklift licence' }]
  },
  '/api/v1/surveys.php': {
    create: async (api) => (await api.post('/api/v1/surveys.php', {
      name: api.unique('Survey'),
      location_ids: [await api.make('/api/v1/locations.php')],
      questions: [{ id: 'fit_for_work', text: 'Fit for work?', type: 'yes_no', accept: [true] }]
    })).id,
    update: { name: 'Renamed by the other account', active: false }
  },
  '/api/v1/survey-responses.php': {
    // a passed survey at a fresh location, answered by a clock-in
    create: async (api) => {
      const location = await api.make('/api/v1/locations.php')
      const survey = await api.post('/api/v1/surveys.php', { name: api.unique('Survey'), location_ids: [location], questions: [{ id: 'ok', text: 'OK?', type: 'yes_no' }] })
      const entry = await api.post('/api/v1/clock.php', { worker_id: await api.make('/api/v1/workers.php'), action: 'in', location_id: location, survey_id: survey.id, survey_answers: { ok: true } })
      return entry.survey_response_id as number
    }
  },
  '/api/v1/webhooks.php': {
    create: async (api) => (await api.post('/api/v1/webhooks.php', { url: `https://hooks.example.com/${api.unique('hook')}`, events: ['*'] })).id,
    update: { description: 'Changed by the other account', active: false },
    postWithId: { query: 'action=ping' }
  }
}

let shiftDay = 0
/** a fresh day for each shift, so fixtures never overlap one worker's shifts */
function nextShiftTimes (): Body {
  const start = Date.parse('2030-01-01T08:00:00Z') + (shiftDay++) * 86_400_000
  return { start_time: new Date(start).toISOString(), end_time: new Date(start + 8 * 3_600_000).toISOString() }
}

/** Clocks a worker (a new one unless given) in; returns the entry id. */
async function clockIn (api: Api, worker?: number, timestamp?: string): Promise<number> {
  const body: Body = { worker_id: worker ?? await api.make('/api/v1/workers.php'), action: 'in' }
  if (timestamp !== undefined) body.timestamp = timestamp
  return (await api.post('/api/v1/clock.php', body)).id
}

interface Operation {
  parameters?: Array<{ in: string, name: string }>
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }
}

/** What the generated OpenAPI document says about each operation: takes ?id=, body reference fields. */
function describeOperations (app: FastifyInstance): Map<string, { takesId: boolean, references: string[] }> {
  const doc = (app as unknown as { swagger: () => { paths: Record<string, Record<string, Operation>> } }).swagger()
  const result = new Map<string, { takesId: boolean, references: string[] }>()
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const takesId = (op.parameters ?? []).some((p) => p.in === 'query' && p.name === 'id')
      const properties = op.requestBody?.content?.['application/json']?.schema?.properties ?? {}
      result.set(`${method.toUpperCase()} ${path}`, { takesId, references: Object.keys(properties).filter((f) => f.endsWith('_id')) })
    }
  }
  return result
}

function makeApi (app: FastifyInstance, account: { id: number, key: string }): Api {
  let counter = 0
  const api: Api = {
    accountId: account.id,
    key: account.key,
    request: async (method, url, payload) =>
      await call(app, account.key, { method: method as 'GET', url, ...(payload === undefined ? {} : { payload: payload as Body }) }),
    post: async (url, payload) => {
      const res = await api.request('POST', url, payload)
      if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`fixture POST ${url} failed: ${res.statusCode} ${res.body}`)
      return res.json().data
    },
    make: async (path) => {
      const fixture = FIXTURES[path]
      if (fixture?.create === undefined) throw new Error(`no fixture creates records of ${path}`)
      const id = await fixture.create(api)
      api.made.add(id)
      return id
    },
    made: new Set(),
    unique: (prefix) => `${prefix}-${account.id}-${++counter}`
  }
  return api
}

const idsOf = (fixture: Fixture, body: ListBody): number[] =>
  fixture.listedIds !== undefined ? fixture.listedIds(body) : body.data.map((r) => r.id as number)

/** A 404 body with the id and request id taken out, to compare "theirs" with "missing". */
const shapeOf = (res: LightMyRequestResponse, id: number) => {
  const { request_id: _r, ...rest } = res.json() as Body
  return { status: res.statusCode, ...rest, message: String(rest.message).replace(String(id), '<id>') }
}

const MISSING_ID = 987_654_321

/** The /api/v1 routes of an app (no HEAD/OPTIONS), and the guarded paths among them. */
function apiRoutes (app: FastifyInstance) {
  const routes = routeTable(app).filter((r) => r.url.startsWith('/api/v1/') && r.method !== 'HEAD' && r.method !== 'OPTIONS')
  const paths = [...new Set(routes.filter((r) => r.scope !== 'public').map((r) => r.url))]
  return { routes, paths }
}

/** Guarded paths that have no entry in FIXTURES: each one fails the test below. */
function pathsWithoutFixture (app: FastifyInstance): string[] {
  return apiRoutes(app).paths.filter((path) => FIXTURES[path] === undefined)
}

t.test('a guarded route without a fixture is caught', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { default: rootPlugin, serverOptions } = await import('../app.js')
  const { testConfig } = await import('../plugins/config.js')
  const app = Fastify(serverOptions(testConfig()))
  t.after(async () => { await app.close() })
  await app.register(rootPlugin, { config: testConfig() })
  app.register(async (f) => {
    // every /api route must declare its querystring and operationId (the app refuses to start otherwise)
    const querystring = { type: 'object', additionalProperties: false }
    f.get('/api/v1/gadgets.php', { config: { scope: 'full' }, schema: { operationId: 'getGadgets', querystring } }, async () => ({ data: [] }))
    f.get('/api/v1/brochure.php', { config: { scope: 'public' }, schema: { operationId: 'getBrochure', querystring } }, async () => ({ data: [] }))
  })
  await app.ready()
  t.ok(pathsWithoutFixture(app).includes('/api/v1/gadgets.php'), 'the new guarded route is reported')
  t.notOk(pathsWithoutFixture(app).includes('/api/v1/brochure.php'), 'public routes need none')
})

t.test('every guarded /api/v1 route keeps accounts apart', async (t) => {
  const app = await buildTestApp(t)
  const operations = describeOperations(app)
  const { routes, paths } = apiRoutes(app)
  t.ok(paths.length >= 4, 'the route table has the reference-data routes')

  t.same(pathsWithoutFixture(app), [], 'every guarded path has an entry in FIXTURES (test/tenant-isolation.test.ts): add one for each new resource')
  for (const path of Object.keys(FIXTURES)) t.ok(paths.includes(path), `fixture ${path} names a route that exists`)

  for (const path of paths) {
    const fixture = FIXTURES[path]
    if (fixture === undefined) continue
    if (fixture.skip !== undefined) { t.comment(`${path}: skipped (${fixture.skip})`); continue }
    await t.test(path, async (t) => {
      const a = makeApi(app, await createTestAccount(app, { name: `A for ${path}` }))
      const b = makeApi(app, await createTestAccount(app, { name: `B for ${path}` }))
      if (fixture.create === undefined) throw new Error(`${path}: fixture needs create or skip`)
      const aId = await fixture.create(a)
      const bId = await fixture.create(b)
      const methods = routes.filter((r) => r.url === path).map((r) => r.method)
      const op = (method: string) => operations.get(`${method} ${path}`)
      const readOwn = async () => (await a.request('GET', `${path}?id=${aId}`)).json()

      for (const method of methods) {
        const { takesId, references } = op(method) ?? { takesId: false, references: [] }
        if (method === 'GET') {
          if (takesId) {
            t.equal((await a.request('GET', `${path}?id=${aId}`)).statusCode, 200, 'the owner reads its record')
            const theirs = await b.request('GET', `${path}?id=${aId}`)
            t.equal(theirs.statusCode, 404, `GET ?id= of another account's record: 404 (got ${theirs.statusCode})`)
            t.equal(theirs.json().code, 'not_found')
            const missing = await b.request('GET', `${path}?id=${MISSING_ID}`)
            t.same(shapeOf(theirs, aId), shapeOf(missing, MISSING_ID), 'answers exactly like a missing id')
          }
          const bList = await b.request('GET', path)
          t.equal(bList.statusCode, 200, 'B lists')
          t.ok(idsOf(fixture, bList.json()).includes(bId), 'B\'s list shows B\'s record')
          t.notOk(idsOf(fixture, bList.json()).includes(aId), 'B\'s list never shows A\'s record')
          const aList = await a.request('GET', path)
          t.notOk(idsOf(fixture, aList.json()).includes(bId), 'A\'s list never shows B\'s record')
        }
        if ((method === 'PUT' || method === 'DELETE' || method === 'POST') && takesId) {
          if (method === 'PUT' && fixture.update === undefined) throw new Error(`${path}: PUT ?id= needs fixture.update`)
          if (method === 'POST' && fixture.postWithId === undefined) throw new Error(`${path}: POST takes ?id=; add fixture.postWithId`)
          const extra = method === 'POST' ? `&${fixture.postWithId!.query}` : ''
          const body = method === 'PUT' ? fixture.update : method === 'POST' ? fixture.postWithId!.body : undefined
          const before = await readOwn()
          const res = await b.request(method, `${path}?id=${aId}${extra}`, body)
          t.equal(res.statusCode, 404, `${method} ?id= of another account's record: 404 (got ${res.statusCode})`)
          t.equal(res.json().code, 'not_found')
          const missing = await b.request(method, `${path}?id=${MISSING_ID}${extra}`, body)
          t.same(shapeOf(res, aId), shapeOf(missing, MISSING_ID), 'answers exactly like a missing id')
          t.same(await readOwn(), before, `${method} by the other account changed nothing`)
        }
        const toCheck = references.filter((f) => !(fixture.notReferences ?? []).includes(f))
        if ((method === 'POST' || method === 'PUT') && toCheck.length > 0) {
          if (fixture.foreignReferences === undefined) throw new Error(`${path}: ${method} body has ${toCheck.join(', ')}; add fixture.foreignReferences`)
          a.made.clear()
          b.made.clear()
          const bodies = await fixture.foreignReferences(a, b)
          // a field is covered when some body sets it to an id made in the other account
          const foreignFields = (body: Body) => Object.keys(body).filter((k) => a.made.has(body[k] as number) && !b.made.has(body[k] as number))
          const covered = new Set(bodies.flatMap(foreignFields))
          for (const field of toCheck) t.ok(covered.has(field), `${method} ${path}: foreignReferences sets ${field} to the other account's record`)
          for (const body of bodies) {
            const url = method === 'PUT' ? `${path}?id=${bId}` : path
            const before = method === 'PUT' ? (await b.request('GET', url)).body : (await b.request('GET', path)).json().pagination
            const res = await b.request(method, url, body)
            t.equal(res.statusCode, 404, `${method} with A's ${foreignFields(body).join(', ')}: 404 (got ${res.statusCode})`)
            t.equal(res.json().code, 'not_found')
            const after = method === 'PUT' ? (await b.request('GET', url)).body : (await b.request('GET', path)).json().pagination
            t.same(after, before, 'nothing written')
          }
        }
      }
    })
  }
})
