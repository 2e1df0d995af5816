import { join } from 'node:path'
import autocannon from 'autocannon'
import BetterSqlite3 from 'better-sqlite3'
import { openSqliteEngine, type SqliteEngine } from '../../db/engine/sqlite/index.js'
import { createAccount } from '../../db/accounts.js'
import { createApiKey } from '../../db/api-keys.js'
import { DIST, median, startServerProcess, type Scenario } from '../lib.js'

/** Single-row autocommit inserts with WAL + synchronous=FULL: what the disk allows one commit at a time. */
export function rawCommitsPerSecond (file: string, ms: number): number {
  const db = new BetterSqlite3(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('create table if not exists t (id integer primary key, v text)')
  const insert = db.prepare('insert into t (v) values (?)')
  const started = performance.now()
  let n = 0
  while (performance.now() - started < ms) { insert.run('x'); n++ }
  db.close()
  return n / (ms / 1000)
}

/** What differs between the clock scenarios: their names, and what a worker's site asks of a clock-in. */
interface ClockVariant {
  name: string
  description: string
  /** the figure's name, e.g. 'acknowledged clock events/s (FULL)' */
  rateName: string
  p99Name: string
  /** seeds what the clock-ins need beyond workers: the workers' location, and what each `in` adds to its body */
  prepare?: (engine: SqliteEngine, accountId: number) => Promise<{ locationId: number, inBody: Record<string, unknown> }>
}

/**
 * Clock-in/clock-out throughput over HTTP with synchronous=FULL: every connection has its own
 * worker and alternates in and out, so every request is a real, acknowledged (durable) clock event.
 */
export function clockScenarioOf (variant: ClockVariant): Scenario {
  return {
    name: variant.name,
    description: variant.description,
    async run (ctx) {
      const file = join(ctx.tmp, `${variant.name}.db`)
      const connections = Number(process.env.BENCH_CONNECTIONS ?? 200)
      const handle = openSqliteEngine({ file })
      await handle.migrate()
      const account = await createAccount(handle, { name: 'Bench', apiEnabled: true })
      const { key } = await createApiKey(handle, { accountId: account.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
      const site = await variant.prepare?.(handle, account.id)
      const inBody = site?.inBody ?? {}
      const now = new Date().toISOString()
      const workers: number[] = []
      for (let i = 0; i < connections * 50; i++) {
        const row = await handle.db.insertInto('workers').values({ account_id: account.id, first_name: 'W', last_name: String(i), employee_ref: null, email: null, phone: null, location_id: site?.locationId ?? null, department_id: null, preferred_language: 'en', active: true, created_at: now, updated_at: now })
          .returning('id').executeTakeFirstOrThrow()
        workers.push(row.id)
      }
      await handle.close()

      const diskRate = rawCommitsPerSecond(join(ctx.tmp, `${variant.name}-fsync.db`), 2000)
      ctx.log(`  the disk: ${diskRate.toFixed(0)} single-row commits/s with WAL + synchronous=FULL`)

      const durationS = ctx.quick ? 3 : 10
      const rounds = ctx.quick ? 1 : 3
      const server = await startServerProcess(join(DIST, 'server.js'), { TEMPCLOCK_DB: file, TEMPCLOCK_DB_SYNCHRONOUS: process.env.BENCH_SYNCHRONOUS ?? 'FULL' })
      let next = 0
      // per-request headers replace autocannon's global ones, so they go on the request
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
      const rates: number[] = []
      const p99s: number[] = []
      try {
        for (let r = 0; r <= rounds; r++) {
          const warmup = r === 0
          const result = await autocannon({
            url: `${server.url}/api/v1/clock.php`,
            connections,
            duration: warmup ? 1 : durationS,
            // autocannon resets `context` at each pass over `requests`, so a pass is one in/out
            // pair on the next worker round-robin; with 50 workers per connection a worker's
            // previous pair has long finished when its turn comes again. A round that ends between
            // a pair's in and out leaves that worker clocked in, so the next round's first visit
            // to it answers 409 (correctly): a few non-2xx per round, not counted as acknowledged.
            requests: [{
              method: 'POST',
              setupRequest: (request: any, context: any) => {
                context.worker = workers[next++ % workers.length]
                return { ...request, headers, body: JSON.stringify({ worker_id: context.worker, action: 'in', ...inBody }) }
              }
            }, {
              method: 'POST',
              setupRequest: (request: any, context: any) => ({ ...request, headers, body: JSON.stringify({ worker_id: context.worker, action: 'out' }) })
            }]
          } as autocannon.Options)
          if (warmup) continue
          const acknowledged = (result.requests.total - result.non2xx) / durationS
          rates.push(acknowledged)
          p99s.push(result.latency.p99)
          ctx.log(`  round ${r}: ${acknowledged.toFixed(0)} acknowledged clock events/s (non-2xx ${result.non2xx}, errors ${result.errors}, p99 ${result.latency.p99} ms)`)
          if (result.errors > 0) throw new Error(`${variant.name} benchmark got ${result.errors} errors`)
        }
      } finally {
        await server.stop()
      }
      const rate = median(rates)
      return [
        { scenario: variant.name, name: variant.rateName, value: rate, unit: 'ev/s', samples: rates, target: '≥ 2500', ok: rate >= 2500, baseline: { name: 'disk: single-row commits/s', value: diskRate } },
        { scenario: variant.name, name: variant.p99Name, value: median(p99s), unit: 'ms', samples: p99s }
      ]
    }
  }
}

export const clockScenario = clockScenarioOf({
  name: 'clock',
  description: 'POST /api/v1/clock.php in/out over HTTP, synchronous=FULL (acknowledged clock events/s)',
  rateName: 'acknowledged clock events/s (FULL)',
  p99Name: 'clock event p99'
})
