import t from 'tap'
import { createDemoAccount } from '../db/demo.js'
import { buildTestApp, call } from './helper.js'

t.test('the demo account has a week of shifts and completed time, and people on site now', async (t) => {
  const app = await buildTestApp(t)
  const now = new Date()
  const demo = await createDemoAccount(app.engine, { now })
  t.ok(demo.counts.shifts! > 100, `${demo.counts.shifts} shifts`)
  t.ok(demo.counts.time_entries! > 200, `${demo.counts.time_entries} time entries`)
  const get = async (url: string) => {
    const res = await call(app, demo.key, { method: 'GET', url })
    t.equal(res.statusCode, 200, url)
    return res.json()
  }
  const weekAgo = new Date(now.getTime() - 7 * 86_400_000).toISOString().slice(0, 10)
  const sheet = await get(`/api/v1/timesheets.php?start_date=${weekAgo}&limit=100`)
  t.ok(sheet.pagination.total > 100, 'completed shift entries over the last week')
  for (const e of sheet.data) {
    t.ok(e.duration_seconds > 7 * 3600 && e.break_seconds === 1800 && e.within_geofence === true, `entry ${e.id as number} is plausible`)
  }
  const onSite = await get('/api/v1/on-site-now.php')
  t.equal(onSite.data.reduce((n: number, g: { on_site: number }) => n + g.on_site, 0), 12, 'a dozen people on site now')
  const shifts = await get('/api/v1/shifts.php?status=draft&limit=1')
  t.ok(shifts.pagination.total > 0, 'next week has draft shifts')
  const overlaps = await app.db.selectFrom('shifts as a').innerJoin('shifts as b', (j) => j.onRef('a.worker_id', '=', 'b.worker_id').onRef('a.id', '<', 'b.id'))
    .select('a.id').whereRef('a.start_time', '<', 'b.end_time').whereRef('a.end_time', '>', 'b.start_time').execute()
  t.same(overlaps, [], 'no worker has overlapping shifts')
})
