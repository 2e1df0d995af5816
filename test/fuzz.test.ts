import t from 'tap'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import rootPlugin, { serverOptions } from '../app.js'
import { testConfig } from '../plugins/config.js'
import { isCalendarDate, parseTimestamp } from '../domain/time.js'
import { SCOPES, type Scope } from '../domain/scopes.js'
import { createTestAccount, createTestKey, routeTable } from './helper.js'
import { bodyShape, SchemaArbitraries, shapedJson, sometimes, toQueryString, type BodyShape, type JsonSchema } from './fuzz-arbitraries.js'
import { sqliteOf } from './helper.js'

// Schema-driven fuzzing of every /api/v1 route, derived from the routes' own schemas, so routes
// added later are covered without touching this file. Every answer: no 5xx, an X-Request-Id, a
// JSON body (but HEAD) that matches the route's declared response schema for its status, and a
// refused request (4xx) leaves the database as it was.
//   FUZZ_SEED   the seed (default fixed); a failure prints it with the request
//   FUZZ_RUNS   requests in total, spread over the routes (default 3000)
//   FUZZ_ROUTE  only this route, e.g. "POST /api/v1/locations.php"
const SEED = Number(process.env.FUZZ_SEED ?? 20261128)
const TOTAL_RUNS = Number(process.env.FUZZ_RUNS ?? 3000)
const ONLY = process.env.FUZZ_ROUTE

/** Columns that legitimately change on a refused request (a key's last use is recorded on auth). */
const VOLATILE_COLUMNS: Record<string, string[]> = { api_keys: ['last_used_at'] }
/**
 * Events a refused request records on purpose (a refused or blocked clock-in still records its
 * event); those rows, and rows that hang off them by `event_id` (webhook deliveries), are left
 * out of the comparison. So are survey responses that no time entry points at: a blocked or
 * refused clock-in keeps the survey it answered.
 */
const EVENTS_ON_REJECT = new Set(['clock.geofence_refused', 'clock.blocked_by_survey'])
/** Refusals that wrote something, so an Idempotency-Key stores them for replay like a success. */
const STORED_REFUSALS = new Set(['geofence_refused', 'blocked_by_survey'])

interface CapturedRoute {
  method: string
  url: string
  schema: { querystring?: JsonSchema, body?: JsonSchema, params?: JsonSchema, response?: Record<string, JsonSchema> }
}

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

function routeSeed (method: string, url: string): number {
  return createHash('sha256').update(`${SEED} ${method} ${url}`).digest().readInt32LE(0)
}

function abbreviate (value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => typeof v === 'string' && v.length > 120 ? `${v.slice(0, 60)}…(${v.length} chars)` : v)
  return text === undefined ? 'undefined' : text.length > 1500 ? text.slice(0, 1500) + '…' : text
}

/** The database's content, to prove a refused request wrote nothing. */
class Fingerprint {
  #changes = -1
  #hash = ''
  #rows = new Map<string, string[]>()

  constructor (private readonly app: FastifyInstance) {}

  private tables (): string[] {
    // ordinary tables only: the search indexes (virtual tables and their shadow tables) are
    // derived from them by triggers
    return (sqliteOf(this.app).prepare("select name from pragma_table_list where schema = 'main' and type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%' order by name").all() as Array<{ name: string }>).map((r) => r.name)
  }

  /** Hashes every table (minus volatile columns and allowed rows); cheap when nothing was written. */
  take (): { hash: string, rows: Map<string, string[]> } {
    // total_changes() moves on every write on the connection (rolled back ones too): when it has
    // not moved, the content cannot have changed and the last hash stands
    const changes = (sqliteOf(this.app).prepare('select total_changes() as n').get() as { n: number }).n
    if (changes === this.#changes) return { hash: this.#hash, rows: this.#rows }
    const hash = createHash('sha256')
    const rows = new Map<string, string[]>()
    const tables = this.tables()
    const allowedEvents = new Set<unknown>()
    if (tables.includes('events')) {
      for (const row of sqliteOf(this.app).prepare('select id, type from events').all() as Array<{ id: number, type: string }>) {
        if (EVENTS_ON_REJECT.has(row.type)) allowedEvents.add(row.id)
      }
    }
    const keptResponses = new Set<unknown>()
    if (tables.includes('survey_responses')) {
      for (const row of sqliteOf(this.app).prepare('select id from survey_responses where id not in (select survey_response_id from time_entries where survey_response_id is not null)').all() as Array<{ id: number }>) {
        keptResponses.add(row.id)
      }
    }
    for (const table of tables) {
      const volatile = VOLATILE_COLUMNS[table] ?? []
      const texts: string[] = []
      for (const row of sqliteOf(this.app).prepare(`select * from "${table}" order by rowid`).all() as Array<Record<string, unknown>>) {
        if (table === 'events' ? allowedEvents.has(row.id) : allowedEvents.has(row.event_id)) continue
        if (table === 'survey_responses' && keptResponses.has(row.id)) continue
        if (table === 'idempotency_keys' && typeof row.response_body === 'string' && STORED_REFUSALS.has((JSON.parse(row.response_body) as { code?: string }).code ?? '')) continue
        for (const column of volatile) delete row[column]
        texts.push(JSON.stringify(row))
      }
      rows.set(table, texts)
      hash.update(table + '\n' + texts.join('\n') + '\n')
    }
    this.#changes = changes
    this.#hash = hash.digest('hex')
    this.#rows = rows
    return { hash: this.#hash, rows }
  }
}

function describeChange (before: Map<string, string[]>, after: Map<string, string[]>): string {
  const changed: string[] = []
  for (const [table, rows] of after) {
    const old = new Set(before.get(table) ?? [])
    const added = rows.filter((r) => !old.has(r))
    if (added.length > 0 || rows.length !== (before.get(table) ?? []).length) changed.push(`${table}: ${abbreviate(added.slice(0, 2))}`)
  }
  return changed.join('; ')
}

type AuthVariant = 'full' | 'other-account' | 'wrong-scope' | 'right-scope' | 'missing' | 'garbage' | 'wrong-scheme'
type BodyEncoding = 'json' | 'invalid-json' | 'empty' | 'array' | 'text' | 'form' | 'none' | 'shaped'

interface FuzzRequest {
  auth: AuthVariant
  query: Record<string, unknown>
  repeatKey: string | null
  body: unknown
  encoding: BodyEncoding
  /** for encoding 'shaped': the deep or wide field put into the body */
  shape: BodyShape
  idempotencyKey: string | null
}

t.test('schema-driven fuzzing of every /api/v1 route', async (t) => {
  const config = testConfig({ webhooksAllowLoopback: true })
  const app = Fastify(serverOptions(config))
  const captured: CapturedRoute[] = []
  app.addHook('onRoute', (route) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      captured.push({ method, url: route.url, schema: (route.schema ?? {}) as CapturedRoute['schema'] })
    }
  })
  await app.register(rootPlugin, { config })
  await app.ready()
  t.after(async () => { await app.close() })

  const schemas = app.getSchemas() as Record<string, JsonSchema>
  const arbs = new SchemaArbitraries((ref) => schemas[ref.replace(/#$/, '')])
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats(ajv, ['email', 'uri'])
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => parseTimestamp(s) !== null })
  ajv.addFormat('date', { type: 'string', validate: isCalendarDate })
  for (const schema of Object.values(schemas)) ajv.addSchema(schema as object)
  const compiled = new Map<object, ValidateFunction>()
  const validator = (schema: JsonSchema): ValidateFunction => {
    let v = compiled.get(schema)
    if (v === undefined) { v = ajv.compile(schema); compiled.set(schema, v) }
    return v
  }

  const a = await createTestAccount(app, { name: 'Fuzz A' })
  const b = await createTestAccount(app, { name: 'Fuzz B' })
  const scopedKeys = new Map<Scope, string>()
  for (const scope of SCOPES) scopedKeys.set(scope, (await createTestKey(app, a.id, { scopes: [scope] })).key)

  const scopeOf = new Map(routeTable(app).map((r) => [`${r.method} ${r.url}`, r.scope]))
  const allRoutes = captured.filter((r) => r.url.startsWith('/api/v1/') && r.url !== '/api/v1/openapi.json' && r.method !== 'OPTIONS')
  const routes = allRoutes.filter((r) => ONLY === undefined || `${r.method} ${r.url}` === ONLY)
  t.ok(routes.length > 0, `routes to fuzz: ${routes.map((r) => `${r.method} ${r.url}`).join(', ')}`)

  // Fixture data for both accounts, made through the API itself from valid values of each POST
  // route's schema; two passes so records that reference others (worker → location) find them.
  for (let pass = 0; pass < 2; pass++) {
    for (const route of allRoutes.filter((r) => r.method === 'POST' && r.schema.body !== undefined)) {
      const bodies = fc.sample(arbs.valid(route.schema.body!, 'body'), { seed: routeSeed('seed' + pass, route.url), numRuns: 12 })
      for (const [i, body] of bodies.entries()) {
        await app.inject({ method: 'POST', url: route.url, headers: { authorization: `Bearer ${i % 3 === 2 ? b.key : a.key}` }, payload: body as InjectOptions['payload'] })
      }
    }
  }

  const fingerprint = new Fingerprint(app)
  // HEAD routes answer like their GET: a fifth of the runs each
  const weight = routes.reduce((sum, r) => sum + (r.method === 'HEAD' ? 0.2 : 1), 0)
  const perRoute = Math.max(30, Math.floor(TOTAL_RUNS / weight))
  let requests = 0
  const statusCounts = new Map<number, number>()

  for (const route of routes) {
    const scope = scopeOf.get(`${route.method} ${route.url}`)
    const hasBody = route.schema.body !== undefined
    const wrongScope = SCOPES.find((s) => s !== scope)!
    const query = route.schema.querystring
    const queryArb = query === undefined
      ? fc.oneof({ weight: 9, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.constant({ unexpected: '1' }) })
      : fc.oneof(
        { weight: 5, arbitrary: arbs.object(query, 'query', () => 'valid') },
        { weight: 4, arbitrary: arbs.object(query, 'query', () => 'mixed') },
        { weight: 1, arbitrary: arbs.object(query, 'query', () => 'invalid') }
      )
    const bodyArb = !hasBody
      ? fc.constant(undefined)
      : fc.oneof(
        { weight: 5, arbitrary: arbs.object(route.schema.body!, 'body', () => 'valid') },
        { weight: 4, arbitrary: arbs.object(route.schema.body!, 'body', () => 'mixed') },
        { weight: 1, arbitrary: arbs.invalid(route.schema.body!, 'body') }
      )
    const requestArb: fc.Arbitrary<FuzzRequest> = fc.record({
      auth: fc.oneof(
        { weight: 14, arbitrary: fc.constant<AuthVariant>('full') },
        { weight: 2, arbitrary: fc.constant<AuthVariant>('other-account') },
        { weight: scope !== undefined && scope !== 'full' && scope !== 'public' ? 2 : 0, arbitrary: fc.constant<AuthVariant>('right-scope') },
        { weight: 1, arbitrary: fc.constantFrom<AuthVariant>('wrong-scope', 'missing', 'garbage', 'wrong-scheme') }
      ),
      query: queryArb,
      // a route that takes no query parameters (NoQuery) gets a repeated unknown one
      repeatKey: sometimes(fc.constantFrom(...(Object.keys(query?.properties ?? {}).length > 0 ? Object.keys(query!.properties!) : ['id'])), 1, 15),
      body: bodyArb,
      encoding: hasBody
        ? fc.oneof({ weight: 16, arbitrary: fc.constant<BodyEncoding>('json') }, { weight: 3, arbitrary: fc.constant<BodyEncoding>('shaped') }, { weight: 1, arbitrary: fc.constantFrom<BodyEncoding>('invalid-json', 'empty', 'array', 'text', 'form', 'none') })
        : fc.oneof({ weight: 10, arbitrary: fc.constant<BodyEncoding>('none') }, { weight: 1, arbitrary: fc.constantFrom<BodyEncoding>('json', 'invalid-json', 'shaped') }),
      shape: bodyShape(route.schema.body?.properties ?? {}),
      idempotencyKey: sometimes(fc.oneof(fc.uuid(), fc.string({ maxLength: 300 })), 1, 8)
    })

    const toInject = (req: FuzzRequest): InjectOptions => {
      const headers: Record<string, string> = {}
      const key = req.auth === 'other-account' ? b.key : req.auth === 'wrong-scope' ? scopedKeys.get(wrongScope)! : req.auth === 'right-scope' ? scopedKeys.get(scope as Scope)! : a.key
      if (req.auth === 'garbage') headers.authorization = 'Bearer tc_live_zzz'
      else if (req.auth === 'wrong-scheme') headers.authorization = `Basic ${key}`
      else if (req.auth !== 'missing') headers.authorization = `Bearer ${key}`
      if (req.idempotencyKey !== null) headers['idempotency-key'] = req.idempotencyKey
      // the key's fingerprint walks the whole body: the likeliest place for depth to hurt
      else if (req.encoding === 'shaped') headers['idempotency-key'] = `shaped-${requests}`
      let payload: string | undefined
      switch (req.encoding) {
        case 'json': headers['content-type'] = 'application/json'; payload = JSON.stringify(req.body ?? {}); break
        case 'invalid-json': headers['content-type'] = 'application/json'; payload = '{"name": "unterminated'; break
        case 'empty': headers['content-type'] = 'application/json'; payload = ''; break
        case 'array': headers['content-type'] = 'application/json'; payload = JSON.stringify([req.body]); break
        case 'text': headers['content-type'] = 'text/plain'; payload = JSON.stringify(req.body ?? {}); break
        case 'form': headers['content-type'] = 'application/x-www-form-urlencoded'; payload = 'name=form&active=1'; break
        case 'shaped': headers['content-type'] = 'application/json'; payload = shapedJson(req.body, req.shape); break
        case 'none': break
      }
      return { method: route.method as InjectOptions['method'], url: route.url + toQueryString(req.query, req.repeatKey), headers, payload }
    }

    const check = async (req: FuzzRequest): Promise<void> => {
      const before = fingerprint.take()
      const options = toInject(req)
      const res = await app.inject(options)
      requests++
      statusCounts.set(res.statusCode, (statusCounts.get(res.statusCode) ?? 0) + 1)
      const where = () => `${options.method} ${options.url?.toString().slice(0, 300)} [auth ${req.auth}, ${req.encoding}${req.encoding === 'shaped' ? ' ' + JSON.stringify(req.shape) : ''}] body ${abbreviate(req.body)} → ${res.statusCode} ${res.body.slice(0, 300)}`
      if (res.statusCode >= 500) throw new Error(`5xx: ${where()}`)
      if (typeof res.headers['x-request-id'] !== 'string') throw new Error(`no X-Request-Id: ${where()}`)
      if (route.method !== 'HEAD') {
        if (!/^application\/json/.test(String(res.headers['content-type']))) throw new Error(`not JSON (${String(res.headers['content-type'])}): ${where()}`)
        let body: unknown
        try { body = JSON.parse(res.body) } catch { throw new Error(`unparseable JSON: ${where()}`) }
        const responses = route.schema.response ?? {}
        const declared = responses[String(res.statusCode)] ?? responses[`${String(res.statusCode)[0]}xx`] ?? responses.default
        if (declared === undefined) throw new Error(`status ${res.statusCode} is not declared in the route's response schema: ${where()}`)
        const validate = validator(declared)
        if (!validate(body)) throw new Error(`response breaks its schema (${ajv.errorsText(validate.errors)}): ${where()}`)
        if (res.statusCode >= 400 && (body as { request_id?: unknown }).request_id !== res.headers['x-request-id']) {
          throw new Error(`error envelope's request_id is not the X-Request-Id header: ${where()}`)
        }
      } else if (res.body !== '') {
        throw new Error(`HEAD with a body: ${where()}`)
      }
      if (res.statusCode >= 400) {
        const after = fingerprint.take()
        if (after.hash !== before.hash) throw new Error(`a refused request changed the database (${describeChange(before.rows, after.rows)}): ${where()}`)
      }
    }

    const seed = routeSeed(route.method, route.url)
    const runs = route.method === 'HEAD' ? Math.ceil(perRoute / 5) : perRoute
    const result = await fc.check(fc.asyncProperty(requestArb, check), { seed, numRuns: runs, endOnFailure: true })
    if (result.failed) {
      t.fail(`${route.method} ${route.url}: ${result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance)}\n` +
        `  reproduce: FUZZ_SEED=${SEED} FUZZ_ROUTE="${route.method} ${route.url}" (route seed ${seed}, run ${result.numRuns})\n` +
        `  request: ${abbreviate(result.counterexample?.[0])}`)
    } else {
      t.pass(`${route.method} ${route.url}: ${result.numRuns} requests`)
    }
  }
  t.comment(`fuzz seed ${SEED}: ${requests} requests; statuses ${abbreviate(Object.fromEntries([...statusCounts].sort((x, y) => x[0] - y[0])))}`)
  t.ok(requests >= Math.min(TOTAL_RUNS, routes.length * 30) * 0.95, `ran about FUZZ_RUNS=${TOTAL_RUNS} requests`)
})
