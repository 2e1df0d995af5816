import { cpus } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import BetterSqlite3 from 'better-sqlite3'
import pg from 'pg'
import type { Engine } from '../../db/engine/engine.js'
import { openSqliteEngine } from '../../db/engine/sqlite/index.js'
import { createAccount } from '../../db/accounts.js'
import { createApiKey } from '../../db/api-keys.js'
import { DIST, median, startServerProcess, type BenchContext, type Figure, type Scenario, type ServerProcess } from '../lib.js'
import { startLatencyProxy, type LatencyProxy } from '../latency-proxy.js'
import { backendCpuMicros, backendCpuSpent, createBenchDatabase, postgresUnreachable, processCpuMicros } from '../postgres.js'

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

/** Single-row autocommit inserts over one connection: what the server's WAL flush allows one commit at a time. */
async function rawPostgresCommitsPerSecond (url: string, ms: number): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('create table bench_commits (id integer generated always as identity primary key, v text)')
    const started = performance.now()
    let n = 0
    while (performance.now() - started < ms) { await client.query('insert into bench_commits (v) values ($1)', ['x']); n++ }
    await client.query('drop table bench_commits')
    return n / (ms / 1000)
  } finally {
    await client.end()
  }
}

/** The server as deployed: NODE_ENV=production turns the development-only write guard off (docs/operations.md). */
const PRODUCTION = { NODE_ENV: 'production' }

/** Where a clock scenario keeps its data: how to seed it, how the server reaches it, the disk's own rate. */
interface ClockDatabase {
  open: () => Engine
  serverEnv: Record<string, string>
  /** the PostgreSQL database, whose backends' CPU counts too */
  databaseUrl?: string
  /** single-row commits/s straight to the database: the ceiling for one commit at a time */
  diskRate: () => Promise<number>
  diskRateName: string
  remove: () => Promise<void>
}

function sqliteClockDatabase (ctx: BenchContext, name: string): ClockDatabase {
  const file = join(ctx.tmp, `${name}.db`)
  return {
    open: () => openSqliteEngine({ file }),
    serverEnv: { ...PRODUCTION, TEMPCLOCK_DB: file, TEMPCLOCK_DB_SYNCHRONOUS: process.env.BENCH_SYNCHRONOUS ?? 'FULL' },
    diskRate: async () => rawCommitsPerSecond(join(ctx.tmp, `${name}-fsync.db`), 2000),
    diskRateName: 'disk: single-row commits/s',
    remove: async () => {}
  }
}

/**
 * A database of its own on the local PostgreSQL server. The figure is only the durable one when
 * the server flushes its WAL at every commit: synchronous_commit=on (the default) and fsync=on,
 * checked before anything is measured.
 */
async function postgresClockDatabase (ctx: BenchContext, name: string, networkDelayMs?: number): Promise<ClockDatabase> {
  const database = await createBenchDatabase(name)
  let proxy: LatencyProxy | undefined
  let serverUrl = database.url
  try {
    if (networkDelayMs !== undefined) {
      // the servers reach PostgreSQL through the proxy; seeding and the CPU readings go direct
      const socket = /^postgres(?:ql)?:\/\/[^/]*?(?::(\d+))?\/[^?]*\?(?:.*&)?host=(\/[^&]+)/.exec(database.url)
      if (socket === null) throw new Error('pg-clock-remote needs the bench database on a local Unix socket (TEMPCLOCK_BENCH_DATABASE_URL with ?host=/socket/dir)')
      const port = Number(socket[1] ?? 5432)
      proxy = await startLatencyProxy(join(decodeURIComponent(socket[2]!), `.s.PGSQL.${port}`), port, networkDelayMs)
      serverUrl = database.url.replace(/([?&]host=)[^&]+/, `$1${encodeURIComponent(proxy.socketDir)}`)
      ctx.log(`  the servers reach PostgreSQL through a proxy holding each chunk ${networkDelayMs} ms in each direction`)
    }
    const settings = await database.settings()
    ctx.log(`  PostgreSQL ${settings.server_version}: synchronous_commit=${settings.synchronous_commit}, fsync=${settings.fsync}, wal_sync_method=${settings.wal_sync_method}, max_connections=${settings.max_connections}`)
    if (settings.synchronous_commit !== 'on' || settings.fsync !== 'on') {
      throw new Error(`the server must run with synchronous_commit=on and fsync=on for durable clock events (it has ${settings.synchronous_commit} and ${settings.fsync})`)
    }
  } catch (err) {
    await proxy?.close()
    await database.drop()
    throw err
  }
  const poolSize = process.env.BENCH_PG_POOL_SIZE ?? '10'
  ctx.log(`  pool size ${poolSize}`)
  return {
    open: () => database.open(),
    serverEnv: { ...PRODUCTION, TEMPCLOCK_DATABASE_URL: serverUrl, TEMPCLOCK_DATABASE_POOL_SIZE: poolSize },
    databaseUrl: database.url,
    diskRate: async () => await rawPostgresCommitsPerSecond(serverUrl, 2000),
    diskRateName: networkDelayMs === undefined ? 'PostgreSQL: single-row commits/s, one connection' : 'PostgreSQL through the proxy: single-row commits/s, one connection',
    remove: async () => {
      await proxy?.close()
      await database.drop()
    }
  }
}

/** What differs between the clock scenarios: their names, and what a worker's site asks of a clock-in. */
interface ClockVariant {
  name: string
  description: string
  /** the figure's name, e.g. 'acknowledged clock events/s (FULL)' */
  rateName: string
  p99Name: string
  /** the SQLite file (default), or a database of its own on the local PostgreSQL server */
  engine?: 'sqlite' | 'postgres'
  /** PostgreSQL as if on another machine: each direction delayed this long (bench/latency-proxy.ts) */
  networkDelayMs?: number
  /** seeds what the clock-ins need beyond workers: the workers' location, and what each `in` adds to its body */
  prepare?: (engine: Engine, accountId: number) => Promise<{ locationId: number, inBody: Record<string, unknown> }>
}

/**
 * Clock-in/clock-out throughput over HTTP with every commit durable (SQLite synchronous=FULL;
 * PostgreSQL synchronous_commit=on): every connection has its own worker and alternates in and
 * out, so every request is a real, acknowledged clock event.
 */
export function clockScenarioOf (variant: ClockVariant): Scenario {
  return {
    name: variant.name,
    description: variant.description,
    async run (ctx) {
      if (variant.engine === 'postgres') {
        const unreachable = await postgresUnreachable()
        if (unreachable !== undefined) { ctx.log(`  skipped: ${unreachable}`); return [] }
      }
      const database = variant.engine === 'postgres' ? await postgresClockDatabase(ctx, variant.name, variant.networkDelayMs) : sqliteClockDatabase(ctx, variant.name)
      try {
        return await measureClock(ctx, variant, database)
      } finally {
        await database.remove()
      }
    }
  }
}

async function measureClock (ctx: BenchContext, variant: ClockVariant, database: ClockDatabase): Promise<Figure[]> {
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 200)
  const handle = database.open()
  await handle.migrate()
  const account = await createAccount(handle, { name: 'Bench', apiEnabled: true })
  const { key } = await createApiKey(handle, { accountId: account.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
  const site = await variant.prepare?.(handle, account.id)
  const inBody = site?.inBody ?? {}
  const now = new Date().toISOString().slice(0, 19) + 'Z'
  const workers: number[] = []
  // in batches: one statement per worker would take longer than the measurement on PostgreSQL
  for (let start = 0; start < connections * 50; start += 1000) {
    const batch = Array.from({ length: Math.min(1000, connections * 50 - start) }, (_, i) => ({ account_id: account.id, first_name: 'W', last_name: String(start + i), employee_ref: null, email: null, phone: null, location_id: site?.locationId ?? null, department_id: null, preferred_language: 'en' as const, active: true, created_at: now, updated_at: now }))
    const rows = await handle.write(async (trx) => await trx.insertInto('workers').values(batch).returning('id').execute())
    workers.push(...rows.map((row) => row.id))
  }
  await handle.close()

  const diskRate = await database.diskRate()
  ctx.log(`  ${database.diskRateName}: ${diskRate.toFixed(0)}`)

  const durationS = ctx.quick ? 3 : 10
  const rounds = ctx.quick ? 1 : 3
  // at PostgreSQL's rates one second is too few requests for V8 to optimise the request path
  const warmupS = database.databaseUrl === undefined || ctx.quick ? 1 : 5
  // per-request headers replace autocannon's global ones, so they go on the request
  const plainHeaders = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  // BENCH_IDEMPOTENCY_KEY=1: every request carries a new Idempotency-Key, so each also checks
  // the key and stores its response in the same transaction
  const idempotent = process.env.BENCH_IDEMPOTENCY_KEY === '1'
  if (idempotent) ctx.log('  every request with its own Idempotency-Key')
  let keys = 0
  const headers = (): Record<string, string> => idempotent ? { ...plainHeaders, 'idempotency-key': `bench-${keys++}` } : plainHeaders

  // The API, and on PostgreSQL the same clock event written by hand (bench/hand-written-pg-clock-server.ts),
  // sequential and pipelined, on the same database: one round of each in turn, so that a machine
  // busier in one round than the next weighs on all of them alike.
  const subjects: ClockSubject[] = [{ label: 'api', server: await startServerProcess(join(DIST, 'server.js'), database.serverEnv), stats: emptyStats() }]
  let next = 0
  try {
    if (database.databaseUrl !== undefined) {
      const handEnv = { TEMPCLOCK_DATABASE_URL: database.serverEnv.TEMPCLOCK_DATABASE_URL!, TEMPCLOCK_DATABASE_POOL_SIZE: database.serverEnv.TEMPCLOCK_DATABASE_POOL_SIZE ?? '10' }
      const script = join(DIST, 'bench', 'hand-written-pg-clock-server.js')
      subjects.push({ label: 'hand-written', server: await startServerProcess(script, handEnv), stats: emptyStats() })
      subjects.push({ label: 'hand-written, pipelined', server: await startServerProcess(script, { ...handEnv, TEMPCLOCK_HAND_PIPELINE: '1' }), stats: emptyStats() })
    }
    for (let r = 0; r <= rounds; r++) {
      const warmup = r === 0
      const line: string[] = []
      for (const subject of subjects) {
        const { server, stats } = subject
        const serverCpu = processCpuMicros(server.child.pid!)
        const clientCpu = process.cpuUsage()
        const backends = database.databaseUrl === undefined ? undefined : await backendCpuMicros(database.databaseUrl)
        const result = await autocannon({
          url: `${server.url}/api/v1/clock.php`,
          connections,
          duration: warmup ? warmupS : durationS,
          // autocannon resets `context` at each pass over `requests`, so a pass is one in/out
          // pair on the next worker round-robin; with 50 workers per connection a worker's
          // previous pair has long finished when its turn comes again. A round that ends between
          // a pair's in and out leaves that worker clocked in, so the next round's first visit
          // to it answers 409 (correctly): a few non-2xx per round, not counted as acknowledged.
          requests: [{
            method: 'POST',
            setupRequest: (request: any, context: any) => {
              context.worker = workers[next++ % workers.length]
              return { ...request, headers: headers(), body: JSON.stringify({ worker_id: context.worker, action: 'in', ...inBody }) }
            }
          }, {
            method: 'POST',
            setupRequest: (request: any, context: any) => ({ ...request, headers: headers(), body: JSON.stringify({ worker_id: context.worker, action: 'out' }) })
          }]
        } as autocannon.Options)
        if (result.errors > 0) throw new Error(`${variant.name} benchmark (${subject.label}) got ${result.errors} errors`)
        if (warmup) continue
        const client = process.cpuUsage(clientCpu)
        const answered = result.requests.total
        stats.rates.push((answered - result.non2xx) / durationS)
        stats.server.push((processCpuMicros(server.child.pid!) - serverCpu) / answered)
        stats.backends.push(backends === undefined ? 0 : backendCpuSpent(backends, await backendCpuMicros(database.databaseUrl!)) / answered)
        stats.client.push((client.user + client.system) / answered)
        stats.p99s.push(result.latency.p99)
        line.push(`${subject.label} ${stats.rates.at(-1)!.toFixed(0)} acknowledged clock events/s (non-2xx ${result.non2xx}, p99 ${result.latency.p99} ms; ` +
          `CPU µs per request: server ${stats.server.at(-1)!.toFixed(0)}, backends ${stats.backends.at(-1)!.toFixed(0)}, load generator ${stats.client.at(-1)!.toFixed(0)})`)
      }
      if (!warmup) ctx.log(`  round ${r}: ${line.join('; ')}`)
    }
  } finally {
    for (const subject of subjects) await subject.server.stop()
  }
  const [api, hand, pipelined] = subjects.map((s) => s.stats) as [RoundStats, RoundStats?, RoundStats?]
  const rate = median(api.rates)
  // the target is for PostgreSQL on this machine; one a network hop away is reported only
  const target = (value: number): Pick<Figure, 'target' | 'ok'> => variant.networkDelayMs === undefined ? { target: '≥ 2500', ok: value >= 2500 } : {}
  const figures: Figure[] = [
    { scenario: variant.name, name: variant.rateName, value: rate, unit: 'ev/s', samples: api.rates, ...target(rate), baseline: { name: database.diskRateName, value: diskRate } },
    { scenario: variant.name, name: variant.p99Name, value: median(api.p99s), unit: 'ms', samples: api.p99s },
    { scenario: variant.name, name: 'server CPU per clock event', value: median(api.server), unit: 'µs', samples: api.server },
    ...(database.databaseUrl === undefined ? [] : [{ scenario: variant.name, name: 'PostgreSQL backends CPU per clock event', value: median(api.backends), unit: 'µs', samples: api.backends }]),
    capacityFigure(variant.name, 'clock events/s the CPU allows (all cores, nothing else running)', api)
  ]
  if (hand !== undefined && pipelined !== undefined) {
    const handName = 'hand-written Fastify + pg: clock events/s'
    figures.push(
      { scenario: variant.name, name: handName, value: median(hand.rates), unit: 'ev/s', samples: hand.rates, ...target(median(hand.rates)) },
      { scenario: variant.name, name: 'hand-written: server + backends CPU per event', value: median(hand.server.map((s, i) => s + hand.backends[i]!)), unit: 'µs', samples: hand.server.map((s, i) => s + hand.backends[i]!) },
      capacityFigure(variant.name, 'hand-written: events/s the CPU allows', hand),
      { scenario: variant.name, name: 'hand-written, pipelined (5 waits): clock events/s', value: median(pipelined.rates), unit: 'ev/s', samples: pipelined.rates, ...target(median(pipelined.rates)) },
      capacityFigure(variant.name, 'hand-written, pipelined: events/s the CPU allows', pipelined),
      // round by round, like pg-read's ratio, against the reference that waits as often as the API
      // does (the key; BEGIN with the lock; the facts; the write; the event with COMMIT)
      { scenario: variant.name, name: 'API / hand-written pipelined clock events/s', value: median(api.rates.map((a, i) => a / pipelined.rates[i]!)), unit: 'ratio', samples: api.rates.map((a, i) => a / pipelined.rates[i]!), baseline: { name: 'hand-written, pipelined', value: median(pipelined.rates) } }
    )
  }
  return figures
}

/** One server the clock load is sent to, and what each of its rounds measured. */
interface ClockSubject {
  label: string
  server: ServerProcess
  stats: RoundStats
}

/** Per round: acknowledged events/s, p99 ms, and CPU µs per answered request in each place. */
interface RoundStats {
  rates: number[]
  p99s: number[]
  server: number[]
  backends: number[]
  client: number[]
}

function emptyStats (): RoundStats {
  return { rates: [], p99s: [], server: [], backends: [], client: [] }
}

/**
 * What the machine's cores would allow if the load generator, server and database had them to
 * themselves: the measured CPU per event, all three together, against every core.
 */
function capacityFigure (scenario: string, name: string, stats: RoundStats): Figure {
  const capacities = stats.server.map((server, i) => cpus().length * 1_000_000 / (server + stats.backends[i]! + stats.client[i]!))
  return { scenario, name, value: median(capacities), unit: 'ev/s', samples: capacities }
}

export const clockScenario = clockScenarioOf({
  name: 'clock',
  description: 'POST /api/v1/clock.php in/out over HTTP, synchronous=FULL (acknowledged clock events/s)',
  rateName: 'acknowledged clock events/s (FULL)',
  p99Name: 'clock event p99'
})

export const postgresClockScenario = clockScenarioOf({
  name: 'pg-clock',
  description: 'PostgreSQL: POST /api/v1/clock.php in/out over HTTP, synchronous_commit=on (acknowledged clock events/s)',
  rateName: 'acknowledged clock events/s (PostgreSQL)',
  p99Name: 'clock event p99 (PostgreSQL)',
  engine: 'postgres'
})

/** how far away pg-clock-remote puts PostgreSQL, each way (BENCH_PG_DELAY_MS, default 3) */
const REMOTE_DELAY_MS = Number(process.env.BENCH_PG_DELAY_MS ?? 3)

/**
 * The same, with PostgreSQL a network hop away (a proxy holds every chunk 3 ms each way): a pool
 * connection is then held for every wait of an event, so the waits, not the 2 cores, bound a
 * process's rate (at 1 ms each way the proxy's own work saturates the cores first). What sending
 * BEGIN and the outbox event ahead is for. No target: reported against the same event written by
 * hand, waiting seven times and five.
 */
export const postgresRemoteClockScenario = clockScenarioOf({
  name: 'pg-clock-remote',
  description: `PostgreSQL ${REMOTE_DELAY_MS} ms away each way (a delaying proxy): POST /api/v1/clock.php in/out, synchronous_commit=on`,
  rateName: `acknowledged clock events/s (PostgreSQL ${REMOTE_DELAY_MS} ms away)`,
  p99Name: `clock event p99 (PostgreSQL ${REMOTE_DELAY_MS} ms away)`,
  engine: 'postgres',
  networkDelayMs: REMOTE_DELAY_MS
})
