import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import pg from 'pg'
import { openPostgresEngine, type PostgresEngine } from '../db/engine/postgres/index.js'

/**
 * PostgreSQL for the benchmarks: a server on which the bench may create and drop databases (the
 * role needs CREATEDB), given as a URL to a maintenance database. By default the local cluster
 * over its Unix socket as the OS user, as the tests use it.
 */
export const BENCH_POSTGRES_URL = process.env.TEMPCLOCK_BENCH_DATABASE_URL ??
  `postgres://${encodeURIComponent(userInfo().username)}@/postgres?host=/var/run/postgresql`

/** `url` with its database replaced by `name` (by hand: WHATWG URL rejects a Unix socket's empty host). */
function withDatabase (url: string, name: string): string {
  const match = /^(postgres(?:ql)?:\/\/[^/?]*)\/[^/?]*(\?.*)?$/.exec(url)
  if (match === null) throw new Error('TEMPCLOCK_BENCH_DATABASE_URL must name a database: postgres://user@host:port/postgres')
  return `${match[1]!}/${name}${match[2] ?? ''}`
}

async function withAdmin<T> (fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: BENCH_POSTGRES_URL, connectionTimeoutMillis: 3_000 })
  client.on('error', () => {})
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Why PostgreSQL scenarios cannot run here, or undefined when the server answers. */
export async function postgresUnreachable (): Promise<string | undefined> {
  try {
    await withAdmin(async (c) => await c.query('select 1'))
    return undefined
  } catch (err) {
    return `PostgreSQL is unreachable at TEMPCLOCK_BENCH_DATABASE_URL (${err instanceof Error ? err.message : String(err)})`
  }
}

export interface BenchDatabase {
  url: string
  /** an engine on it, for seeding (close it before the measured part) */
  open: () => PostgresEngine
  /** the server's settings that decide durability, as the bench reports them */
  settings: () => Promise<Record<string, string>>
  drop: () => Promise<void>
}

/** A new, migrated database on the bench server; `drop()` removes it (also after a failed run). */
export async function createBenchDatabase (label: string): Promise<BenchDatabase> {
  const name = `tempclock_bench_${label.replace(/[^a-z0-9]/g, '_')}_${process.pid}_${randomBytes(3).toString('hex')}`
  await withAdmin(async (admin) => await admin.query(`create database ${name}`))
  const url = withDatabase(BENCH_POSTGRES_URL, name)
  const database: BenchDatabase = {
    url,
    open: () => openPostgresEngine({ url, applicationName: 'tempclock-bench-seed' }),
    async settings () {
      return await withAdmin(async (admin) => {
        const found = await admin.query<{ name: string, setting: string }>(`select name, setting from pg_settings
          where name in ('synchronous_commit', 'fsync', 'wal_sync_method', 'max_connections', 'shared_buffers', 'server_version')`)
        return Object.fromEntries(found.rows.map((r) => [r.name, r.setting]))
      })
    },
    drop: async () => { await withAdmin(async (admin) => await admin.query(`drop database if exists ${name} with (force)`)) }
  }
  try {
    const engine = database.open()
    try {
      await engine.migrate()
    } finally {
      await engine.close()
    }
  } catch (err) {
    await database.drop()
    throw err
  }
  return database
}

/**
 * CPU time (user + system, all threads) a process has used so far, in microseconds, from
 * /proc/<pid>/stat (Linux): what `process.cpuUsage()` reports, read from outside the process.
 */
export function processCpuMicros (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // the command name is in parentheses and may hold spaces: count fields after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return ticks * 1_000_000 / CLOCK_TICKS_PER_SECOND
}

/** USER_HZ: 100 on every Linux architecture Node.js runs on. */
const CLOCK_TICKS_PER_SECOND = 100

/** CPU microseconds used so far by each PostgreSQL backend connected to `url`'s database, by pid. */
export async function backendCpuMicros (url: string): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const found = await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()')
    const used = new Map<number, number>()
    for (const { pid } of found.rows) {
      try { used.set(pid, processCpuMicros(pid)) } catch {}
    }
    return used
  } finally {
    await client.end()
  }
}

/**
 * CPU the backends used between two readings; a backend that connected in between counts in full,
 * one that closed in between is lost (the pools keep their connections while under load).
 */
export function backendCpuSpent (before: Map<number, number>, after: Map<number, number>): number {
  let total = 0
  for (const [pid, micros] of after) total += micros - (before.get(pid) ?? 0)
  return total
}
