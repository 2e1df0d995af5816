import t from 'tap'
import { Kysely, SqliteDialect, type Compilable, type CompiledQuery } from 'kysely'
import type { FastifyInstance } from 'fastify'
import { WorkerStore } from '../db/workers.js'
import type { Database } from '../db/types.js'
import { buildTestApp, call, createTestAccount, createTestKey } from './helper.js'
import { sqliteOf, sqliteOnly } from './helper.js'
import { StatementCachingDatabase } from '../db/engine/sqlite/connection.js'
import type { CompiledQuery as NamedQuery, Engine } from '../db/engine/engine.js'
import { NamedStatement } from '../db/engine/named-values.js'

const URL = '/api/v1/workers.php'

async function setup (t: Parameters<typeof buildTestApp>[0]) {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const post = async (url: string, payload: unknown) => await call(app, account.key, { method: 'POST', url, payload: payload as Record<string, unknown> })
  const location = (await post('/api/v1/locations.php', { name: 'Leeds Depot' })).json().data
  const department = (await post('/api/v1/departments.php', { name: 'Warehouse', location_id: location.id })).json().data
  return { app, account, post, location, department }
}

async function countRows (app: FastifyInstance, table: 'workers' | 'events'): Promise<number> {
  const row = await app.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}

t.test('POST creates a worker with the joined names; GET ?id= returns it', async (t) => {
  const { app, account, post, location, department } = await setup(t)
  const res = await post(URL, {
    first_name: 'Anna', last_name: 'Kowalska', employee_ref: 'EMP-001', email: 'anna@example.com',
    phone: '+44 7700 900123', location_id: location.id, department_id: department.id, preferred_language: 'pl'
  })
  t.equal(res.statusCode, 201)
  const worker = res.json().data
  t.match(worker, {
    id: Number, first_name: 'Anna', last_name: 'Kowalska', employee_ref: 'EMP-001', email: 'anna@example.com',
    phone: '+44 7700 900123', location_id: location.id, location_name: 'Leeds Depot', department_id: department.id,
    department: 'Warehouse', preferred_language: 'pl', active: true
  })
  t.match(worker.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  t.equal(worker.updated_at, worker.created_at)
  t.notOk('account_id' in worker, 'no internal column leaks')
  t.same(Object.keys(worker).sort(), ['active', 'created_at', 'department', 'department_id', 'email', 'employee_ref', 'first_name',
    'id', 'last_name', 'location_id', 'location_name', 'phone', 'preferred_language', 'updated_at'])

  const one = await call(app, account.key, { url: `${URL}?id=${worker.id}` })
  t.equal(one.statusCode, 200)
  t.same(one.json(), { data: worker })

  const minimal = await post(URL, { first_name: 'Bo', last_name: 'Li' })
  t.equal(minimal.statusCode, 201)
  t.match(minimal.json().data, {
    employee_ref: null, email: null, phone: null, location_id: null, location_name: null,
    department_id: null, department: null, preferred_language: 'en', active: true
  })
})

t.test('worker_created and worker_updated events are written with the record', async (t) => {
  const { app, account, post } = await setup(t)
  const created = (await post(URL, { first_name: 'Ion', last_name: 'Popescu', employee_ref: 'R1' })).json().data
  const updated = (await call(app, account.key, { method: 'PUT', url: `${URL}?id=${created.id}`, payload: { active: false } })).json().data
  const events = await app.db.selectFrom('events').selectAll().orderBy('id').execute()
  t.same(events.map((e) => [e.type, e.account_id]), [['worker_created', account.id], ['worker_updated', account.id]])
  t.same(JSON.parse(events[0]!.payload), created)
  t.same(JSON.parse(events[1]!.payload), updated)
  // a refused write leaves no event
  await post(URL, { first_name: 'X', last_name: 'Y', employee_ref: 'R1' })
  t.equal(await countRows(app, 'events'), 2)
})

t.test('GET with a read-scoped key; 404 for an unknown id', async (t) => {
  const { app, account, post } = await setup(t)
  const { key } = await createTestKey(app, account.id, { scopes: ['workers:read'] })
  const w = (await post(URL, { first_name: 'A', last_name: 'B' })).json().data
  t.equal((await call(app, key, { url: `${URL}?id=${w.id}` })).statusCode, 200)
  const missing = await call(app, key, { url: `${URL}?id=999999` })
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { error: true, status: 404, code: 'not_found', message: 'Worker 999999 not found' })
  const bad = await call(app, key, { url: `${URL}?id=abc` })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'validation_error')
  t.equal((await call(app, key, { method: 'POST', url: URL, payload: { first_name: 'A', last_name: 'B' } })).statusCode, 403, 'read scope cannot write')
})

t.test('list filters, search, paging and totals', async (t) => {
  const { app, account, post, location, department } = await setup(t)
  const other = (await post('/api/v1/locations.php', { name: 'Hull' })).json().data
  const people: Array<[string, string, string, number, number | null, boolean]> = [
    ['Anna', 'Nowak', 'LD-1', location.id, department.id, true],
    ['Piotr', 'Zielinski', 'LD-2', location.id, null, true],
    ['Maria', 'Ionescu', 'HU-1', other.id, department.id, false],
    ['John', 'Smith', 'HU-2', other.id, null, true],
    ['Anne', 'Baker', 'X_%9', location.id, department.id, false]
  ]
  const ids: number[] = []
  for (const [first, last, ref, loc, dep, active] of people) {
    ids.push((await post(URL, { first_name: first, last_name: last, employee_ref: ref, location_id: loc, department_id: dep, active })).json().data.id)
  }
  const list = async (query: string) => {
    const res = await call(app, account.key, { url: `${URL}?${query}` })
    t.equal(res.statusCode, 200, query)
    return res.json() as { data: Array<{ id: number }>, pagination: { total: number, limit: number, offset: number, has_more: boolean } }
  }
  const idsOf = (body: { data: Array<{ id: number }> }) => body.data.map((w) => w.id)

  const all = await list('')
  t.same(idsOf(all), ids, 'ordered by id')
  t.same(all.pagination, { total: 5, limit: 50, offset: 0, has_more: false })

  t.same(idsOf(await list(`location_id=${location.id}`)), [ids[0], ids[1], ids[4]])
  t.same(idsOf(await list(`department_id=${department.id}`)), [ids[0], ids[2], ids[4]])
  for (const yes of ['1', 'true']) t.same(idsOf(await list(`active=${yes}`)), [ids[0], ids[1], ids[3]])
  for (const no of ['0', 'false']) t.same(idsOf(await list(`active=${no}`)), [ids[2], ids[4]])
  t.same(idsOf(await list('search=ann')), [ids[0], ids[4]], 'first name, case-insensitive')
  t.same(idsOf(await list('search=ionescu')), [ids[2]], 'last name')
  t.same(idsOf(await list('search=HU-')), [ids[2], ids[3]], 'employee_ref')
  t.same(idsOf(await list('search=_%25')), [ids[4]], 'LIKE wildcards are literal')
  t.same(idsOf(await list('search=zzz')), [])

  const combined = await list(`location_id=${location.id}&active=1&limit=1`)
  t.same(idsOf(combined), [ids[0]])
  t.same(combined.pagination, { total: 2, limit: 1, offset: 0, has_more: true }, 'total counts the filter, not the page')
  const second = await list(`location_id=${location.id}&active=1&limit=1&offset=1`)
  t.same(idsOf(second), [ids[1]])
  t.same(second.pagination, { total: 2, limit: 1, offset: 1, has_more: false })

  const keyset = await list(`after_id=${ids[1]!}&limit=2`)
  t.same(idsOf(keyset), [ids[2], ids[3]])
  t.same(keyset.pagination, { total: 5, limit: 2, offset: 0, has_more: true })
  t.same(idsOf(await list(`after_id=${ids[3]!}&limit=2`)), [ids[4]])

  // updated_since: back-date every row, then touch one
  await app.db.updateTable('workers').set({ updated_at: '2020-01-01T00:00:00Z' }).execute()
  await call(app, account.key, { method: 'PUT', url: `${URL}?id=${ids[3]!}`, payload: { phone: '123' } })
  t.same(idsOf(await list('updated_since=2024-01-01T00:00:00%2B02:00')), [ids[3]], 'any offset accepted')
  t.same(idsOf(await list('updated_since=2020-01-01T00:00:00Z')), ids, 'at or after')

  for (const bad of ['limit=0', 'limit=101', 'offset=-1', 'active=yes', 'location_id=0', 'department_id=x', 'search=', 'updated_since=yesterday', 'colour=red']) {
    const res = await call(app, account.key, { url: `${URL}?${bad}` })
    t.equal(res.statusCode, 400, bad)
    t.equal(res.json().code, 'validation_error', bad)
  }
})

t.test('create validation: required, types, unknown fields, email, enum — and nothing is written', async (t) => {
  const { app, post } = await setup(t)
  const cases: Array<[unknown, RegExp]> = [
    [{ last_name: 'B' }, /Missing required field: first_name/],
    [{ first_name: 'A' }, /Missing required field: last_name/],
    [{ first_name: '', last_name: 'B' }, /first_name: must not be empty/],
    [{ first_name: 5, last_name: 'B' }, /first_name: must be string/],
    [{ first_name: 'A', last_name: 'B', location_id: '1' }, /location_id/],
    [{ first_name: 'A', last_name: 'B', active: 'true' }, /active: must be boolean/],
    [{ first_name: 'A', last_name: 'B', email: 'not-an-email' }, /email: must be a valid email/],
    [{ first_name: 'A', last_name: 'B', preferred_language: 'de' }, /preferred_language: must be one of en, pl, ro, lt/],
    [{ first_name: 'A', last_name: 'B', account_id: 2 }, /Unknown field: account_id/],
    [{ first_name: 'A', last_name: 'B', id: 7 }, /Unknown field: id/],
    [{ first_name: 'A', last_name: 'B', employee_ref: '' }, /employee_ref: must not be empty/],
    [{ first_name: 'A', last_name: 'B', phone: 'x'.repeat(41) }, /phone: must be at most 40/],
    [[], /must be a JSON object/]
  ]
  for (const [body, message] of cases) {
    const res = await post(URL, body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json().code, 'validation_error')
    t.match(res.json().message, message)
  }
  t.equal(await countRows(app, 'workers'), 0)
  t.equal(await countRows(app, 'events'), 0)
})

t.test('references must exist in the same account: 404 naming the missing thing', async (t) => {
  const { app, account, post, location } = await setup(t)
  const other = await createTestAccount(app, { name: 'Other' })
  const foreignLocation = (await call(app, other.key, { method: 'POST', url: '/api/v1/locations.php', payload: { name: 'Theirs' } })).json().data
  const foreignDepartment = (await call(app, other.key, { method: 'POST', url: '/api/v1/departments.php', payload: { name: 'Theirs' } })).json().data

  for (const [body, message] of [
    [{ location_id: 99999 }, 'Location 99999 not found'],
    [{ location_id: foreignLocation.id }, `Location ${foreignLocation.id as number} not found`],
    [{ department_id: foreignDepartment.id }, `Department ${foreignDepartment.id as number} not found`]
  ] as const) {
    const res = await post(URL, { first_name: 'A', last_name: 'B', ...body })
    t.equal(res.statusCode, 404)
    t.match(res.json(), { code: 'not_found', message })
  }
  t.equal(await countRows(app, 'workers'), 0, 'no cross-account link was written')

  const w = (await post(URL, { first_name: 'A', last_name: 'B', location_id: location.id })).json().data
  const res = await call(app, account.key, { method: 'PUT', url: `${URL}?id=${w.id}`, payload: { location_id: foreignLocation.id, first_name: 'Changed' } })
  t.equal(res.statusCode, 404)
  t.equal(res.json().message, `Location ${foreignLocation.id as number} not found`)
  const after = (await call(app, account.key, { url: `${URL}?id=${w.id}` })).json().data
  t.same(after, w, 'nothing changed')
})

t.test('employee_ref is unique per account: 409 on create and update, free across accounts', async (t) => {
  const { app, account, post } = await setup(t)
  const first = (await post(URL, { first_name: 'A', last_name: 'One', employee_ref: 'E-1' })).json().data
  const clash = await post(URL, { first_name: 'B', last_name: 'Two', employee_ref: 'E-1' })
  t.equal(clash.statusCode, 409)
  t.match(clash.json(), { error: true, status: 409, code: 'employee_ref_taken', message: 'employee_ref "E-1" is already used by another worker in this account' })

  const second = (await post(URL, { first_name: 'B', last_name: 'Two', employee_ref: 'E-2' })).json().data
  const put = await call(app, account.key, { method: 'PUT', url: `${URL}?id=${second.id}`, payload: { employee_ref: 'E-1' } })
  t.equal(put.statusCode, 409)
  t.equal(put.json().code, 'employee_ref_taken')
  const same = await call(app, account.key, { method: 'PUT', url: `${URL}?id=${first.id}`, payload: { employee_ref: 'E-1', last_name: 'Uno' } })
  t.equal(same.statusCode, 200, 'a worker keeps its own ref')
  t.equal(same.json().data.last_name, 'Uno')

  // null refs never clash
  t.equal((await post(URL, { first_name: 'C', last_name: 'N', employee_ref: null })).statusCode, 201)
  t.equal((await post(URL, { first_name: 'D', last_name: 'N' })).statusCode, 201)

  const other = await createTestAccount(app, { name: 'Other' })
  const elsewhere = await call(app, other.key, { method: 'POST', url: URL, payload: { first_name: 'E', last_name: 'Q', employee_ref: 'E-1' } })
  t.equal(elsewhere.statusCode, 201, 'another account may use the same ref')
})

t.test('a unique-constraint race (pre-check passes, insert clashes) is 409, not 500', async (t) => {
  const { app, account, post } = await setup(t)
  const first = (await post(URL, { first_name: 'A', last_name: 'One', employee_ref: 'RACE' })).json().data
  const second = (await post(URL, { first_name: 'B', last_name: 'Two' })).json().data
  const original = WorkerStore.prototype.employeeRefOwner
  WorkerStore.prototype.employeeRefOwner = async () => undefined // as if the other writer had not committed yet
  t.teardown(() => { WorkerStore.prototype.employeeRefOwner = original })

  const created = await post(URL, { first_name: 'C', last_name: 'Three', employee_ref: 'RACE' })
  t.equal(created.statusCode, 409)
  t.match(created.json(), { code: 'employee_ref_taken', message: /"RACE"/ })
  const updated = await call(app, account.key, { method: 'PUT', url: `${URL}?id=${second.id}`, payload: { employee_ref: 'RACE' } })
  t.equal(updated.statusCode, 409)
  t.equal(updated.json().code, 'employee_ref_taken')
  t.equal(await countRows(app, 'workers'), 2)
  t.equal(await countRows(app, 'events'), 2, 'the rolled-back writes left no event')
  t.equal((await call(app, account.key, { url: `${URL}?id=${first.id}` })).json().data.first_name, 'A')
})

t.test('PUT is partial; null clears; validation and unknown ids change nothing', async (t) => {
  const { app, account, post, location, department } = await setup(t)
  const w = (await post(URL, {
    first_name: 'Lina', last_name: 'Petrauskiene', employee_ref: 'LT-7', email: 'lina@example.com',
    location_id: location.id, department_id: department.id, preferred_language: 'lt'
  })).json().data
  const put = async (id: number | string, payload: unknown) =>
    await call(app, account.key, { method: 'PUT', url: `${URL}?id=${id}`, payload: payload as Record<string, unknown> })

  // updated_at has second precision: the row is set back rather than the test waiting a second
  const backdated = '2020-01-01T00:00:00Z'
  await app.engine.write(async (trx) => { await trx.updateTable('workers').set({ updated_at: backdated }).where('id', '=', w.id).execute() })
  const res = await put(w.id, { phone: '07700 900456', department_id: null })
  t.equal(res.statusCode, 200)
  const changed = res.json().data
  t.same({ ...changed, updated_at: w.updated_at }, { ...w, phone: '07700 900456', department_id: null, department: null })
  t.ok(changed.updated_at > backdated && changed.updated_at >= w.updated_at, `updated_at moves (${String(changed.updated_at)})`)
  t.equal(changed.created_at, w.created_at)

  const deactivated = (await put(w.id, { active: false })).json().data
  t.equal(deactivated.active, false)
  t.equal(deactivated.first_name, 'Lina')

  const before = (await call(app, account.key, { url: `${URL}?id=${w.id}` })).json().data
  for (const [body, status, message] of [
    [{}, 400, /at least one field/],
    [{ email: 'nope' }, 400, /email/],
    [{ first_name: null }, 400, /first_name/],
    [{ first_name: 'Ok', colour: 'red' }, 400, /Unknown field: colour/],
    [{ active: 1 }, 400, /active: must be boolean/],
    [{ department_id: 424242 }, 404, /Department 424242 not found/]
  ] as const) {
    const r = await put(w.id, body)
    t.equal(r.statusCode, status, JSON.stringify(body))
    t.match(r.json().message, message)
  }
  t.same((await call(app, account.key, { url: `${URL}?id=${w.id}` })).json().data, before, 'nothing changed')

  const missing = await put(999999, { first_name: 'X' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().message, 'Worker 999999 not found')
  t.equal((await put('abc', { first_name: 'X' })).statusCode, 400)
  t.equal((await call(app, account.key, { method: 'PUT', url: URL, payload: { first_name: 'X' } })).statusCode, 400, 'PUT needs ?id=')
})

t.test('the list and single-row queries use indexes (EXPLAIN QUERY PLAN)', { skip: sqliteOnly('SQLite query plans') }, async (t) => {
  const app = await buildTestApp(t)
  const captured: CompiledQuery[] = []
  const logged = new Kysely<Database>({
    dialect: new SqliteDialect({ database: new StatementCachingDatabase(sqliteOf(app)) }),
    log: (event) => { if (event.level === 'query') captured.push(event.query) }
  })
    // the store on an engine whose every query, compiled ones included, runs through `logged`
  const compile: Engine['compile'] = <Row, Name extends string>(build: (param: (name: Name) => any) => Compilable<Row>) => {
    const named = new NamedStatement<Row, Name>(build)
    const read = async (values: Record<Name, unknown>): Promise<Row[]> => (await logged.executeQuery<Row>({ ...named.statement, parameters: named.parameters(values) })).rows
    const query: NamedQuery<Row, Name> = { read, readFirst: async (values) => (await read(values))[0], run: async (_trx, values) => await read(values), runFirst: async (_trx, values) => (await read(values))[0] }
    return query
  }
  const store = new WorkerStore({ ...app.engine, db: logged, compile })
  const plan = (query: CompiledQuery): string =>
    (sqliteOf(app).prepare('explain query plan ' + query.sql).all(...query.parameters.map((p) => typeof p === 'boolean' ? Number(p) : p)) as Array<{ detail: string }>)
      .map((r) => r.detail).join(' | ')
  const plansOf = async (run: () => Promise<unknown>): Promise<string[]> => {
    captured.length = 0
    await run()
    return captured.map(plan)
  }
  const paging = { limit: 100, offset: 0 }

  const [count, rows] = await plansOf(async () => await store.list(1, {}, { ...paging, after_id: 5000 }))
  t.match(count, /^SEARCH workers USING COVERING INDEX workers_account\w* \(account_id=\?\)$/, `count: ${count}`)
  t.notMatch(count, /locations|departments/, 'the count reads no other table')
  t.match(rows, /SEARCH workers USING INDEX workers_account \(account_id=\? AND (row)?id>\?\)/, `page: ${rows}`)
  t.notMatch(rows, /TEMP B-TREE/, 'no sort: the index gives id order')
  t.match(rows, /SEARCH locations USING INTEGER PRIMARY KEY/)
  t.match(rows, /SEARCH departments USING INTEGER PRIMARY KEY/)

  const filtered = await plansOf(async () => await store.list(1, { location_id: 3, active: true }, paging))
  for (const p of filtered) {
    t.match(p, /SEARCH workers USING INDEX workers_account_location \(account_id=\? AND location_id=\?\)/, `location + active uses the location index: ${p}`)
    t.notMatch(p, /TEMP B-TREE/)
  }
  for (const p of await plansOf(async () => await store.list(1, { active: false }, paging))) {
    t.match(p, /workers_account_active \(account_id=\? AND active=\?\)/, `active alone uses its index: ${p}`)
  }
  const byDepartment = await plansOf(async () => await store.list(1, { department_id: 3 }, paging))
  for (const p of byDepartment) t.match(p, /workers_account_department/, p)

  const [one] = await plansOf(async () => await store.find(1, 1))
  t.match(one, /SEARCH workers USING INTEGER PRIMARY KEY \(rowid=\?\)/, `single row: ${one}`)
})
