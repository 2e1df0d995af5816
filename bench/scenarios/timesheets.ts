import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { openSqliteEngine } from '../../db/engine/sqlite/index.js'
import { createAccount } from '../../db/accounts.js'
import { createApiKey } from '../../db/api-keys.js'
import { TimesheetStore } from '../../db/timesheets.js'
import { DIST, median, startServerProcess, type Scenario } from '../lib.js'

const DAY = 86_400_000
const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + 'Z'

/** One worker's month of timesheet over 1,000,000 time entries (500 workers × 2,000 days). */
export const timesheetsScenario: Scenario = {
  name: 'timesheets',
  description: "GET /api/v1/timesheets.php: one worker's month over 1,000,000 entries",
  async run (ctx) {
    const file = join(ctx.tmp, 'timesheets.db')
    const workerCount = 500
    const days = 2000
    const handle = openSqliteEngine({ file })
    await handle.migrate()
    const account = await createAccount(handle, { name: 'Bench', timezone: 'Europe/London', apiEnabled: true })
    const { key } = await createApiKey(handle, { accountId: account.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
    await handle.close()

    // seed with raw prepared inserts in one transaction: ids interleave workers day by day
    const started = performance.now()
    const raw = new BetterSqlite3(file)
    raw.pragma('journal_mode = WAL')
    const now = iso(Date.now())
    const insertWorker = raw.prepare("insert into workers (account_id, first_name, last_name, preferred_language, active, created_at, updated_at) values (?, 'W', ?, 'en', 1, ?, ?)")
    const insertLocation = raw.prepare("insert into locations (account_id, name, geofence_mode, kiosk_language, active, created_at, updated_at) values (?, 'Site', 'off', 'en', 1, ?, ?)")
    const insertEntry = raw.prepare(`insert into time_entries (account_id, type, worker_id, location_id, clock_in, clock_out, duration_seconds, break_seconds, status, source, created_at, updated_at)
      values (?, 'shift', ?, ?, ?, ?, 28800, 1800, 'completed', 'api', ?, ?)`)
    const base = Date.parse('2020-01-01T08:00:00Z')
    const workerIds: number[] = []
    raw.transaction(() => {
      const location = Number(insertLocation.run(account.id, now, now).lastInsertRowid)
      for (let w = 0; w < workerCount; w++) workerIds.push(Number(insertWorker.run(account.id, String(w), now, now).lastInsertRowid))
      for (let d = 0; d < days; d++) {
        for (let w = 0; w < workerCount; w++) {
          const clockIn = base + d * DAY + (w % 60) * 60_000
          insertEntry.run(account.id, workerIds[w], location, iso(clockIn), iso(clockIn + 8 * 3_600_000), now, now)
        }
      }
    })()
    raw.exec('analyze')
    const total = (raw.prepare('select count(*) n from time_entries').get() as { n: number }).n
    raw.close()
    ctx.log(`  seeded ${total} entries in ${((performance.now() - started) / 1000).toFixed(1)} s`)

    const worker = workerIds[Math.floor(workerCount / 2)]!
    const query = `worker_id=${worker}&start_date=2024-03-01&end_date=2024-03-31&limit=100`

    // in-process: the store's query, no HTTP
    const direct = openSqliteEngine({ file, readonly: true })
    const store = new TimesheetStore(direct)
    const plan = direct.sqlite.prepare(`explain query plan select * from time_entries where account_id = ? and worker_id = ? and type = 'shift' and status = 'completed' and clock_in >= ? and clock_in < ? order by id limit 101`)
      .all(account.id, worker, '2024-03-01T00:00:00Z', '2024-04-01T00:00:00Z') as Array<{ detail: string }>
    ctx.log(`  plan: ${plan.map((p) => p.detail).join(' | ')}`)
    const directMs: number[] = []
    let rows = 0
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now()
      const page = await store.list(account.id, { worker_id: worker, start_date: '2024-03-01', end_date: '2024-03-31', entry_filter: 'shifts' }, { limit: 100, offset: 0 })
      directMs.push(performance.now() - t0)
      rows = page.rows.length
    }
    await direct.close()

    const server = await startServerProcess(join(DIST, 'server.js'), { TEMPCLOCK_DB: file })
    const httpMs: number[] = []
    const healthMs: number[] = []
    try {
      const url = `${server.url}/api/v1/timesheets.php?${query}`
      const headers = { authorization: `Bearer ${key}` }
      // warm up (JIT, statement cache), then the same client's floor: an unauthenticated constant
      for (let i = 0; i < 50; i++) await (await fetch(url, { headers })).arrayBuffer()
      for (let i = 0; i < (ctx.quick ? 100 : 500); i++) {
        const t0 = performance.now()
        await (await fetch(`${server.url}/health`)).arrayBuffer()
        healthMs.push(performance.now() - t0)
      }
      for (let i = 0; i < (ctx.quick ? 100 : 500); i++) {
        const t0 = performance.now()
        const res = await fetch(url, { headers })
        const body = await res.json() as { data: unknown[] }
        httpMs.push(performance.now() - t0)
        if (res.status !== 200 || body.data.length !== rows) throw new Error(`timesheet query answered ${res.status} with ${body.data.length} rows`)
      }
    } finally {
      await server.stop()
    }
    const p99 = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)]!
    ctx.log(`  ${rows} entries in the month; store query median ${median(directMs).toFixed(2)} ms, p99 ${p99(directMs).toFixed(2)} ms; over HTTP median ${median(httpMs).toFixed(2)} ms, p99 ${p99(httpMs).toFixed(2)} ms (GET /health: median ${median(healthMs).toFixed(2)} ms)`)
    return [
      { scenario: 'timesheets', name: "one worker's month over HTTP (median)", value: median(httpMs), unit: 'ms', target: '< 10', ok: median(httpMs) < 10, baseline: { name: 'GET /health, same client', value: median(healthMs) } },
      { scenario: 'timesheets', name: "one worker's month over HTTP (p99)", value: p99(httpMs), unit: 'ms' },
      { scenario: 'timesheets', name: "one worker's month, store query (median)", value: median(directMs), unit: 'ms' }
    ]
  }
}
