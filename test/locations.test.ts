import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildTestApp, call, createTestAccount, createTestKey } from './helper.js'

const URL = '/api/v1/locations.php'
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

async function create (app: FastifyInstance, key: string, body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await call(app, key, { method: 'POST', url: URL, payload: body })
  if (res.statusCode !== 201) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json().data
}

async function list (app: FastifyInstance, key: string, query = ''): Promise<LightMyRequestResponse> {
  return await call(app, key, { url: `${URL}?${query}` })
}

const ids = (res: LightMyRequestResponse): number[] => res.json().data.map((l: { id: number }) => l.id)

async function snapshot (app: FastifyInstance): Promise<unknown[]> {
  return await app.db.selectFrom('locations').selectAll().orderBy('id').execute()
}

t.test('create: 201 with defaults, then get one', async (t) => {
  const app = await buildTestApp(t)
  const { key } = await createTestAccount(app)

  const res = await call(app, key, { method: 'POST', url: URL, payload: { name: 'Leeds Depot' } })
  t.equal(res.statusCode, 201)
  const created = res.json().data
  t.match(created, {
    id: Number,
    name: 'Leeds Depot',
    address_line1: null,
    address_line2: null,
    city: null,
    postcode: null,
    latitude: null,
    longitude: null,
    geofence_radius_m: null,
    geofence_mode: 'off',
    gps_accuracy_threshold: null,
    kiosk_language: 'en',
    timezone: null,
    active: true
  })
  t.match(created.created_at, ISO)
  t.equal(created.updated_at, created.created_at)
  t.same(Object.keys(created).sort(), ['active', 'address_line1', 'address_line2', 'city', 'created_at', 'geofence_mode',
    'geofence_radius_m', 'gps_accuracy_threshold', 'id', 'kiosk_language', 'latitude', 'longitude', 'name', 'postcode',
    'timezone', 'updated_at'], 'exactly the documented fields: no account_id')

  const full = {
    name: 'Manchester Hub',
    address_line1: '1 Main St',
    address_line2: 'Unit 4',
    city: 'Manchester',
    postcode: 'M1 1AA',
    latitude: 53.4808,
    longitude: -2.2426,
    geofence_radius_m: 150,
    geofence_mode: 'strict',
    gps_accuracy_threshold: 50,
    kiosk_language: 'pl',
    timezone: 'Europe/London',
    active: false
  }
  const all = await create(app, key, full)
  t.match(all, full, 'every field is stored and returned')
  t.equal(all.active, false)

  const one = await call(app, key, { url: `${URL}?id=${String(all.id)}` })
  t.equal(one.statusCode, 200)
  t.same(one.json(), { data: all }, 'GET ?id= returns the record, without pagination')
})

t.test('404 for a missing id and for another account\'s id, reads and writes alike', async (t) => {
  const app = await buildTestApp(t)
  const mine = await createTestAccount(app)
  const theirs = await createTestAccount(app, { name: 'Other' })
  const their = await create(app, theirs.key, { name: 'Their Site', city: 'York' })
  const before = await snapshot(app)

  for (const id of [their.id, 9999]) {
    const get = await call(app, mine.key, { url: `${URL}?id=${String(id)}` })
    t.equal(get.statusCode, 404)
    t.match(get.json(), { error: true, status: 404, code: 'not_found', message: `Location ${String(id)} not found` })
    const put = await call(app, mine.key, { method: 'PUT', url: `${URL}?id=${String(id)}`, payload: { name: 'Mine now' } })
    t.equal(put.statusCode, 404)
    t.match(put.json(), { error: true, status: 404, code: 'not_found', message: `Location ${String(id)} not found` })
  }
  t.same(await snapshot(app), before, 'the other account\'s row is untouched')

  const myList = await list(app, mine.key)
  t.same(myList.json(), { data: [], pagination: { total: 0, limit: 50, offset: 0, has_more: false } }, 'lists never show other accounts\' rows')
  const mySearch = await list(app, mine.key, 'search=York')
  t.same(mySearch.json().data, [])
})

t.test('lists: ordered by id, limit/offset, after_id, totals and has_more', async (t) => {
  const app = await buildTestApp(t)
  const { key } = await createTestAccount(app)
  const other = await createTestAccount(app, { name: 'Other' })
  const created: number[] = []
  for (let i = 1; i <= 105; i++) {
    // interleave another account's rows so ids are not contiguous
    if (i % 10 === 0) await create(app, other.key, { name: `Other ${i}` })
    created.push((await create(app, key, { name: `Site ${String(i).padStart(3, '0')}`, active: i % 3 !== 0 })).id)
  }

  const first = await list(app, key)
  t.equal(first.statusCode, 200)
  t.same(first.json().pagination, { total: 105, limit: 50, offset: 0, has_more: true }, 'limit defaults to 50')
  t.same(ids(first), created.slice(0, 50), 'ordered by id ascending')

  const max = await list(app, key, 'limit=100')
  t.same(max.json().pagination, { total: 105, limit: 100, offset: 0, has_more: true })
  t.equal(ids(max).length, 100)
  t.equal((await list(app, key, 'limit=101')).statusCode, 400, 'limit max 100')

  const page3 = await list(app, key, 'limit=50&offset=100')
  t.same(ids(page3), created.slice(100))
  t.same(page3.json().pagination, { total: 105, limit: 50, offset: 100, has_more: false })
  const exact = await list(app, key, 'limit=5&offset=100')
  t.same(exact.json().pagination, { total: 105, limit: 5, offset: 100, has_more: false }, 'has_more false on an exactly full last page')
  const beyond = await list(app, key, 'offset=500')
  t.same(beyond.json(), { data: [], pagination: { total: 105, limit: 50, offset: 500, has_more: false } })

  // keyset paging walks every row exactly once
  const walked: number[] = []
  let after = 0
  for (;;) {
    const res = await list(app, key, `limit=40&after_id=${after}`)
    t.equal(res.statusCode, 200)
    walked.push(...ids(res))
    if (!(res.json().pagination.has_more as boolean)) break
    after = walked[walked.length - 1]!
  }
  t.same(walked, created, 'after_id pages cover every row once, in order')
  const afterMid = await list(app, key, `after_id=${created[99]!}`)
  t.same(ids(afterMid), created.slice(100))
  t.same(afterMid.json().pagination, { total: 105, limit: 50, offset: 0, has_more: false }, 'total counts the filters, not the keyset cut')

  // filters combine with paging; total and has_more follow the filter
  const inactive = created.filter((_, i) => (i + 1) % 3 === 0)
  const inactiveRes = await list(app, key, 'active=0&limit=10')
  t.same(ids(inactiveRes), inactive.slice(0, 10))
  t.same(inactiveRes.json().pagination, { total: inactive.length, limit: 10, offset: 0, has_more: true })
  const lastInactive = await list(app, key, `active=false&limit=10&offset=${inactive.length - 10}`)
  t.same(ids(lastInactive), inactive.slice(-10))
  t.equal(lastInactive.json().pagination.has_more, false)
  const activeCount = 105 - inactive.length
  for (const value of ['1', 'true']) {
    const res = await list(app, key, `active=${value}&limit=100`)
    t.equal(res.json().pagination.total, activeCount, `active=${value}`)
    t.ok(res.json().data.every((l: { active: boolean }) => l.active))
  }
  for (const value of ['0', 'false']) {
    const res = await list(app, key, `active=${value}&limit=100`)
    t.same(ids(res), inactive, `active=${value}`)
  }
})

t.test('search matches name, city or postcode, with LIKE wildcards taken literally', async (t) => {
  const app = await buildTestApp(t)
  const { key } = await createTestAccount(app)
  const byName = await create(app, key, { name: 'North Warehouse' })
  const byCity = await create(app, key, { name: 'Site B', city: 'Northampton' })
  const byPostcode = await create(app, key, { name: 'Site C', postcode: 'NN1 5NO' })
  const percent = await create(app, key, { name: '100% Staffing' })
  const underscore = await create(app, key, { name: 'Site_D' })
  const plain = await create(app, key, { name: 'SiteXD', city: 'Leeds', postcode: 'LS1 1AA', active: false })

  t.same(ids(await list(app, key, 'search=north')), [byName.id, byCity.id], 'case-insensitive, name and city')
  t.same(ids(await list(app, key, 'search=nn1')), [byPostcode.id], 'postcode')
  t.same(ids(await list(app, key, 'search=%25')), [percent.id], '% is literal')
  t.same(ids(await list(app, key, 'search=e_D')), [underscore.id], '_ is literal (SiteXD does not match)')
  t.same(ids(await list(app, key, 'search=%5C')), [], 'a backslash is literal too')
  t.same(ids(await list(app, key, 'search=Leeds')), [plain.id])
  t.same(ids(await list(app, key, 'search=Leeds&active=1')), [], 'search combines with active')
  const combined = await list(app, key, 'search=site&limit=2')
  t.same(ids(combined), [byCity.id, byPostcode.id])
  t.same(combined.json().pagination, { total: 4, limit: 2, offset: 0, has_more: true })
})

t.test('updated_since returns rows created or changed at or after it', async (t) => {
  const app = await buildTestApp(t)
  const { key } = await createTestAccount(app)
  const a = await create(app, key, { name: 'A' })
  const b = await create(app, key, { name: 'B' })
  const c = await create(app, key, { name: 'C' })
  // age the rows so the boundary is clear
  await app.db.updateTable('locations').set({ created_at: '2025-01-01T00:00:00Z', updated_at: '2025-01-01T00:00:00Z' }).execute()
  await app.db.updateTable('locations').set({ updated_at: '2025-06-15T09:30:00Z' }).where('id', '=', b.id).execute()

  t.same(ids(await list(app, key, 'updated_since=2025-06-15T09:30:00Z')), [b.id], 'at the instant is included')
  t.same(ids(await list(app, key, 'updated_since=2025-06-15T10:30:00%2B01:00')), [b.id], 'offsets are normalised to UTC')
  t.same(ids(await list(app, key, 'updated_since=2025-06-15T09:30:01Z')), [])
  t.same(ids(await list(app, key, 'updated_since=2024-12-31T23:59:59Z')), [a.id, b.id, c.id])

  const put = await call(app, key, { method: 'PUT', url: `${URL}?id=${String(c.id)}`, payload: { city: 'Hull' } })
  t.equal(put.statusCode, 200)
  const since = await list(app, key, 'updated_since=2025-06-15T09:30:00Z')
  t.same(ids(since), [b.id, c.id], 'a changed row shows up')
  t.equal(since.json().pagination.total, 2)
})

t.test('PUT is a partial update; updated_at moves, created_at and other fields do not', async (t) => {
  const app = await buildTestApp(t)
  const { key } = await createTestAccount(app)
  const original = await create(app, key, { name: 'Depot', city: 'Leeds', postcode: 'LS1', latitude: 53.8, longitude: -1.55, geofence_radius_m: 100, geofence_mode: 'warn' })
  await app.db.updateTable('locations').set({ created_at: '2025-01-01T00:00:00Z', updated_at: '2025-01-01T00:00:00Z' }).execute()

  const res = await call(app, key, { method: 'PUT', url: `${URL}?id=${String(original.id)}`, payload: { city: 'York', active: false } })
  t.equal(res.statusCode, 200)
  const updated = res.json().data
  t.same(updated, {
    ...original,
    city: 'York',
    active: false,
    created_at: '2025-01-01T00:00:00Z',
    updated_at: updated.updated_at
  }, 'only the given fields changed')
  t.match(updated.updated_at, ISO)
  t.ok(updated.updated_at > '2025-01-01T00:00:00Z', 'updated_at moved')

  const cleared = await call(app, key, { method: 'PUT', url: `${URL}?id=${String(original.id)}`, payload: { postcode: null, geofence_mode: 'off', latitude: null, longitude: null, geofence_radius_m: null } })
  t.equal(cleared.statusCode, 200)
  t.match(cleared.json().data, { postcode: null, latitude: null, longitude: null, geofence_radius_m: null, geofence_mode: 'off', city: 'York' }, 'null clears a field')

  const get = await call(app, key, { url: `${URL}?id=${String(original.id)}` })
  t.same(get.json().data, cleared.json().data, 'what PUT returned is what is stored')
})

t.test('invalid writes are 400 and leave the database unchanged', async (t) => {
  const app = await buildTestApp(t)
  const { key } = await createTestAccount(app)
  const site = await create(app, key, { name: 'Depot', latitude: 53.8, longitude: -1.55 })
  const before = await snapshot(app)

  const posts: Array<[Record<string, unknown>, string]> = [
    [{ name: 'Fenced', geofence_mode: 'block' }, 'geofence_mode block needs latitude, longitude and geofence_radius_m'],
    [{ name: 'Fenced', geofence_mode: 'warn', latitude: 1, longitude: 1 }, 'geofence_mode warn needs latitude, longitude and geofence_radius_m'],
    [{ name: 'Half', latitude: 53.8 }, 'latitude and longitude must be given together'],
    [{ name: 'Half', longitude: -1.5 }, 'latitude and longitude must be given together'],
    [{ name: 'Zoned', timezone: 'Europe/Atlantis' }, 'Invalid field timezone: unknown IANA time zone "Europe/Atlantis"'],
    [{ name: 'Odd', shoe_size: 9 }, 'Unknown field: shoe_size'],
    [{ name: 'Lang', kiosk_language: 'de' }, 'Invalid field kiosk_language: must be one of en, pl, ro, lt'],
    [{ name: 'Far', latitude: 10, longitude: 181 }, 'Invalid field longitude: must be <= 180'],
    [{ name: 'Big', geofence_radius_m: 0 }, 'Invalid field geofence_radius_m: must be >= 1']
  ]
  for (const [payload, message] of posts) {
    const res = await call(app, key, { method: 'POST', url: URL, payload })
    t.equal(res.statusCode, 400, message)
    t.match(res.json(), { error: true, status: 400, code: 'validation_error', message })
  }

  const puts: Array<[Record<string, unknown>, string]> = [
    [{ geofence_mode: 'strict' }, 'geofence_mode strict needs latitude, longitude and geofence_radius_m'],
    [{ longitude: null }, 'latitude and longitude must be given together'],
    [{ timezone: 'Not/AZone' }, 'Invalid field timezone: unknown IANA time zone "Not/AZone"'],
    [{}, 'Request body must contain at least one field to change'],
    [{ name: 'New', id: 5 }, 'Unknown field: id'],
    [{ created_at: '2020-01-01T00:00:00Z' }, 'Unknown field: created_at'],
    [{ name: null }, 'Invalid field name: must be string'],
    [{ active: 0 }, 'Invalid field active: must be boolean']
  ]
  for (const [payload, message] of puts) {
    const res = await call(app, key, { method: 'PUT', url: `${URL}?id=${String(site.id)}`, payload })
    t.equal(res.statusCode, 400, message)
    t.match(res.json(), { error: true, status: 400, code: 'validation_error', message })
  }
  t.same(await snapshot(app), before, 'no rejected write changed anything')

  const ok = await call(app, key, { method: 'PUT', url: `${URL}?id=${String(site.id)}`, payload: { geofence_mode: 'block', geofence_radius_m: 200, timezone: 'Europe/London' } })
  t.equal(ok.statusCode, 200, 'a fence with coordinates and radius is accepted')
  t.match(ok.json().data, { geofence_mode: 'block', geofence_radius_m: 200, latitude: 53.8, longitude: -1.55, timezone: 'Europe/London' })
})

t.test('scoped keys read with locations:read but cannot write', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const site = await create(app, account.key, { name: 'Depot' })
  const reader = await createTestKey(app, account.id, { scopes: ['locations:read'] })
  const everything = await createTestKey(app, account.id, { scopes: ['workers:read', 'locations:read', 'shifts:write', 'webhooks:write'] })
  const before = await snapshot(app)

  const read = await call(app, reader.key, { url: URL })
  t.equal(read.statusCode, 200)
  t.same(ids(read), [site.id])
  for (const key of [reader.key, everything.key]) {
    const post = await call(app, key, { method: 'POST', url: URL, payload: { name: 'Sneaky' } })
    t.equal(post.statusCode, 403)
    t.match(post.json(), { code: 'insufficient_scope', message: /full-access/ })
    const put = await call(app, key, { method: 'PUT', url: `${URL}?id=${String(site.id)}`, payload: { name: 'Sneaky' } })
    t.equal(put.statusCode, 403)
    t.match(put.json(), { code: 'insufficient_scope' })
  }
  t.same(await snapshot(app), before)
})
