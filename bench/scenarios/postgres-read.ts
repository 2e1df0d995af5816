import { join } from 'node:path'
import { createAccount } from '../../db/accounts.js'
import { createApiKey } from '../../db/api-keys.js'
import { DepartmentStore } from '../../db/departments.js'
import type { Engine } from '../../db/engine/engine.js'
import { openSqliteEngine } from '../../db/engine/sqlite/index.js'
import { LocationStore } from '../../db/locations.js'
import { WorkerStore } from '../../db/workers.js'
import { DIST, load, median, startServerProcess, type Figure, type LoadResult, type Scenario, type ServerProcess } from '../lib.js'
import { backendCpuMicros, backendCpuSpent, createBenchDatabase, postgresUnreachable, processCpuMicros } from '../postgres.js'

/** One account with a full-access key and `count` workers at a location and a department; the last worker's id. */
export async function seedWorkers (engine: Engine, count: number): Promise<{ key: string, workerId: number }> {
  const account = await createAccount(engine, { name: 'Bench', apiEnabled: true })
  const { key } = await createApiKey(engine, { accountId: account.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
  const location = await new LocationStore(engine).create(account.id, { name: 'Depot', city: 'Leeds', latitude: 53.8, longitude: -1.55, geofence_radius_m: 150, geofence_mode: 'warn' })
  const department = await new DepartmentStore(engine).create(account.id, { name: 'Warehouse', location_id: location.id })
  const workers = new WorkerStore(engine)
  let workerId = 0
  for (let i = 0; i < count; i++) {
    workerId = (await workers.create(account.id, { first_name: 'Ada', last_name: `Worker ${i}`, employee_ref: `W${i}`, email: `w${i}@example.com`, location_id: location.id, department_id: department.id })).id
  }
  return { key, workerId }
}

/** A load run with the CPU the server process (and, on PostgreSQL, its backends) spent on it. */
export interface MeasuredLoad extends LoadResult {
  /** server process CPU µs per answered request */
  serverCpuPerRequest: number
  /** PostgreSQL backends' CPU µs per answered request (0 on SQLite) */
  backendCpuPerRequest: number
  /** the load generator's (this process's) CPU µs per answered request */
  clientCpuPerRequest: number
}

export async function measuredLoad (server: ServerProcess, options: Parameters<typeof load>[0], databaseUrl?: string): Promise<MeasuredLoad> {
  const backendsBefore = databaseUrl === undefined ? undefined : await backendCpuMicros(databaseUrl)
  const cpuBefore = processCpuMicros(server.child.pid!)
  const clientBefore = process.cpuUsage()
  const result = await load(options)
  const client = process.cpuUsage(clientBefore)
  const cpu = processCpuMicros(server.child.pid!) - cpuBefore
  const backends = backendsBefore === undefined ? 0 : backendCpuSpent(backendsBefore, await backendCpuMicros(databaseUrl!))
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${options.url}: ${result.non2xx} non-2xx and ${result.errors} errors`)
  return { ...result, serverCpuPerRequest: cpu / result.total, backendCpuPerRequest: backends / result.total, clientCpuPerRequest: (client.user + client.system) / result.total }
}

/**
 * The authenticated single-record read on PostgreSQL (`GET /api/v1/workers.php?id=N`: the key
 * lookup and the worker row, two queries, nothing cached in the process) against the same read
 * written by hand with Fastify and `pg` (bench/hand-written-pg-server.ts), and the API on SQLite
 * for the CPU each engine costs the server per read.
 */
export const postgresReadScenario: Scenario = {
  name: 'pg-read',
  description: 'PostgreSQL: authenticated GET /api/v1/workers.php?id=N vs a hand-written Fastify + pg route, and server CPU per read on each engine',
  async run (ctx) {
    const unreachable = await postgresUnreachable()
    if (unreachable !== undefined) { ctx.log(`  skipped: ${unreachable}`); return [] }
    const database = await createBenchDatabase('read')
    const servers: ServerProcess[] = []
    try {
      const pgEngine = database.open()
      const { key, workerId } = await seedWorkers(pgEngine, 200).finally(async () => await pgEngine.close())
      const file = join(ctx.tmp, 'pg-read.db')
      const sqliteEngine = openSqliteEngine({ file })
      await sqliteEngine.migrate()
      const sqliteSeed = await seedWorkers(sqliteEngine, 200).finally(async () => await sqliteEngine.close())

      const durationS = ctx.quick ? 3 : 10
      const rounds = ctx.quick ? 1 : 3
      const poolSize = process.env.BENCH_PG_POOL_SIZE ?? '10'
      const pgEnv = { TEMPCLOCK_DATABASE_URL: database.url, TEMPCLOCK_DATABASE_POOL_SIZE: poolSize }
      const api = await startServerProcess(join(DIST, 'server.js'), pgEnv, '/ready')
      servers.push(api)
      const hand = await startServerProcess(join(DIST, 'bench', 'hand-written-pg-server.js'), pgEnv)
      servers.push(hand)
      const sqlite = await startServerProcess(join(DIST, 'server.js'), { TEMPCLOCK_DB: file }, '/ready')
      servers.push(sqlite)
      ctx.log(`  pool size ${poolSize} per process (API and hand-written)`)

      const headers = { authorization: `Bearer ${key}` }
      const apiUrl = `${api.url}/api/v1/workers.php?id=${workerId}`
      const handUrl = `${hand.url}/api/v1/workers.php?id=${workerId}`
      const sqliteUrl = `${sqlite.url}/api/v1/workers.php?id=${sqliteSeed.workerId}`
      const sqliteHeaders = { authorization: `Bearer ${sqliteSeed.key}` }
      // warm up (JIT, the pools' connections, the SQLite caches): at PostgreSQL's rates one second
      // is too few requests for V8 to have optimised the request path
      const warmS = ctx.quick ? 1 : 3
      await load({ url: apiUrl, headers, durationS: warmS })
      await load({ url: handUrl, headers, durationS: warmS })
      await load({ url: sqliteUrl, headers: sqliteHeaders, durationS: warmS })
      const a: MeasuredLoad[] = []
      const h: MeasuredLoad[] = []
      const s: MeasuredLoad[] = []
      for (let r = 0; r < rounds; r++) {
        a.push(await measuredLoad(api, { url: apiUrl, headers, durationS }, database.url))
        h.push(await measuredLoad(hand, { url: handUrl, headers, durationS }, database.url))
        s.push(await measuredLoad(sqlite, { url: sqliteUrl, headers: sqliteHeaders, durationS }))
        const line = (m: MeasuredLoad): string => `${m.requestsPerSecond.toFixed(0)} req/s (p99 ${m.p99Ms} ms, CPU µs/req: server ${m.serverCpuPerRequest.toFixed(0)}${m.backendCpuPerRequest > 0 ? `, backends ${m.backendCpuPerRequest.toFixed(0)}` : ''}, load generator ${m.clientCpuPerRequest.toFixed(0)})`
        ctx.log(`  round ${r + 1}: api on PostgreSQL ${line(a.at(-1)!)}; hand-written ${line(h.at(-1)!)}; api on SQLite ${line(s.at(-1)!)}`)
      }
      const rps = (ms: MeasuredLoad[]): number[] => ms.map((m) => m.requestsPerSecond)
      const cpu = (ms: MeasuredLoad[]): number[] => ms.map((m) => m.serverCpuPerRequest)
      const backend = (ms: MeasuredLoad[]): number[] => ms.map((m) => m.backendCpuPerRequest)
      // each round's API and hand-written runs are back to back: their ratio, round by round,
      // cancels most of what else the machine was doing at the time
      const ratios = a.map((m, i) => m.requestsPerSecond / h[i]!.requestsPerSecond)
      const ratio = median(ratios)
      // on a machine where the server, PostgreSQL and the load generator share the cores, the
      // CPU one read costs (server and backends) decides the capacity, whatever the load around
      const total = (m: MeasuredLoad): number => m.serverCpuPerRequest + m.backendCpuPerRequest
      const cpuRatios = a.map((m, i) => total(h[i]!) / total(m))
      const figures: Figure[] = [
        { scenario: 'pg-read', name: 'authenticated read req/s (PostgreSQL)', value: median(rps(a)), unit: 'req/s', samples: rps(a), baseline: { name: 'hand-written Fastify + pg req/s', value: median(rps(h)) } },
        { scenario: 'pg-read', name: 'authenticated read p99 (PostgreSQL)', value: median(a.map((m) => m.p99Ms)), unit: 'ms', samples: a.map((m) => m.p99Ms), baseline: { name: 'hand-written p99', value: median(h.map((m) => m.p99Ms)) } },
        { scenario: 'pg-read', name: 'authenticated read / hand-written (PostgreSQL)', value: ratio, unit: 'ratio', samples: ratios, target: '≥ 0.8', ok: ratio >= 0.8 },
        { scenario: 'pg-read', name: 'CPU per read, hand-written / API (server + backends)', value: median(cpuRatios), unit: 'ratio', samples: cpuRatios },
        { scenario: 'pg-read', name: 'server CPU per read (PostgreSQL)', value: median(cpu(a)), unit: 'µs', samples: cpu(a), baseline: { name: 'hand-written', value: median(cpu(h)) } },
        { scenario: 'pg-read', name: 'PostgreSQL backends CPU per read (API)', value: median(backend(a)), unit: 'µs', samples: backend(a), baseline: { name: 'hand-written', value: median(backend(h)) } },
        { scenario: 'pg-read', name: 'authenticated read req/s (SQLite)', value: median(rps(s)), unit: 'req/s', samples: rps(s) },
        { scenario: 'pg-read', name: 'server CPU per read (SQLite)', value: median(cpu(s)), unit: 'µs', samples: cpu(s) }
      ]
      return figures
    } finally {
      for (const server of servers) await server.stop()
      await database.drop()
    }
  }
}
