import t from 'tap'
import { buildTestApp, call, createTestAccount, createTestKey } from './helper.js'
import { createLocation, events, insertCostCode, insertDepartment, insertWorker } from './time-fixtures.js'

const post = (payload: Record<string, unknown>) => ({ method: 'POST' as const, url: '/api/v1/shifts.php', payload })

t.test('create, read, update, delete a shift', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const loc = await createLocation(app, acct.id, { name: 'Depot' })
  const dept = await insertDepartment(app.db, acct.id)
  const cc = await insertCostCode(app.db, acct.id)
  const w = await insertWorker(app.db, acct.id, { first_name: 'Ann', last_name: 'One' })
  const created = await call(app, acct.key, post({ worker_id: w, location_id: loc.id, department_id: dept, cost_code_id: cc, start_time: '2025-06-02T09:00:00+01:00', end_time: '2025-06-02T17:00:00+01:00', break_minutes: 30, status: 'published', notes: 'bring boots' }))
  t.equal(created.statusCode, 201)
  const shift = created.json().data
  t.same(Object.keys(shift).sort(), ['break_minutes', 'cost_code_id', 'created_at', 'department_id', 'end_time', 'id', 'location_id', 'location_name', 'notes', 'start_time', 'status', 'updated_at', 'worker_id', 'worker_name'])
  t.match(shift, { worker_id: w, worker_name: 'Ann One', location_id: loc.id, location_name: 'Depot', department_id: dept, cost_code_id: cc, start_time: '2025-06-02T08:00:00Z', end_time: '2025-06-02T16:00:00Z', break_minutes: 30, status: 'published', notes: 'bring boots' })
  const ev = await events(app.db, acct.id, 'shift_created')
  t.equal(ev.length, 1)
  t.equal(ev[0]!.data.id, shift.id)

  const minimal = await call(app, acct.key, post({ location_id: loc.id, start_time: '2025-06-03T08:00:00Z', end_time: '2025-06-03T12:00:00Z' }))
  t.equal(minimal.statusCode, 201)
  t.match(minimal.json().data, { worker_id: null, worker_name: null, break_minutes: 0, status: 'draft', department_id: null, notes: null }, 'an open shift')

  const one = await call(app, acct.key, { method: 'GET', url: `/api/v1/shifts.php?id=${shift.id}` })
  t.same(one.json().data, shift)

  const put = await call(app, acct.key, { method: 'PUT', url: `/api/v1/shifts.php?id=${shift.id}`, payload: { end_time: '2025-06-02T18:00:00Z', notes: null } })
  t.equal(put.statusCode, 200)
  t.match(put.json().data, { start_time: '2025-06-02T08:00:00Z', end_time: '2025-06-02T18:00:00Z', notes: null, break_minutes: 30 })

  const del = await call(app, acct.key, { method: 'DELETE', url: `/api/v1/shifts.php?id=${shift.id}` })
  t.equal(del.statusCode, 200)
  t.equal(del.json().data.id, shift.id)
  t.equal(del.json().data.end_time, '2025-06-02T18:00:00Z')
  t.equal((await call(app, acct.key, { method: 'GET', url: `/api/v1/shifts.php?id=${shift.id}` })).statusCode, 404)
  t.equal((await call(app, acct.key, { method: 'DELETE', url: `/api/v1/shifts.php?id=${shift.id}` })).statusCode, 404)
})

t.test('validation and same-account references', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const other = await createTestAccount(app, { name: 'Other' })
  const loc = await createLocation(app, acct.id)
  const theirLoc = await createLocation(app, other.id)
  const theirWorker = await insertWorker(app.db, other.id)
  const theirDept = await insertDepartment(app.db, other.id)
  const theirCc = await insertCostCode(app.db, other.id)
  const base = { location_id: loc.id, start_time: '2025-06-02T08:00:00Z', end_time: '2025-06-02T16:00:00Z' }
  const bad: Array<[Record<string, unknown>, number, RegExp]> = [
    [{ ...base, end_time: '2025-06-02T08:00:00Z' }, 400, /end_time must be after start_time/],
    [{ ...base, end_time: '2025-06-02T07:00:00Z' }, 400, /end_time must be after start_time/],
    [{ ...base, end_time: '2025-06-03T08:00:01Z' }, 400, /at most 24 hours/],
    [{ ...base, break_minutes: 480 }, 400, /break_minutes/],
    [{ ...base, status: 'live' }, 400, /status/],
    [{ start_time: base.start_time, end_time: base.end_time }, 400, /Missing required field: location_id/],
    [{ ...base, start_time: 'tomorrow' }, 400, /start_time/],
    [{ ...base, location_id: theirLoc.id }, 404, new RegExp(`Location ${theirLoc.id} not found`)],
    [{ ...base, worker_id: theirWorker }, 404, /Worker \d+ not found/],
    [{ ...base, department_id: theirDept }, 404, /Department \d+ not found/],
    [{ ...base, cost_code_id: theirCc }, 404, /Cost code \d+ not found/]
  ]
  for (const [body, status, message] of bad) {
    const res = await call(app, acct.key, post(body))
    t.equal(res.statusCode, status, JSON.stringify(body))
    t.match(res.json().message, message)
  }
  t.equal((await call(app, acct.key, post({ ...base, end_time: '2025-06-03T08:00:00Z' }))).statusCode, 201, 'exactly 24 h is allowed')
  t.equal((await app.db.selectFrom('shifts').selectAll().execute()).length, 1)
  const theirShift = (await call(app, other.key, post({ location_id: theirLoc.id, start_time: base.start_time, end_time: base.end_time }))).json().data
  for (const method of ['GET', 'PUT', 'DELETE'] as const) {
    const res = await call(app, acct.key, { method, url: `/api/v1/shifts.php?id=${theirShift.id as number}`, ...(method === 'PUT' ? { payload: { notes: 'x' } } : {}) })
    t.equal(res.statusCode, 404, `${method} another account's shift`)
  }
  const emptyPut = await call(app, acct.key, { method: 'PUT', url: `/api/v1/shifts.php?id=${theirShift.id as number}`, payload: {} })
  t.equal(emptyPut.statusCode, 400)
})

t.test('shift_overlap for one worker; PUT excludes itself; open shifts never overlap', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const loc = await createLocation(app, acct.id)
  const w = await insertWorker(app.db, acct.id)
  const w2 = await insertWorker(app.db, acct.id)
  const first = (await call(app, acct.key, post({ worker_id: w, location_id: loc.id, start_time: '2025-06-02T08:00:00Z', end_time: '2025-06-02T16:00:00Z' }))).json().data
  const clash = await call(app, acct.key, post({ worker_id: w, location_id: loc.id, start_time: '2025-06-02T15:00:00Z', end_time: '2025-06-02T20:00:00Z' }))
  t.equal(clash.statusCode, 409)
  t.equal(clash.json().code, 'shift_overlap')
  t.match(clash.json().message, new RegExp(`shift ${first.id as number}\\b`))
  const inside = await call(app, acct.key, post({ worker_id: w, location_id: loc.id, start_time: '2025-06-02T09:00:00Z', end_time: '2025-06-02T10:00:00Z' }))
  t.equal(inside.json().code, 'shift_overlap')
  const adjacent = await call(app, acct.key, post({ worker_id: w, location_id: loc.id, start_time: '2025-06-02T16:00:00Z', end_time: '2025-06-02T20:00:00Z' }))
  t.equal(adjacent.statusCode, 201, 'back to back is fine')
  t.equal((await call(app, acct.key, post({ worker_id: w2, location_id: loc.id, start_time: '2025-06-02T08:00:00Z', end_time: '2025-06-02T16:00:00Z' }))).statusCode, 201, 'another worker')
  t.equal((await call(app, acct.key, post({ location_id: loc.id, start_time: '2025-06-02T08:00:00Z', end_time: '2025-06-02T16:00:00Z' }))).statusCode, 201, 'open shift')
  t.equal((await call(app, acct.key, post({ location_id: loc.id, start_time: '2025-06-02T08:00:00Z', end_time: '2025-06-02T16:00:00Z' }))).statusCode, 201, 'another open shift')

  const self = await call(app, acct.key, { method: 'PUT', url: `/api/v1/shifts.php?id=${first.id as number}`, payload: { start_time: '2025-06-02T07:00:00Z' } })
  t.equal(self.statusCode, 200, 'PUT does not clash with itself')
  const onto = await call(app, acct.key, { method: 'PUT', url: `/api/v1/shifts.php?id=${first.id as number}`, payload: { end_time: '2025-06-02T17:00:00Z' } })
  t.equal(onto.statusCode, 409)
  t.equal(onto.json().code, 'shift_overlap')
  const tooLong = await call(app, acct.key, { method: 'PUT', url: `/api/v1/shifts.php?id=${first.id as number}`, payload: { start_time: '2025-06-01T15:00:00Z' } })
  t.equal(tooLong.statusCode, 400)
  const assign = await call(app, acct.key, { method: 'PUT', url: `/api/v1/shifts.php?id=${first.id as number}`, payload: { worker_id: w2 } })
  t.equal(assign.json().code, 'shift_overlap', 'reassigning onto a worker who is busy')
  const unassign = await call(app, acct.key, { method: 'PUT', url: `/api/v1/shifts.php?id=${first.id as number}`, payload: { worker_id: null } })
  t.equal(unassign.statusCode, 200)
  t.equal(unassign.json().data.worker_id, null)
})

t.test('GET filters, dates in the account timezone, scopes', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app, { timezone: 'Europe/London' })
  const locA = await createLocation(app, acct.id, { name: 'A' })
  const locB = await createLocation(app, acct.id, { name: 'B' })
  const dept = await insertDepartment(app.db, acct.id)
  const w = await insertWorker(app.db, acct.id)
  const make = async (body: Record<string, unknown>) => (await call(app, acct.key, post(body))).json().data.id as number
  const s1 = await make({ worker_id: w, location_id: locA.id, start_time: '2025-07-01T22:30:00Z', end_time: '2025-07-02T06:00:00Z', status: 'published' }) // 23:30 BST on 1 July
  const s2 = await make({ worker_id: w, location_id: locB.id, department_id: dept, start_time: '2025-07-02T23:30:00Z', end_time: '2025-07-03T06:00:00Z' }) // 00:30 BST on 3 July
  const s3 = await make({ location_id: locA.id, start_time: '2025-12-02T23:30:00Z', end_time: '2025-12-03T06:00:00Z' }) // 23:30 GMT on 2 Dec
  const ids = async (q: string, key = acct.key) => {
    const res = await call(app, key, { method: 'GET', url: `/api/v1/shifts.php?${q}` })
    t.equal(res.statusCode, 200, q)
    return res.json().data.map((s: { id: number }) => s.id)
  }
  t.same(await ids(''), [s1, s2, s3])
  t.same(await ids(`worker_id=${w}`), [s1, s2])
  t.same(await ids(`location_id=${locA.id}`), [s1, s3])
  t.same(await ids(`department_id=${dept}`), [s2])
  t.same(await ids('status=published'), [s1])
  t.same(await ids('start_date=2025-07-01&end_date=2025-07-01'), [s1])
  t.same(await ids('start_date=2025-07-02&end_date=2025-07-02'), [], 's2 starts on 3 July in London')
  t.same(await ids('start_date=2025-07-03&end_date=2025-07-03'), [s2])
  t.same(await ids('start_date=2025-12-02&end_date=2025-12-02'), [s3])
  t.same(await ids('limit=1&offset=1'), [s2])
  const bad = await call(app, acct.key, { method: 'GET', url: '/api/v1/shifts.php?start_date=2025-07-03&end_date=2025-07-01' })
  t.equal(bad.statusCode, 400)

  const reader = await createTestKey(app, acct.id, { scopes: ['shifts:read'] })
  const writer = await createTestKey(app, acct.id, { scopes: ['shifts:write'] })
  t.same(await ids('', reader.key), [s1, s2, s3])
  const denied = await call(app, reader.key, post({ location_id: locA.id, start_time: '2025-08-01T08:00:00Z', end_time: '2025-08-01T09:00:00Z' }))
  t.equal(denied.statusCode, 403)
  t.equal(denied.json().code, 'insufficient_scope')
  t.equal((await call(app, writer.key, { method: 'GET', url: '/api/v1/shifts.php' })).statusCode, 403, 'write does not imply read')
  t.equal((await call(app, writer.key, post({ location_id: locA.id, start_time: '2025-08-01T08:00:00Z', end_time: '2025-08-01T09:00:00Z' }))).statusCode, 201)
  t.equal((await call(app, writer.key, { method: 'DELETE', url: `/api/v1/shifts.php?id=${s3}` })).statusCode, 200)
})
