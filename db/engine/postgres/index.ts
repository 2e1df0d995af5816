import { CompiledQuery, Kysely, Migrator, PostgresDialect } from 'kysely'
import pg from 'pg'
import { postgresMigrations } from '../../migrations/postgres/index.js'
import type { Database } from '../../types.js'
import type { Engine } from '../engine.js'
import { extendedUnit, writeGuard } from '../write-scope.js'
import { compilePostgres } from './compiled.js'
import { postgresSql } from './dialect.js'
import { isRetryableConflict, isUnavailable } from './errors.js'
import { PreparedStatements } from './prepared.js'
import { rowTypes } from './types.js'
import { PostgresWakeups } from './wakeups.js'

export interface PostgresEngineOptions {
  /** `postgres://user:password@host:port/database` (pg's connection string, `?host=/socket/dir` too) */
  url: string
  /** connections per process (default 10); the server allows max_connections across all processes */
  poolSize?: number
  /** how long to wait for a connection before failing (default 2 s): a stopped server fails fast */
  connectionTimeoutMs?: number
  /** the server cancels a statement after this long (default 10 s), below the request timeout */
  statementTimeoutMs?: number
  /** a lost connection or other pool error; the engine carries on and reconnects on demand */
  onError?: (err: Error) => void
  /** shown in pg_stat_activity */
  applicationName?: string
  /** the misuse check (db/engine/write-scope.ts); on unless turned off (production) */
  writeGuard?: boolean
}

export interface PostgresEngine extends Engine {
  readonly dialect: 'postgres'
  /** the pool underneath, for tools that need a plain client (copying, diagnostics) */
  readonly pool: pg.Pool
}

/** a write that lost a serialization or deadlock conflict runs again, up to this many times in all */
const WRITE_ATTEMPTS = 4
const PING_TIMEOUT_MS = 2_000

/**
 * PostgreSQL behind the Engine interface (db/engine/engine.ts): a `pg` pool under Kysely's
 * PostgresDialect, one transaction per write, advisory locks for what must be serial across
 * processes. Nothing is cached in the process: another process may write at any time.
 */
export function openPostgresEngine (options: PostgresEngineOptions): PostgresEngine {
  const statementTimeoutMs = options.statementTimeoutMs ?? 10_000
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 2_000,
    statement_timeout: statementTimeoutMs,
    // the server enforces statement_timeout; this catches a server that stopped answering at all
    query_timeout: statementTimeoutMs + 2_000,
    keepAlive: true,
    application_name: options.applicationName ?? 'tempclock',
    types: rowTypes,
    // a write's connection sends BEGIN and its outbox INSERT ahead (./prepared.ts); a connection
    // used one statement at a time behaves as without it
    pipeline: true
  })
  const report = options.onError ?? (() => {})
  // pg removes the pool's listener from a client while it is checked out, and an 'error' without
  // a listener would end the process: every client keeps one of its own for its whole life
  pool.on('connect', (client) => { client.on('error', report) })
  // an idle client's error reaches the pool too; it was reported by the client's own listener
  pool.on('error', () => {})

  const prepared = new PreparedStatements()
  const base = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: prepared.kyselyPool(pool),
      // dates and timestamps as SQLite's functions see them: UTC, whatever the server's default
      onCreateConnection: async (connection) => {
        await connection.executeQuery(CompiledQuery.raw('set time zone \'UTC\''))
      }
    })
  })

  const wakeups = new PostgresWakeups({
    connectionString: options.url,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 2_000,
    keepAlive: true,
    application_name: `${options.applicationName ?? 'tempclock'} listener`
  }, pool, report)

  let closed: Promise<void> | undefined
  const guard = writeGuard(options.writeGuard ?? true)

  return {
    dialect: 'postgres',
    pool,
    db: guard.outsideWriteOnly(base),
    changes: undefined,
    wakeups,
    sql: postgresSql,

    // With the guard off, misuse cannot hang either: a query on `db` inside a write, or a nested
    // write, takes another pool connection (or fails after connectionTimeoutMs when none is free),
    // and waiting for a lock the outer unit holds ends at statement_timeout.
    async write (fn, writeOptions) {
      guard.refuseNestedWrite()
      const { unit, committed } = extendedUnit(fn, writeOptions)
      for (let attempt = 1; ; attempt++) {
        try {
          const value = await base.transaction().execute(async (trx) => await guard.runAsWrite(async () => await unit(trx)))
          committed()
          return value
        } catch (err) {
          if (attempt < WRITE_ATTEMPTS && isRetryableConflict(err)) continue
          throw err
        }
      }
    },

    compile: (build, compileOptions) => compilePostgres(async (text, values) => (await pool.query(prepared.config(text, values))).rows, prepared, guard, build, compileOptions),

    async migrate () {
      // its own connection without the statement timeout: a migration, or the wait for another
      // process's migration lock, may take longer than any request
      const migrationPool = new pg.Pool({ connectionString: options.url, max: 1, connectionTimeoutMillis: options.connectionTimeoutMs ?? 2_000, types: rowTypes })
      migrationPool.on('error', () => {})
      const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: migrationPool }) })
      try {
        // Kysely's PostgresAdapter holds a session advisory lock (pg_advisory_lock) around the run,
        // and runs the migrations in one transaction: several processes starting together apply
        // each migration once, the others wait and then find nothing to do
        const result = await new Migrator({
          db,
          provider: { getMigrations: async () => postgresMigrations },
          // parallel branches add dated migrations; one that lands later with an earlier name still runs
          allowUnorderedMigrations: true
        }).migrateToLatest()
        if (result.error !== undefined) {
          const failed = result.results?.find((r) => r.status === 'Error')
          const reason = result.error instanceof Error ? result.error.message : String(result.error)
          throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${reason}`, { cause: result.error })
        }
      } finally {
        await db.destroy()
      }
    },

    async ping () {
      let timer: NodeJS.Timeout | undefined
      const query = pool.query('select 1')
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => { reject(new Error('the database did not answer the ping in time')) }, PING_TIMEOUT_MS)
      })
      // the query may still settle after the timeout: its outcome no longer matters
      query.catch(() => {})
      try {
        await Promise.race([query, timeout])
      } finally {
        clearTimeout(timer)
      }
    },

    isUnavailable,

    async close () {
      closed ??= wakeups.close().then(async () => { await base.destroy() })
      await closed
    }
  }
}
