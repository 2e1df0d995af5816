import t from 'tap'
import { ClockStore } from '../db/clock.js'
import { localDate, localDateRange, startOfLocalDay } from '../domain/zoned-time.js'
import { buildTestApp, call, createTestAccount, createTestKey } from './helper.js'
import { createLocation, insertCostCode, insertWorker } from './time-fixtures.js'

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19) + 'Z'

t.test('start of a local day, DST-correct (Intl)', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['2025-03-30', 'Europe/London', '2025-03-30T00:00:00Z'], // GMT midnight; clocks go forward at 01:00
    ['2025-03-31', 'Europe/London', '2025-03-30T23:00:00Z'], // BST midnight
    ['2025-10-26', 'Europe/London', '2025-10-25T23:00:00Z'], // still BST at midnight; back at 02:00
    ['2025-10-27', 'Europe/London', '2025-10-27T00:00:00Z'],
    ['2025-09-07', 'America/Santiago', '2025-09-07T04:00:00Z'], // midnight does not exist: 01:00 -03
    ['2025-06-01', 'Asia/Kathmandu', '2025-05-31T18:15:00Z'],
    ['2025-06-01', 'Pacific/Kiritimati', '2025-05-31T10:00:00Z'],
    ['2025-06-01', 'UTC', '2025-06-01T00:00:00Z']
  ]
  for (const [date, zone, expected] of cases) t.equal(iso(startOfLocalDay(date, zone)), expected, `${date} ${zone}`)
  t.equal(localDate(Date.parse('2025-03-30T23:30:00Z'), 'Europe/London'), '2025-03-31')
  t.same(localDateRange('Europe/London', '2025-10-26', '2025-10-26'), { from: '2025-10-25T23:00:00Z', to: '2025-10-27T00:00:00Z' }, 'a 25-hour day')
  t.same(localDateRange('Europe/London', '2025-03-30', '2025-03-30'), { from: '2025-03-30T00:00:00Z', to: '2025-03-30T23:00:00Z' }, 'a 23-hour day')
  t.same(localDateRange('UTC', undefined, '2025-01-31'), { from: undefined, to: '2025-02-01T00:00:00Z' })
})

/** Clocks through the real store with the server's clock set to `at` + 1 minute. */
async function clockAt (store: ClockStore, accountId: number, workerId: number, action: 'in' | 'out' | 'break_start' | 'break_end', at: string, extra: Record<string, unknown> = {}) {
  return await store.clock(accountId, { worker_id: workerId, action, timestamp: at, ...extra }, Date.parse(at) + 60_000)
}

t.test('timesheet dates are the clock-in\'s date in the account\'s timezone, across both DST changes', async (t) => {
  const app = await buildTestApp(t)
  const london = await createTestAccount(app, { timezone: 'Europe/London' })
  const utc = await createTestAccount(app, { name: 'UTC', timezone: 'UTC' })
  const store = new ClockStore(app.engine)
  const lw = await insertWorker(app.db, london.id)
  const uw = await insertWorker(app.db, utc.id)
  const shifts: Array<[string, string]> = [
    ['2025-03-29T23:30:00Z', '2025-03-30T00:15:00Z'], // A: Sat 23:30 GMT → London 29th
    ['2025-03-30T00:30:00Z', '2025-03-30T02:30:00Z'], // C: 00:30 GMT → 03:30 BST: 2 h elapsed, 3 h on the wall
    ['2025-03-30T23:30:00Z', '2025-03-31T07:00:00Z'], // B: 00:30 BST on the 31st (the 30th in UTC)
    ['2025-10-25T22:59:59Z', '2025-10-25T23:10:00Z'], // E: 23:59:59 BST on the 25th
    ['2025-10-25T23:30:00Z', '2025-10-26T02:30:00Z'] // D: 00:30 BST → 02:30 GMT on the 26th: 3 h elapsed, 2 h on the wall
  ]
  const ids: number[] = []
  for (const [account, worker] of [[london.id, lw], [utc.id, uw]] as const) {
    for (const [inAt, outAt] of shifts) {
      const entry = (await clockAt(store, account, worker, 'in', inAt)).entry
      await clockAt(store, account, worker, 'out', outAt)
      if (account === london.id) ids.push(entry.id)
    }
  }
  const [A, C, B, E, D] = ids
  const list = async (key: string, q: string) => {
    const res = await call(app, key, { method: 'GET', url: `/api/v1/timesheets.php?${q}` })
    t.equal(res.statusCode, 200, q)
    return res.json()
  }
  const idsOf = async (key: string, q: string) => (await list(key, q)).data.map((e: { id: number }) => e.id)

  t.same(await idsOf(london.key, 'start_date=2025-03-29&end_date=2025-03-29'), [A])
  t.same(await idsOf(london.key, 'start_date=2025-03-30&end_date=2025-03-30'), [C])
  t.same(await idsOf(london.key, 'start_date=2025-03-31&end_date=2025-03-31'), [B])
  t.same(await idsOf(london.key, 'start_date=2025-10-25&end_date=2025-10-25'), [E])
  t.same(await idsOf(london.key, 'start_date=2025-10-26&end_date=2025-10-26'), [D])
  t.same(await idsOf(london.key, 'start_date=2025-03-30'), [C, B, E, D], 'open end')
  t.same(await idsOf(london.key, 'end_date=2025-03-30'), [A, C], 'open start')
  // the same instants in a UTC account fall on other dates
  t.equal((await list(utc.key, 'start_date=2025-03-30&end_date=2025-03-30')).data.length, 2, 'UTC: C and B start on the 30th')
  t.equal((await list(utc.key, 'start_date=2025-10-25&end_date=2025-10-25')).data.length, 2)

  const all = (await list(london.key, 'limit=10')).data
  const byId = new Map(all.map((e: { id: number }) => [e.id, e]))
  t.match(byId.get(C), { duration_seconds: 7200, clock_in: '2025-03-30T00:30:00Z', clock_out: '2025-03-30T02:30:00Z' }, 'spring: elapsed, not wall-clock')
  t.match(byId.get(D), { duration_seconds: 10800 }, 'autumn: elapsed, not wall-clock')
  t.match(byId.get(B), { duration_seconds: 27000 }, 'across midnight')
})

t.test('breaks across midnight and DST: break_seconds', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app, { timezone: 'Europe/London' })
  const store = new ClockStore(app.engine)
  const w = await insertWorker(app.db, acct.id)
  const shift = (await clockAt(store, acct.id, w, 'in', '2025-10-25T22:00:00Z')).entry
  await clockAt(store, acct.id, w, 'break_start', '2025-10-25T23:50:00Z') // 00:50 BST
  await clockAt(store, acct.id, w, 'break_end', '2025-10-26T01:20:00Z') // 01:20 GMT (second 01:xx)
  await clockAt(store, acct.id, w, 'break_start', '2025-10-26T03:00:00Z')
  const out = (await clockAt(store, acct.id, w, 'out', '2025-10-26T03:10:00Z')).entry
  t.match(out, { id: shift.id, duration_seconds: 5 * 3600 + 600, break_seconds: 90 * 60 + 600 })
  const breaks = await call(app, acct.key, { method: 'GET', url: '/api/v1/timesheets.php?entry_filter=breaks' })
  t.same(breaks.json().data.map((b: { duration_seconds: number, parent_id: number }) => [b.parent_id, b.duration_seconds]), [[shift.id, 5400], [shift.id, 600]])
})

t.test('entry_filter, filters, joined names, paging, ?id=, tenant isolation, errors', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const other = await createTestAccount(app, { name: 'Other' })
  const locA = await createLocation(app, acct.id, { name: 'Alpha' })
  const locB = await createLocation(app, acct.id, { name: 'Beta' })
  const cc = await insertCostCode(app.db, acct.id)
  const w1 = await insertWorker(app.db, acct.id, { first_name: 'Ann', last_name: 'One', location_id: locA.id })
  const w2 = await insertWorker(app.db, acct.id, { first_name: 'Bob', last_name: 'Two', location_id: locB.id })
  const ow = await insertWorker(app.db, other.id)
  const store = new ClockStore(app.engine)
  const base = Date.now() - 3 * 24 * 3_600_000
  const at = (h: number) => iso(base + h * 3_600_000)
  const now = Date.now()
  const done1 = (await store.clock(acct.id, { worker_id: w1, action: 'in', timestamp: at(0), cost_code_id: cc }, now)).entry
  await store.clock(acct.id, { worker_id: w1, action: 'break_start', timestamp: at(1) }, now)
  await store.clock(acct.id, { worker_id: w1, action: 'out', timestamp: at(2) }, now)
  const done2 = (await store.clock(acct.id, { worker_id: w2, action: 'in', timestamp: at(0) }, now)).entry
  await store.clock(acct.id, { worker_id: w2, action: 'out', timestamp: at(3) }, now)
  const open1 = (await store.clock(acct.id, { worker_id: w1, action: 'in', timestamp: at(5) }, now)).entry
  const openBreak = (await store.clock(acct.id, { worker_id: w1, action: 'break_start', timestamp: at(6) }, now)).entry
  const theirs = (await store.clock(other.id, { worker_id: ow, action: 'in', timestamp: at(0) }, now)).entry
  await store.clock(other.id, { worker_id: ow, action: 'out', timestamp: at(1) }, now)

  const get = async (q: string, key = acct.key) => await call(app, key, { method: 'GET', url: `/api/v1/timesheets.php${q}` })
  const ids = async (q: string) => (await get(q)).json().data.map((e: { id: number }) => e.id)
  const shiftsDefault = await get('')
  t.equal(shiftsDefault.statusCode, 200)
  t.same(shiftsDefault.json().data.map((e: { id: number }) => e.id), [done1.id, done2.id], 'default: completed shift entries only')
  t.same(shiftsDefault.json().pagination, { total: 2, limit: 50, offset: 0, has_more: false })
  t.match(shiftsDefault.json().data[0], { worker_name: 'Ann One', location_name: 'Alpha', cost_code_id: cc, break_seconds: 3600, duration_seconds: 7200 })
  t.same(await ids('?entry_filter=active'), [open1.id, openBreak.id])
  t.equal((await ids('?entry_filter=breaks')).length, 2)
  t.equal((await ids('?entry_filter=all')).length, 5)
  t.same(await ids(`?worker_id=${w2}`), [done2.id])
  t.same(await ids(`?location_id=${locA.id}&entry_filter=all`), (await ids(`?worker_id=${w1}&entry_filter=all`)))
  t.same(await ids(`?cost_code_id=${cc}`), [done1.id])
  t.same(await ids(`?worker_id=${ow}&entry_filter=all`), [], 'another account\'s worker shows nothing')

  const page1 = (await get('?entry_filter=all&limit=4')).json()
  t.same(page1.pagination, { total: 5, limit: 4, offset: 0, has_more: true })
  const page2 = (await get('?entry_filter=all&limit=4&offset=4')).json()
  t.equal(page2.data.length, 1)
  t.equal(page2.pagination.has_more, false)
  t.same(await ids(`?entry_filter=all&after_id=${open1.id}`), [openBreak.id])
  t.same(await ids('?entry_filter=all&updated_since=2099-01-01T00:00:00Z'), [])

  const one = await get(`?id=${openBreak.id}`)
  t.equal(one.statusCode, 200)
  t.match(one.json().data, { id: openBreak.id, type: 'break', parent_id: open1.id, status: 'active', clock_out: null, duration_seconds: null })
  const hidden = await get(`?id=${theirs.id}`)
  t.equal(hidden.statusCode, 404)
  t.equal(hidden.json().code, 'not_found')

  for (const q of ['?entry_filter=done', '?start_date=2025-02-30', '?start_date=yesterday', '?start_date=2025-02-02&end_date=2025-02-01', '?limit=101', '?foo=1']) {
    const res = await get(q)
    t.equal(res.statusCode, 400, q)
    t.equal(res.json().code, 'validation_error')
  }

  const clockOnly = await createTestKey(app, acct.id, { scopes: ['clock:write'] })
  t.equal((await get('', clockOnly.key)).statusCode, 403)
  const reader = await createTestKey(app, acct.id, { scopes: ['timesheets:read'] })
  t.equal((await get('', reader.key)).statusCode, 200)
})

t.test('on-site-now: grouped by location with geofence rollups', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const other = await createTestAccount(app, { name: 'Other' })
  const fenced = await createLocation(app, acct.id, { name: 'Fenced', latitude: 53.7955, longitude: -1.5479, geofence_radius_m: 100, geofence_mode: 'warn' })
  const plain = await createLocation(app, acct.id, { name: 'Plain' })
  const mk = async (first: string, location: number | null) => await insertWorker(app.db, acct.id, { first_name: first, last_name: 'X', location_id: location })
  const clock = async (key: string, body: Record<string, unknown>) => await call(app, key, { method: 'POST', url: '/api/v1/clock.php', payload: body })
  const inside = await mk('In', fenced.id)
  const outside = await mk('Out', fenced.id)
  const noGps = await mk('NoGps', fenced.id)
  const gone = await mk('Gone', fenced.id)
  const atPlain = await mk('Plain', plain.id)
  const r1 = (await clock(acct.key, { worker_id: inside, action: 'in', latitude: 53.7956, longitude: -1.5479, timestamp: iso(Date.now() - 3_600_000) })).json().data
  await clock(acct.key, { worker_id: outside, action: 'in', latitude: 53.80, longitude: -1.5479 })
  await clock(acct.key, { worker_id: noGps, action: 'in' })
  await clock(acct.key, { worker_id: noGps, action: 'break_start' })
  await clock(acct.key, { worker_id: gone, action: 'in', timestamp: iso(Date.now() - 7_200_000) })
  await clock(acct.key, { worker_id: gone, action: 'out' })
  await clock(acct.key, { worker_id: atPlain, action: 'in', latitude: 51.5, longitude: -0.1 })
  const ow = await insertWorker(app.db, other.id)
  await clock(other.key, { worker_id: ow, action: 'in' })

  const res = await call(app, acct.key, { method: 'GET', url: '/api/v1/on-site-now.php' })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.match(body.as_of, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  t.same(Object.keys(body).sort(), ['as_of', 'data'])
  t.equal(body.data.length, 2)
  const [g1, g2] = body.data
  t.match(g1, { location_id: fenced.id, location_name: 'Fenced', on_site: 3, within_geofence: 1, outside_geofence: 1, no_gps: 1 })
  t.same(g1.workers[0], { worker_id: inside, name: 'In X', entry_id: r1.id, clock_in: r1.clock_in, within_geofence: true, distance_meters: 11 })
  t.same(g1.workers.map((w: { name: string }) => w.name), ['In X', 'Out X', 'NoGps X'])
  t.match(g1.workers[1], { within_geofence: false, distance_meters: 500 })
  t.match(g2, { location_id: plain.id, on_site: 1, within_geofence: 0, outside_geofence: 0, no_gps: 0 })
  t.match(g2.workers[0], { within_geofence: null, distance_meters: null })

  const filtered = await call(app, acct.key, { method: 'GET', url: `/api/v1/on-site-now.php?location_id=${plain.id}` })
  t.equal(filtered.json().data.length, 1)
  t.equal(filtered.json().data[0].location_id, plain.id)
  const empty = await call(app, acct.key, { method: 'GET', url: '/api/v1/on-site-now.php?location_id=999999' })
  t.same(empty.json().data, [])
  const theirs = await call(app, other.key, { method: 'GET', url: '/api/v1/on-site-now.php' })
  t.equal(theirs.json().data.length, 1)
  t.equal(theirs.json().data[0].location_id, null, 'a worker without a location forms a group with location_id null')
  const shiftsKey = await createTestKey(app, acct.id, { scopes: ['shifts:read'] })
  t.equal((await call(app, shiftsKey.key, { method: 'GET', url: '/api/v1/on-site-now.php' })).statusCode, 403)
})
