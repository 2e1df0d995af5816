import t from 'tap'
import { buildTestApp, call, createTestAccount, createTestKey, REFUSED } from './helper.js'
import { createFencedLocation, createLocation, events, insertCostCode, insertWorker, minutesAgo } from './time-fixtures.js'

const clock = (body: Record<string, unknown>) => ({ method: 'POST' as const, url: '/api/v1/clock.php', payload: body })

t.test('clock in and out: 201 then 200, the entry fields, the events', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const loc = await createLocation(app, acct.id, { name: 'Depot' })
  const worker = await insertWorker(app.db, acct.id, { first_name: 'Ada', last_name: 'Lovelace', location_id: loc.id })
  const cc = await insertCostCode(app.db, acct.id)
  const base = Date.now()
  const inAt = minutesAgo(90, base)
  const res = await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: inAt, cost_code_id: cc, notes: 'early' }))
  t.equal(res.statusCode, 201)
  const entry = res.json().data
  t.match(entry, {
    type: 'shift', parent_id: null, worker_id: worker, worker_name: 'Ada Lovelace', location_id: loc.id, location_name: 'Depot',
    cost_code_id: cc, clock_in: inAt, clock_out: null, duration_seconds: null, break_seconds: 0, status: 'active', source: 'api',
    notes: 'early', latitude: null, longitude: null, gps_accuracy: null, within_geofence: null, distance_meters: null, low_gps_confidence: null
  })
  t.same(Object.keys(entry).sort(), ['break_seconds', 'clock_in', 'clock_out', 'cost_code_id', 'created_at', 'distance_meters', 'duration_seconds',
    'gps_accuracy', 'id', 'latitude', 'location_id', 'location_name', 'longitude', 'low_gps_confidence', 'notes', 'parent_id', 'source',
    'status', 'survey_response_id', 'type', 'updated_at', 'within_geofence', 'worker_id', 'worker_name'])

  const outAt = minutesAgo(30, base)
  const out = await call(app, acct.key, clock({ worker_id: worker, action: 'out', timestamp: outAt }))
  t.equal(out.statusCode, 200)
  t.match(out.json().data, { id: entry.id, clock_out: outAt, duration_seconds: 3600, status: 'completed', notes: 'early' })

  const evs = await events(app.db, acct.id)
  t.same(evs.map((e) => e.type), ['clock_in', 'clock_out'])
  t.equal(evs[0]!.data.id, entry.id)
  t.equal(evs[1]!.data.clock_out, outAt)
})

t.test('clock-in conflicts: already_clocked_in names the entry, inactive worker, not_clocked_in', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  const inactive = await insertWorker(app.db, acct.id, { active: false })
  const first = await call(app, acct.key, clock({ worker_id: worker, action: 'in' }))
  t.equal(first.statusCode, 201)
  const again = await call(app, acct.key, clock({ worker_id: worker, action: 'in' }))
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'already_clocked_in')
  t.match(again.json().message, new RegExp(`open entry ${first.json().data.id as number}\\b`))

  const ina = await call(app, acct.key, clock({ worker_id: inactive, action: 'in' }))
  t.equal(ina.statusCode, 409)
  t.equal(ina.json().code, 'worker_inactive')

  const notIn = await call(app, acct.key, clock({ worker_id: inactive, action: 'out' }))
  t.equal(notIn.statusCode, 409)
  t.equal(notIn.json().code, 'not_clocked_in')
  t.equal((await app.db.selectFrom('time_entries').selectAll().execute()).length, 1, 'nothing else written')
})

t.test('the database refuses a second open entry even when the code is bypassed', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  const row = { account_id: acct.id, type: 'shift' as const, parent_id: null, worker_id: worker, location_id: null, cost_code_id: null, clock_in: '2025-01-01T08:00:00Z', clock_out: null, duration_seconds: null, status: 'active' as const, notes: null, latitude: null, longitude: null, gps_accuracy: null, within_geofence: null, distance_meters: null, low_gps_confidence: null, created_at: '2025-01-01T08:00:00Z', updated_at: '2025-01-01T08:00:00Z' }
  await app.db.insertInto('time_entries').values(row).execute()
  await t.rejects(app.db.insertInto('time_entries').values({ ...row, clock_in: '2025-01-01T09:00:00Z' }).execute(), { code: REFUSED.unique })
  // a completed one is fine
  await app.db.insertInto('time_entries').values({ ...row, clock_in: '2025-01-01T06:00:00Z', clock_out: '2025-01-01T07:00:00Z', duration_seconds: 3600, status: 'completed' }).execute()
})

t.test('timestamp rules', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  const now = Date.now()

  const ahead = await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: minutesAgo(-6, now) }))
  t.equal(ahead.statusCode, 400)
  t.equal(ahead.json().code, 'validation_error')
  t.match(ahead.json().message, /5 minutes in the future/)
  const back = await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: minutesAgo(7 * 24 * 60 + 1, now) }))
  t.equal(back.statusCode, 400)
  t.match(back.json().message, /7 days in the past/)
  const bad = await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: '2025-13-01T00:00:00Z' }))
  t.equal(bad.statusCode, 400)
  const noZone = await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: '2025-06-01T00:00:00' }))
  t.equal(noZone.statusCode, 400)

  // within bounds: 4 minutes ahead, and 6 days back with an offset (normalised to UTC)
  const sixDays = new Date(now - 6 * 24 * 3_600_000)
  sixDays.setUTCMilliseconds(0)
  const local = new Date(sixDays.getTime() + 2 * 3_600_000).toISOString().slice(0, 19) + '+02:00'
  const okIn = await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: local }))
  t.equal(okIn.statusCode, 201)
  t.equal(okIn.json().data.clock_in, sixDays.toISOString().slice(0, 19) + 'Z', 'offset normalised to UTC')

  const outBefore = await call(app, acct.key, clock({ worker_id: worker, action: 'out', timestamp: new Date(sixDays.getTime() - 1000).toISOString() }))
  t.equal(outBefore.statusCode, 400)
  t.match(outBefore.json().message, /before the clock-in/)

  const outAt = new Date(sixDays.getTime() + 8 * 3_600_000).toISOString().slice(0, 19) + 'Z'
  t.equal((await call(app, acct.key, clock({ worker_id: worker, action: 'out', timestamp: outAt }))).statusCode, 200)

  // a clock-in before the previous entry ended
  const overlap = await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: new Date(Date.parse(outAt) - 60_000).toISOString() }))
  t.equal(overlap.statusCode, 409)
  t.equal(overlap.json().code, 'entry_overlap')
  // exactly at the end is fine
  t.equal((await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: outAt }))).statusCode, 201)
  t.equal((await call(app, acct.key, clock({ worker_id: worker, action: 'out', timestamp: minutesAgo(-4, now) }))).statusCode, 200, '4 minutes ahead is allowed')
})

t.test('validation: action, unknown fields, types, lat without long, survey fields accepted', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ worker_id: worker }, /Missing required field: action/],
    [{ action: 'in' }, /Missing required field: worker_id/],
    [{ worker_id: worker, action: 'lunch' }, /action: must be one of in, out, break_start, break_end/],
    [{ worker_id: String(worker), action: 'in' }, /worker_id/],
    [{ worker_id: worker, action: 'in', colour: 'red' }, /Unknown field: colour/],
    [{ worker_id: worker, action: 'in', latitude: 53.1 }, /latitude and longitude must be given together/],
    [{ worker_id: worker, action: 'in', latitude: 91, longitude: 0 }, /latitude/]
  ]
  for (const [body, message] of cases) {
    const res = await call(app, acct.key, clock(body))
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json(), { code: 'validation_error', message })
  }
  const survey = await call(app, acct.key, clock({ worker_id: worker, action: 'in', survey_id: 3, survey_answers: [{ q: 1, a: 'yes' }] }))
  t.equal(survey.statusCode, 201, 'survey fields accepted and ignored')
  t.equal((await app.db.selectFrom('time_entries').selectAll().execute()).length, 1)
})

t.test('tenant isolation: another account\'s worker, location, cost code are 404', async (t) => {
  const app = await buildTestApp(t)
  const mine = await createTestAccount(app)
  const theirs = await createTestAccount(app, { name: 'Other' })
  const myWorker = await insertWorker(app.db, mine.id)
  const theirWorker = await insertWorker(app.db, theirs.id)
  const theirLoc = await createLocation(app, theirs.id)
  const theirCc = await insertCostCode(app.db, theirs.id)
  for (const [body, what] of [
    [{ worker_id: theirWorker, action: 'in' }, `Worker ${theirWorker}`],
    [{ worker_id: 999999, action: 'in' }, 'Worker 999999'],
    [{ worker_id: myWorker, action: 'in', location_id: theirLoc.id }, `Location ${theirLoc.id}`],
    [{ worker_id: myWorker, action: 'in', cost_code_id: theirCc }, `Cost code ${theirCc}`],
    [{ worker_id: theirWorker, action: 'out' }, `Worker ${theirWorker}`]
  ] as const) {
    const res = await call(app, mine.key, clock(body))
    t.equal(res.statusCode, 404, what)
    t.same(res.json().message, `${what} not found`)
  }
  t.equal((await app.db.selectFrom('time_entries').selectAll().execute()).length, 0)
  t.equal((await app.db.selectFrom('events').selectAll().execute()).length, 0)
})

t.test('breaks: start/end, out closes an open break, break_seconds sums closed breaks', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  const base = Date.now() - 10 * 3_600_000
  const at = (min: number) => new Date(base + min * 60_000).toISOString().slice(0, 19) + 'Z'

  const noShift = await call(app, acct.key, clock({ worker_id: worker, action: 'break_start', timestamp: at(0) }))
  t.equal(noShift.json().code, 'not_clocked_in')
  const shift = (await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: at(0) }))).json().data
  const notOnBreak = await call(app, acct.key, clock({ worker_id: worker, action: 'break_end', timestamp: at(10) }))
  t.equal(notOnBreak.statusCode, 409)
  t.equal(notOnBreak.json().code, 'not_on_break')
  const before = await call(app, acct.key, clock({ worker_id: worker, action: 'break_start', timestamp: at(-1) }))
  t.equal(before.statusCode, 400)

  const b1 = await call(app, acct.key, clock({ worker_id: worker, action: 'break_start', timestamp: at(60) }))
  t.equal(b1.statusCode, 201)
  t.match(b1.json().data, { type: 'break', parent_id: shift.id, status: 'active', clock_in: at(60) })
  const twice = await call(app, acct.key, clock({ worker_id: worker, action: 'break_start', timestamp: at(61) }))
  t.equal(twice.statusCode, 409)
  t.equal(twice.json().code, 'already_on_break')
  const endEarly = await call(app, acct.key, clock({ worker_id: worker, action: 'break_end', timestamp: at(59) }))
  t.equal(endEarly.statusCode, 400)
  const e1 = await call(app, acct.key, clock({ worker_id: worker, action: 'break_end', timestamp: at(75) }))
  t.equal(e1.statusCode, 200)
  t.match(e1.json().data, { id: b1.json().data.id, status: 'completed', duration_seconds: 900, clock_out: at(75) })
  const overlapBreak = await call(app, acct.key, clock({ worker_id: worker, action: 'break_start', timestamp: at(70) }))
  t.equal(overlapBreak.statusCode, 409)
  t.equal(overlapBreak.json().code, 'entry_overlap')

  t.equal((await call(app, acct.key, clock({ worker_id: worker, action: 'break_start', timestamp: at(200) }))).statusCode, 201)
  const out = await call(app, acct.key, clock({ worker_id: worker, action: 'out', timestamp: at(230) }))
  t.equal(out.statusCode, 200)
  t.match(out.json().data, { id: shift.id, duration_seconds: 230 * 60, break_seconds: (15 + 30) * 60, status: 'completed' })
  const open = await app.db.selectFrom('time_entries').select('id').where('status', '=', 'active').execute()
  t.equal(open.length, 0, 'the open break was closed with the shift')
  const breaks = await app.db.selectFrom('time_entries').selectAll().where('type', '=', 'break').orderBy('id').execute()
  t.same(breaks.map((b) => [b.clock_out, b.duration_seconds]), [[at(75), 900], [at(230), 1800]])

  // out before the open break's start is refused
  await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: at(300) }))
  await call(app, acct.key, clock({ worker_id: worker, action: 'break_start', timestamp: at(320) }))
  const outEarly = await call(app, acct.key, clock({ worker_id: worker, action: 'out', timestamp: at(310) }))
  t.equal(outEarly.statusCode, 400)
  t.match(outEarly.json().message, /open break/)
})

t.test('geofence: off, warn, block, strict; distance and low confidence', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const off = await createFencedLocation(app, acct.id, 'off')
  const warn = await createFencedLocation(app, acct.id, 'warn')
  const block = await createFencedLocation(app, acct.id, 'block')
  const strict = await createFencedLocation(app, acct.id, 'strict')
  // 0.0018° of latitude ≈ 200 m north of the centre
  const outside = { latitude: 53.7955 + 0.0018, longitude: -1.5479, gps_accuracy: 10 }
  const inside = { latitude: 53.7955 + 0.0005, longitude: -1.5479, gps_accuracy: 10 }
  let n = 0
  const clockIn = async (location: number, fix: Record<string, unknown>) => {
    const worker = await insertWorker(app.db, acct.id, { first_name: `W${n++}` })
    return await call(app, acct.key, clock({ worker_id: worker, action: 'in', location_id: location, ...fix }))
  }

  const offOut = await clockIn(off.id, outside)
  t.equal(offOut.statusCode, 201, 'off: accepted outside')
  t.match(offOut.json().data, { within_geofence: false, distance_meters: 200, low_gps_confidence: false })

  const warnIn = await clockIn(warn.id, inside)
  t.match(warnIn.json().data, { within_geofence: true, distance_meters: 56, low_gps_confidence: false })
  const warnOut = await clockIn(warn.id, outside)
  t.equal(warnOut.statusCode, 201, 'warn: accepted outside')
  t.match(warnOut.json().data, { within_geofence: false, distance_meters: 200 })
  const warnLow = await clockIn(warn.id, { ...inside, gps_accuracy: 80 })
  t.match(warnLow.json().data, { within_geofence: true, low_gps_confidence: true, gps_accuracy: 80 })
  const warnNoFix = await clockIn(warn.id, {})
  t.match(warnNoFix.json().data, { within_geofence: null, distance_meters: null, low_gps_confidence: null })

  const blockOut = await clockIn(block.id, outside)
  t.equal(blockOut.statusCode, 403)
  t.equal(blockOut.json().code, 'geofence_refused')
  t.match(blockOut.json().message, /200 m from Fence block, outside its 100 m geofence/)
  t.equal((await clockIn(block.id, inside)).statusCode, 201, 'block: inside accepted')
  t.equal((await clockIn(block.id, {})).statusCode, 201, 'block: no fix accepted')

  t.equal((await clockIn(strict.id, outside)).statusCode, 403, 'strict: outside refused')
  const strictNoFix = await clockIn(strict.id, {})
  t.equal(strictNoFix.statusCode, 403, 'strict: no fix refused')
  t.match(strictNoFix.json().message, /usable GPS fix/)
  t.equal((await clockIn(strict.id, { ...inside, gps_accuracy: 80 })).statusCode, 403, 'strict: low confidence refused')
  t.equal((await clockIn(strict.id, { latitude: inside.latitude, longitude: inside.longitude })).statusCode, 403, 'strict: unknown accuracy refused')
  t.equal((await clockIn(strict.id, inside)).statusCode, 201, 'strict: good fix inside accepted')

  const refusedEntries = await app.db.selectFrom('time_entries').select('id').where('location_id', 'in', [block.id, strict.id]).execute()
  t.equal(refusedEntries.length, 3, 'refusals wrote no entry')
  const byType = (type: string) => events(app.db, acct.id, type)
  const breaches = await byType('clock.geofence_breach')
  t.equal(breaches.length, 1, 'one breach: warn outside (off records only)')
  t.equal(breaches[0]!.data.id, warnOut.json().data.id)
  const low = await byType('clock.low_gps_confidence')
  t.equal(low.length, 1)
  t.equal(low[0]!.data.id, warnLow.json().data.id)
  const refused = await byType('clock.geofence_refused')
  t.equal(refused.length, 5)
  t.match(refused[0]!.data, { location_id: block.id, reason: 'outside_geofence', distance_meters: 200, geofence_mode: 'block' })
  t.match(refused[1]!.data, { location_id: strict.id, reason: 'outside_geofence' })
  t.match(refused[2]!.data, { reason: 'no_usable_fix', latitude: null })
  t.equal((await byType('clock_in')).length, 8)
})

t.test('location defaults to the worker\'s; explicit null means none', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const home = await createLocation(app, acct.id, { name: 'Home' })
  const other = await createLocation(app, acct.id, { name: 'Other' })
  const w1 = await insertWorker(app.db, acct.id, { location_id: home.id })
  const w2 = await insertWorker(app.db, acct.id, { location_id: home.id })
  const w3 = await insertWorker(app.db, acct.id, { location_id: home.id })
  t.match((await call(app, acct.key, clock({ worker_id: w1, action: 'in' }))).json().data, { location_id: home.id, location_name: 'Home' })
  t.match((await call(app, acct.key, clock({ worker_id: w2, action: 'in', location_id: other.id }))).json().data, { location_id: other.id, location_name: 'Other' })
  t.match((await call(app, acct.key, clock({ worker_id: w3, action: 'in', location_id: null }))).json().data, { location_id: null, location_name: null })
})

t.test('scope: clock:write is required', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  const read = await createTestKey(app, acct.id, { scopes: ['timesheets:read'] })
  const write = await createTestKey(app, acct.id, { scopes: ['clock:write'] })
  const denied = await call(app, read.key, clock({ worker_id: worker, action: 'in' }))
  t.equal(denied.statusCode, 403)
  t.equal(denied.json().code, 'insufficient_scope')
  t.equal((await call(app, write.key, clock({ worker_id: worker, action: 'in' }))).statusCode, 201)
})

t.test('clock-out: notes and cost code replace the entry\'s; an inactive worker can still clock out', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const other = await createTestAccount(app, { name: 'Other' })
  const w = await insertWorker(app.db, acct.id)
  const cc1 = await insertCostCode(app.db, acct.id, 'A')
  const cc2 = await insertCostCode(app.db, acct.id, 'B')
  const theirCc = await insertCostCode(app.db, other.id, 'Z')
  const base = Date.now()
  await call(app, acct.key, clock({ worker_id: w, action: 'in', cost_code_id: cc1, notes: 'start', timestamp: minutesAgo(60, base) }))
  const bad = await call(app, acct.key, clock({ worker_id: w, action: 'out', cost_code_id: theirCc }))
  t.equal(bad.statusCode, 404)
  await app.db.updateTable('workers').set({ active: false }).where('id', '=', w).execute()
  const out = await call(app, acct.key, clock({ worker_id: w, action: 'out', cost_code_id: cc2, notes: 'moved to B', timestamp: minutesAgo(0, base) }))
  t.equal(out.statusCode, 200)
  t.match(out.json().data, { cost_code_id: cc2, notes: 'moved to B', status: 'completed', duration_seconds: 3600 })
})

t.test('time integrity: a clock-out inside a break is refused, so break time never exceeds the shift and no clock-in lands in a break', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  const base = Date.now()
  const at = (min: number) => minutesAgo(-min, base)
  t.equal((await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: at(-180) }))).statusCode, 201)
  t.equal((await call(app, acct.key, clock({ worker_id: worker, action: 'break_start', timestamp: at(-120) }))).statusCode, 201)
  t.equal((await call(app, acct.key, clock({ worker_id: worker, action: 'break_end', timestamp: at(-60) }))).statusCode, 200)
  const inside = await call(app, acct.key, clock({ worker_id: worker, action: 'out', timestamp: at(-150) }))
  t.equal(inside.statusCode, 400)
  t.match(inside.json(), { code: 'validation_error', message: /before the end of the shift's break/ })
  const out = await call(app, acct.key, clock({ worker_id: worker, action: 'out', timestamp: at(-30) }))
  t.equal(out.statusCode, 200)
  t.match(out.json().data, { duration_seconds: 9000, break_seconds: 3600 })
  const inBreak = await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: at(-90) }))
  t.equal(inBreak.statusCode, 409)
  t.equal(inBreak.json().code, 'entry_overlap')
})

t.test('the database refuses impossible durations and break time even when the code is bypassed', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const worker = await insertWorker(app.db, acct.id)
  const row = { account_id: acct.id, type: 'shift' as const, parent_id: null, worker_id: worker, location_id: null, cost_code_id: null, clock_in: '2025-01-01T08:00:00Z', clock_out: '2025-01-01T08:30:01Z', duration_seconds: 1801, break_seconds: 0, status: 'completed' as const, notes: null, latitude: null, longitude: null, gps_accuracy: null, within_geofence: null, distance_meters: null, low_gps_confidence: null, created_at: '2025-01-01T08:00:00Z', updated_at: '2025-01-01T08:00:00Z' }
  for (const [bad, what] of [
    [{ break_seconds: 3600 }, 'break_seconds > duration_seconds'],
    [{ break_seconds: -1 }, 'negative break time'],
    [{ duration_seconds: -5 }, 'negative duration'],
    [{ duration_seconds: null }, 'closed without a duration'],
    [{ clock_out: null, status: 'active' as const }, 'open with a duration']
  ] as const) {
    await t.rejects(app.db.insertInto('time_entries').values({ ...row, ...bad }).execute(), { code: REFUSED.check }, what)
  }
  const { id } = await app.db.insertInto('time_entries').values(row).returning('id').executeTakeFirstOrThrow()
  await t.rejects(app.db.insertInto('time_entries').values({ ...row, type: 'break', parent_id: id, break_seconds: 60 }).execute(), { code: REFUSED.check }, 'break time on a break')
  await t.rejects(app.db.updateTable('time_entries').set({ break_seconds: 1802 }).where('id', '=', id).execute(), { code: REFUSED.check }, 'an update too')
  t.equal((await app.db.selectFrom('time_entries').select('id').execute()).length, 1)
})
