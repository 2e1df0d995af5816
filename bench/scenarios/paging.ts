import { join } from 'node:path'
import { Kysely, SqliteDialect, type CompiledQuery } from 'kysely'
import { openSqliteEngine, type SqliteEngine } from '../../db/engine/sqlite/index.js'
import { StatementCachingDatabase } from '../../db/engine/sqlite/connection.js'
import { createAccount } from '../../db/accounts.js'
import { createApiKey } from '../../db/api-keys.js'
import { DepartmentStore } from '../../db/departments.js'
import { LocationStore } from '../../db/locations.js'
import { WorkerStore, type WorkerFilters } from '../../db/workers.js'
import type { Database } from '../../db/types.js'
import { DIST, median, startServerProcess, type Figure, type Scenario } from '../lib.js'

const WORKERS = 100_000
const PAGE = 100

/** Sequential GETs (one at a time, so each is a latency, not a share of throughput); ms per request. */
async function timeRequests (url: string, key: string, count: number): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint()
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } })
    const body = await res.text()
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${body.slice(0, 200)}`)
    times.push(ms)
  }
  return times
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

/** EXPLAIN QUERY PLAN of every query a WorkerStore.list() call runs, one line per query. */
async function explainList (engine: SqliteEngine, filters: WorkerFilters, afterId?: number): Promise<string[]> {
  const { sqlite } = engine
  const captured: CompiledQuery[] = []
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new StatementCachingDatabase(sqlite) }), log: (e) => { if (e.level === 'query') captured.push(e.query) } })
  await new WorkerStore({ ...engine, db }).list(1, filters, { limit: PAGE, offset: 0, after_id: afterId })
  return captured.map((q) => (sqlite.prepare('explain query plan ' + q.sql).all(...q.parameters.map((p) => typeof p === 'boolean' ? Number(p) : p)) as Array<{ detail: string }>).map((r) => r.detail).join(' | '))
}

/**
 * Keyset paging at scale: 100,000 workers in one account; page 1 vs page 1,000 with `after_id`
 * must cost the same (an index range seek), and a filtered list with its `total` stays fast.
 */
export const pagingScenario: Scenario = {
  name: 'paging',
  description: `GET /api/v1/workers.php?limit=${PAGE}&after_id=N over ${WORKERS.toLocaleString('en')} workers: page 1 vs page 1,000, and a filtered list with total`,
  async run (ctx) {
    const file = join(ctx.tmp, 'paging.db')
    const handle = openSqliteEngine({ file, synchronous: 'NORMAL' })
    await handle.migrate()
    const account = await createAccount(handle, { name: 'Big agency', apiEnabled: true })
    const { key } = await createApiKey(handle, { accountId: account.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
    const locations = new LocationStore(handle)
    const departments = new DepartmentStore(handle)
    const locationIds: number[] = []
    const departmentIds: number[] = []
    for (let i = 0; i < 20; i++) {
      const location = await locations.create(account.id, { name: `Site ${i}`, city: 'Leeds' })
      locationIds.push(location.id)
      departmentIds.push((await departments.create(account.id, { name: `Dept ${i}`, location_id: location.id })).id)
    }

    // Seeding: one transaction, one prepared insert on the raw connection (seconds, not minutes).
    const seedStarted = Date.now()
    const insert = handle.sqlite.prepare(`insert into workers (account_id, first_name, last_name, employee_ref, email, phone,
      location_id, department_id, preferred_language, active, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    const languages = ['en', 'pl', 'ro', 'lt']
    handle.sqlite.transaction(() => {
      for (let i = 0; i < WORKERS; i++) {
        const site = i % locationIds.length
        const stamp = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString().slice(0, 19) + 'Z'
        insert.run(account.id, `First${i}`, `Last${i}`, `EMP-${100000 + i}`, `worker${i}@example.com`, null,
          locationIds[site], departmentIds[site], languages[i % 4], i % 10 === 9 ? 0 : 1, stamp, stamp)
      }
    })()
    ctx.log(`  seeded ${WORKERS.toLocaleString('en')} workers in ${Date.now() - seedStarted} ms`)
    const firstId = (handle.sqlite.prepare('select min(id) as id from workers').get() as { id: number }).id
    const deepAfter = firstId - 1 + (1000 - 1) * PAGE // page 1,000 starts after this id

    for (const [label, filters, afterId] of [
      ['page 1', {}, firstId - 1],
      ['page 1,000', {}, deepAfter],
      ['location + active', { location_id: locationIds[3], active: true }, undefined],
      ['search', { search: 'Last9999' }, undefined]
    ] as Array<[string, WorkerFilters, number | undefined]>) {
      const plans = await explainList(handle, filters, afterId)
      ctx.log(`  plan (${label}): count: ${plans[0] ?? '?'}`)
      ctx.log(`  plan (${label}): page:  ${plans[1] ?? '?'}`)
    }
    await handle.close()

    const count = ctx.quick ? 60 : 300
    // one request at a time measures latency; load shedding (the overload scenario) stays out of it
    const api = await startServerProcess(join(DIST, 'server.js'), { TEMPCLOCK_DB: file, TEMPCLOCK_MAX_EVENT_LOOP_DELAY_MS: '0' })
    const base = `${api.url}/api/v1/workers.php?limit=${PAGE}`
    const urls = {
      first: `${base}&after_id=${firstId - 1}`,
      deep: `${base}&after_id=${deepAfter}`,
      deepOffset: `${base}&offset=${deepAfter - firstId + 1}`,
      filtered: `${base}&location_id=${locationIds[3]!}&active=1`,
      // 11 matches, looked up in the trigram index
      search: `${base}&search=Last9999`,
      // 2 characters: no trigram, so a scan of the account's workers
      searchShort: `${base}&search=99`
    }
    const times: Record<keyof typeof urls, number[]> = { first: [], deep: [], deepOffset: [], filtered: [], search: [], searchShort: [] }
    try {
      // check the pages are what they claim, then warm up (JIT, statement cache, page cache)
      const check = async (url: string) => await (await fetch(url, { headers: { authorization: `Bearer ${key}` } })).json() as { data: Array<{ id: number }>, pagination: { total: number } }
      const deep = await check(urls.deep)
      if (deep.data.length !== PAGE || deep.data[0]!.id !== deepAfter + 1 || deep.pagination.total !== WORKERS) throw new Error('page 1,000 is not the expected page')
      const filtered = await check(urls.filtered)
      ctx.log(`  filtered list: total ${filtered.pagination.total}`)
      for (const url of Object.values(urls)) await timeRequests(url, key, 20)
      // interleave the rounds so drift (other load on the machine) hits every URL alike
      const rounds = 5
      for (let r = 0; r < rounds; r++) {
        for (const name of Object.keys(urls) as Array<keyof typeof urls>) {
          times[name].push(...await timeRequests(urls[name], key, Math.ceil(count / rounds)))
        }
      }
    } finally {
      await api.stop()
    }
    for (const [name, values] of Object.entries(times)) {
      ctx.log(`  ${name.padEnd(10)} median ${median(values).toFixed(2)} ms, p95 ${percentile(values, 0.95).toFixed(2)} ms (${values.length} requests)`)
    }
    const ratio = median(times.deep) / median(times.first)
    const figures: Figure[] = [
      { scenario: 'paging', name: 'page 1 (after_id) median', value: median(times.first), unit: 'ms', samples: times.first },
      { scenario: 'paging', name: 'page 1,000 (after_id) median', value: median(times.deep), unit: 'ms', samples: times.deep },
      { scenario: 'paging', name: 'page 1,000 / page 1 (after_id)', value: ratio, unit: 'ratio', target: '≤ 1.5', ok: ratio <= 1.5 },
      { scenario: 'paging', name: 'page 1,000 by offset median', value: median(times.deepOffset), unit: 'ms', samples: times.deepOffset, baseline: { name: 'after_id', value: median(times.deep) } },
      { scenario: 'paging', name: 'location_id+active list with total', value: median(times.filtered), unit: 'ms', samples: times.filtered },
      { scenario: 'paging', name: 'search list with total', value: median(times.search), unit: 'ms', samples: times.search, target: '≤ 5 ms', ok: median(times.search) <= 5 },
      { scenario: 'paging', name: 'search list with total, 2-character term', value: median(times.searchShort), unit: 'ms', samples: times.searchShort }
    ]
    return figures
  }
}
