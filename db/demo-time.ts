import type { DemoContext } from './demo.js'
import { judgeFix } from '../domain/geofence.js'
import { toIsoSeconds } from '../domain/time.js'

const HOUR = 3_600_000
const MINUTE = 60_000
/** shift patterns: start hour (UTC) and length in hours */
const PATTERNS: Array<[number, number]> = [[6, 8.5], [7, 8.5], [8, 8], [14, 8]]

/**
 * A week of time for the demo account: for each of the last seven days, a published shift and
 * the completed time entry (with a 30-minute break, GPS inside the site's fence) for most active
 * workers; a handful clocked in right now (so on-site-now shows people); and next week's shifts,
 * published for the first three days and draft after. Written directly (history, not live clock
 * events), so no clock_in/clock_out events are queued for it.
 */
export async function seedTime (ctx: DemoContext): Promise<void> {
  const { trx, account, random } = ctx
  const nowMs = ctx.now.getTime()
  const created = toIsoSeconds(ctx.now)
  const today = Date.UTC(ctx.now.getUTCFullYear(), ctx.now.getUTCMonth(), ctx.now.getUTCDate())
  const active = ctx.workers.filter((w) => w.active)
  const locationOf = new Map(ctx.locations.map((l) => [l.id, l]))
  const patternOf = new Map(active.map((w, i) => [w.id, PATTERNS[i % PATTERNS.length]!]))
  let shifts = 0
  let entries = 0

  const addShift = async (workerId: number, locationId: number, departmentId: number | null, start: number, hours: number, status: 'draft' | 'published') => {
    await trx.insertInto('shifts').values({
      account_id: account.id, worker_id: workerId, location_id: locationId, department_id: departmentId, cost_code_id: null,
      start_time: toIsoSeconds(new Date(start)), end_time: toIsoSeconds(new Date(start + hours * HOUR)), break_minutes: 30,
      status, notes: null, created_at: created, updated_at: created
    }).execute()
    shifts++
  }

  /** A fix 0–80 m from the site's centre with a decent accuracy, judged like a real clock-in. */
  const fixAt = (locationId: number) => {
    const location = locationOf.get(locationId)!
    const fix = {
      latitude: location.latitude! + (random() - 0.5) * 0.0014,
      longitude: location.longitude! + (random() - 0.5) * 0.0022,
      gps_accuracy: Math.round(5 + random() * 25)
    }
    fix.latitude = Math.round(fix.latitude * 1e6) / 1e6
    fix.longitude = Math.round(fix.longitude * 1e6) / 1e6
    const verdict = judgeFix(location, fix)
    return { ...fix, within_geofence: verdict.within_geofence, distance_meters: verdict.distance_meters, low_gps_confidence: verdict.low_gps_confidence }
  }

  const costCodeFor = () => ctx.costCodes.length === 0 ? null : ctx.costCodes[Math.floor(random() * Math.min(3, ctx.costCodes.length))]!.id

  for (let day = 7; day >= 1; day--) {
    const weekend = new Date(today - day * 24 * HOUR).getUTCDay() % 6 === 0
    for (const worker of active) {
      if (worker.location_id === null || random() > (weekend ? 0.3 : 0.85)) continue
      const [startHour, hours] = patternOf.get(worker.id)!
      const start = today - day * 24 * HOUR + startHour * HOUR
      await addShift(worker.id, worker.location_id, worker.department_id, start, hours, 'published')
      const clockIn = start + Math.round((random() * 20 - 12) * MINUTE / 1000) * 1000
      const clockOut = start + hours * HOUR + Math.round((random() * 25 - 5) * MINUTE / 1000) * 1000
      const breakStart = start + Math.round(hours / 2) * HOUR
      const breakEnd = breakStart + 30 * MINUTE
      const costCode = costCodeFor()
      const shift = await trx.insertInto('time_entries').values({
        account_id: account.id, type: 'shift', parent_id: null, worker_id: worker.id, location_id: worker.location_id, cost_code_id: costCode,
        clock_in: toIsoSeconds(new Date(clockIn)), clock_out: toIsoSeconds(new Date(clockOut)), duration_seconds: Math.round((clockOut - clockIn) / 1000),
        break_seconds: 1800, status: 'completed', source: 'api', notes: null, ...fixAt(worker.location_id), created_at: created, updated_at: created
      }).returning('id').executeTakeFirstOrThrow()
      await trx.insertInto('time_entries').values({
        account_id: account.id, type: 'break', parent_id: shift.id, worker_id: worker.id, location_id: worker.location_id, cost_code_id: costCode,
        clock_in: toIsoSeconds(new Date(breakStart)), clock_out: toIsoSeconds(new Date(breakEnd)), duration_seconds: 1800,
        break_seconds: 0, status: 'completed', source: 'api', notes: null, latitude: null, longitude: null, gps_accuracy: null,
        within_geofence: null, distance_meters: null, low_gps_confidence: null, created_at: created, updated_at: created
      }).execute()
      entries += 2
    }
  }

  // on site now: a dozen people who clocked in within the last three hours
  for (const worker of active.filter((w) => w.location_id !== null).slice(0, 12)) {
    const clockIn = nowMs - Math.round((30 + random() * 150) * MINUTE / 1000) * 1000
    await trx.insertInto('time_entries').values({
      account_id: account.id, type: 'shift', parent_id: null, worker_id: worker.id, location_id: worker.location_id, cost_code_id: costCodeFor(),
      clock_in: toIsoSeconds(new Date(clockIn)), clock_out: null, duration_seconds: null, break_seconds: 0, status: 'active', source: 'api',
      notes: null, ...fixAt(worker.location_id!), created_at: created, updated_at: created
    }).execute()
    entries++
  }

  // next week's rota
  for (let day = 1; day <= 7; day++) {
    for (const worker of active) {
      if (worker.location_id === null || random() > 0.6) continue
      const [startHour, hours] = patternOf.get(worker.id)!
      await addShift(worker.id, worker.location_id, worker.department_id, today + day * 24 * HOUR + startHour * HOUR, hours, day <= 3 ? 'published' : 'draft')
    }
  }

  ctx.counts.shifts = shifts
  ctx.counts.time_entries = entries
}
