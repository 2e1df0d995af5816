import { join } from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import type BetterSqlite3 from 'better-sqlite3'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import { buildApp, type AppOptions } from '../app.js'
import { testConfig, type AppConfig } from '../plugins/config.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import type { SqliteEngine } from '../db/engine/sqlite/index.js'
import type { Scope } from '../domain/scopes.js'
import { runCli as runCliCommand } from '../cli/tempclock.js'
import { eventIdRecorder, type EventIdRecorder } from '../db/events.js'
import type { Engine } from '../db/engine/engine.js'
import type { EventType } from '../domain/events.js'
import { leaseAppDatabase } from './postgres.js'

/**
 * The compiled tree the tests run from (`npm test` compiles the app and the tests into dist-test/
 * with tsconfig.test.json), and the repository above it.
 */
export const BUILD = join(import.meta.dirname, '..')
export const ROOT = join(BUILD, '..')

/** The part of a tap Test the helpers use. */
interface TapLike {
  after: (fn: () => unknown) => void
}

/**
 * The engine the test apps run on: SQLite (`:memory:`) unless TEMPCLOCK_TEST_ENGINE=postgres, which
 * the PostgreSQL run's files set (test/engines.ts writes them).
 */
export const TEST_ENGINE: 'sqlite' | 'postgres' = process.env.TEMPCLOCK_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite'
export const ON_POSTGRES = TEST_ENGINE === 'postgres'

/** tap's `skip` for a test of SQLite internals (pragmas, query plans, the file) on the PostgreSQL run. */
export function sqliteOnly (reason: string): string | false {
  return ON_POSTGRES ? `SQLite only: ${reason}` : false
}

/** The error code each engine's driver gives when the database refuses a row (the same refusal). */
export const REFUSED = ON_POSTGRES
  ? { unique: '23505', check: '23514' }
  : { unique: 'SQLITE_CONSTRAINT_UNIQUE', check: 'SQLITE_CONSTRAINT_CHECK' }

/** The SQLite files a test gave as `dbPath`, and the PostgreSQL database that stands for each. */
const databaseFor = new Map<string, string>()

/**
 * `testConfig(overrides)` on the test engine: on PostgreSQL, an empty migrated database of its own
 * (test/postgres.ts) instead of `:memory:`, released when `t` ends. A test that gives a SQLite file
 * as `dbPath` (to reopen the same data in a second app) gets the same database for the same path.
 */
export async function testAppConfig (t: TapLike, overrides: Partial<AppConfig> = {}): Promise<AppConfig> {
  if (!ON_POSTGRES || overrides.databaseUrl !== undefined) return testConfig(overrides)
  const path = overrides.dbPath ?? ':memory:'
  let url = path === ':memory:' ? undefined : databaseFor.get(path)
  if (url === undefined) {
    const lease = await leaseAppDatabase()
    url = lease.url
    if (path !== ':memory:') databaseFor.set(path, url)
    // registered before the test's own app.close(): runs after it (tap runs `after` hooks last first)
    t.after(() => {
      databaseFor.delete(path)
      lease.release()
    })
  }
  // a test that sends hundreds of requests at once waits for a connection rather than failing
  // with 503 on a busy machine (the 2 s default is for production's overload)
  return testConfig({ databaseConnectTimeoutMs: 30_000, ...overrides, databaseUrl: url })
}

/** A fresh app on its own empty database, closed when the test ends; `now` replaces its clock. */
export async function buildTestApp (t: TapLike, overrides: Partial<AppConfig> = {}, options: Omit<AppOptions, 'config'> = {}): Promise<FastifyInstance> {
  const app = await buildApp(await testAppConfig(t, overrides), options)
  t.after(async () => { await app.close() })
  return app
}

/**
 * A value that moves whenever anything is written to the app's database, to assert that a request
 * wrote nothing: SQLite's change counter; on PostgreSQL every row's version and place (xmin, ctid),
 * which an insert, an update or a delete changes.
 */
export async function writeMark (app: FastifyInstance): Promise<unknown> {
  if (app.engine.changes !== undefined) return app.engine.changes.version()
  const tables = await app.db.introspection.getTables()
  const rows = await sql<{ name: string, rows: string | null }>`${sql.join(tables.map((table) =>
    sql`select ${table.name}::text as name, string_agg(xmin::text || ctid::text, ',' order by ctid) as rows from ${sql.table(table.name)}`), sql` union all `)}`.execute(app.db)
  return JSON.stringify(rows.rows)
}

/** Rows in every table of the app's database: what requests wrote, whether or not the API shows it. */
export async function rowCounts (app: FastifyInstance): Promise<Record<string, number>> {
  const tables = await app.db.introspection.getTables()
  const counts = await sql<{ name: string, n: number }>`${sql.join(tables.map((table) =>
    sql`select ${table.name} as name, count(*) as n from ${sql.table(table.name)}`), sql` union all `)}`.execute(app.db)
  return Object.fromEntries(counts.rows.map((r) => [r.name, Number(r.n)]).sort())
}

/** The app's raw SQLite connection, for tests that look under the API (pragmas, direct checks). */
export function sqliteOf (app: FastifyInstance): BetterSqlite3.Database {
  const engine = app.engine as Partial<SqliteEngine>
  if (engine.sqlite === undefined) throw new Error('this test needs the SQLite engine')
  return engine.sqlite
}

export interface TestAccount {
  id: number
  /** a full-access key of this account */
  key: string
}

export async function createTestAccount (app: FastifyInstance, options: { name?: string, apiEnabled?: boolean, timezone?: string } = {}): Promise<TestAccount> {
  const account = await createAccount(app.engine, {
    name: options.name ?? 'Test Account',
    timezone: options.timezone ?? 'UTC',
    apiEnabled: options.apiEnabled ?? true
  })
  const { key } = await createApiKey(app.engine, { accountId: account.id, name: 'full', scopes: [], expiresAt: null, rateLimit: 100_000 })
  return { id: account.id, key }
}

export async function createTestKey (app: FastifyInstance, accountId: number, options: { scopes?: Scope[], expiresAt?: string | null, rateLimit?: number | null } = {}): Promise<{ id: number, key: string }> {
  const { key, record } = await createApiKey(app.engine, {
    accountId, name: 'test key', scopes: options.scopes ?? [], expiresAt: options.expiresAt ?? null, rateLimit: options.rateLimit ?? 100_000
  })
  return { id: record.id, key }
}

export function bearer (key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` }
}

/** inject() with a key; JSON bodies are sent as JSON. */
export async function call (app: FastifyInstance, key: string, options: InjectOptions): Promise<LightMyRequestResponse> {
  return await app.inject({ ...options, headers: { ...bearer(key), ...(options.headers ?? {}) } })
}

/** Every route of the app as { method, url, scope }, from the app's own route table. */
export function routeTable (app: FastifyInstance): Array<{ method: string, url: string, scope: string | undefined }> {
  const routes: Array<{ method: string, url: string, scope: string | undefined }> = []
  app.routeIndex.forEach((methods, url) => {
    methods.forEach((scope, method) => routes.push({ method, url, scope }))
  })
  return routes
}

const recorders = new WeakMap<Engine, EventIdRecorder>()

/** Puts an event in `engine`'s outbox as the stores do (db/events.ts), in a write of its own. */
export async function recordEvent (engine: Engine, accountId: number, type: EventType, data: unknown): Promise<number> {
  let record = recorders.get(engine)
  if (record === undefined) {
    // compiled outside the write: a query built on engine.db inside one is refused
    record = eventIdRecorder(engine)
    recorders.set(engine, record)
  }
  return await engine.write(async (trx) => await record(trx, accountId, type, data))
}

/** The compiled server and CLI entry points, as `npm start` and `npx tempclock` run them. */
export const SERVER_JS = join(BUILD, 'server.js')
export const CLI_JS = join(BUILD, 'bin', 'tempclock.js')

export interface RunningServer {
  url: string
  process: ChildProcess
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/**
 * The environment for a Node process a test starts (a server, the CLI): `env` without tap's process
 * tracker. tap puts the tracker into NODE_OPTIONS, so every process a test starts inherits it: an
 * off-thread module loader that costs about 1.1 s of CPU per process on Node 20, as much as the
 * server's whole start. A child needs measuring, not tracking: when the run measures coverage, it
 * writes Node's own coverage (NODE_V8_COVERAGE) into the directory tap's report reads.
 */
export function childEnv (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const options = (env.NODE_OPTIONS ?? '').split(/\s+/).filter((option) => option !== '' && !option.includes('@tapjs/processinfo'))
  const child: NodeJS.ProcessEnv = { ...env, NODE_OPTIONS: options.join(' ') }
  if (process.env._TAPJS_PROCESSINFO_COVERAGE_ === '1') child.NODE_V8_COVERAGE = join(ROOT, '.tap', 'coverage')
  return child
}

/** Starts dist/server.js on a free port with the given database; resolves once it listens. */
export async function startServer (dbPath: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const child = spawn(process.execPath, [SERVER_JS], {
    env: childEnv({ ...process.env, TEMPCLOCK_DB: dbPath, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    // generous: a loaded CI machine can take many seconds to start a process
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('server did not start: ' + output)) }, 60_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match !== null) { clearTimeout(timer); resolve(match[1]!) }
    })
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${String(code)}: ${output}`)) })
  })
  return {
    url,
    process: child,
    stop: async (signal = 'SIGTERM') => {
      // already gone (a process killed by a signal has exitCode null and signalCode set)
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill(signal)
      const [code] = await once(child, 'exit') as [number | null]
      return code
    }
  }
}

/** Starts one server per database at the same time; stopped when `t` ends, also when one of them fails to start. */
export async function startTogether (t: { teardown: (fn: () => unknown) => void }, dbPaths: string[], env: Record<string, string>): Promise<RunningServer[]> {
  const started = await Promise.allSettled(dbPaths.map(async (dbPath) => await startServer(dbPath, env)))
  const servers = started.flatMap((s) => s.status === 'fulfilled' ? [s.value] : [])
  t.teardown(async () => { await Promise.all(servers.map(async (server) => await server.stop())) })
  const failed = started.find((s) => s.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  return servers
}

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Runs a compiled script in its own Node process to its exit; `env` replaces the environment. */
export async function runScript (script: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<CliResult> {
  const child = spawn(process.execPath, [script, ...args], { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  return { code, stdout, stderr }
}

/**
 * Runs one `tempclock` command in this process (the same runCli that bin/tempclock.ts runs) and
 * collects what it prints; `env` is added to this process's environment, `stdin` is its input.
 */
export async function runCli (args: string[], env: Record<string, string> = {}, stdin = ''): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const code = await runCliCommand(args, {
    stdout: { write: (text) => { stdout += text } },
    stderr: { write: (text) => { stderr += text } },
    env: { ...process.env, ...env },
    stdin: Readable.from([stdin])
  })
  return { code, stdout, stderr }
}

/** Runs the compiled `tempclock` binary in its own process (the CLI smoke test). */
export async function spawnCli (args: string[], env: Record<string, string> = {}, stdin = ''): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI_JS, ...args], { env: childEnv({ ...process.env, ...env }), stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  child.stdin.end(stdin)
  const [code] = await once(child, 'exit') as [number | null]
  return { code, stdout, stderr }
}
