import type { Compilable, Kysely, RawBuilder, SelectQueryBuilder, SqlBool } from 'kysely'
import type { Database } from '../types.js'
import type { WriteOptions } from './write-scope.js'

export type { UnitExtension, WriteOptions } from './write-scope.js'

/**
 * The one interface between the resource modules (db/<resource>.ts: plain Kysely plus a mapper)
 * and the database underneath. Two engines implement it:
 *
 * - `sqlite` (db/engine/sqlite/): one file, WAL, a single writer with group commit, a read
 *   connection, the change watch and the in-memory caches that it makes safe.
 * - `postgres` (db/engine/postgres/): a `pg` pool with Kysely's PostgresDialect, one transaction
 *   per write, advisory locks, no process-local caches (another process may write at any time).
 *
 * Rows look the same on both: booleans are `boolean`, timestamps are ISO-8601 UTC strings at
 * second precision (`2026-12-07T06:35:43Z`), dates are `YYYY-MM-DD`, JSON columns are their JSON
 * text, counts are numbers. Each engine converts at its own boundary (the SQLite statement
 * wrapper; the `pg` type parsers), so no resource module converts anything.
 *
 * Misuse throws at once, with what to do instead: a compiled query run with a missing or unknown
 * named value; and, with the write guard on (development and tests: db/engine/write-scope.ts), a
 * query on `db` inside `write()` or a `write()` inside a `write()`. With the guard off
 * (production) those two fail later but never hang: see each engine's `write`.
 */
export interface Engine {
  readonly dialect: 'sqlite' | 'postgres'

  /**
   * The query builder, for reads outside a write (and for building queries). Inside `write(fn)`
   * it throws (guard on): use the `trx` that `fn` is given. Writes go through `write`: on SQLite
   * with a file, `db` is the query-only read connection and refuses them.
   */
  readonly db: Kysely<Database>

  /**
   * One atomic, durable write: `fn` commits in full or not at all, and the promise settles after
   * the COMMIT is durable. Inside `fn`, use only `trx`. Calling `write` again inside `fn` throws
   * (pass `trx` to the store's `…In(trx, …)` method instead). `options.extension` (a request's
   * Idempotency-Key record, plugins/idempotency.ts) commits in the same transaction as `fn`: a
   * store method that a route calls through `sendWrite` takes the options as its last parameter
   * and passes them here unchanged.
   */
  write: <T>(fn: (trx: Kysely<Database>) => Promise<T>, options?: WriteOptions) => Promise<T>

  /**
   * A query whose shape is built and compiled once (on the hot path, building costs more than
   * running), then run with named values: `build(param)` uses `param('name')` wherever a value
   * goes. Running it with a value missing, or one the query does not use, throws.
   */
  compile: <Row, Name extends string>(build: (param: (name: Name) => any) => Compilable<Row>, options?: CompileOptions) => CompiledQuery<Row, Name>

  /**
   * Tells whether the database may have changed since a version was read: the caches that may
   * keep rows in memory (API keys, single records) are dropped when it moves. Undefined when the
   * engine cannot know cheaply (PostgreSQL, shared by other processes): then nothing is cached.
   */
  readonly changes: ChangeSource | undefined

  /**
   * Wakes a loop (the webhook deliveries) in the other processes that share the database:
   * PostgreSQL's LISTEN/NOTIFY. Undefined on SQLite, whose loop runs in the one server process;
   * a CLI's writes are found at its next poll.
   */
  readonly wakeups: Wakeups | undefined

  /** SQL that differs by dialect, for the resource modules. */
  readonly sql: DialectSql

  /** Applies pending migrations, once even when several processes start together. */
  migrate: () => Promise<void>

  /** Resolves when the database answers; rejects when it is unreachable (/ready). */
  ping: () => Promise<void>

  /**
   * Whether `err` means the database is unreachable or shutting down (connection refused or
   * lost, pool timeout), as opposed to a bad query: the API answers 503 service_unavailable.
   */
  isUnavailable: (err: unknown) => boolean

  close: () => Promise<void>
}

export interface CompileOptions {
  /**
   * Nothing reads what the statement answers (an outbox INSERT, which returns nothing): inside a
   * write, the engine need not wait for it before going on. PostgreSQL sends it together with the
   * write's next statement (usually its COMMIT), one round trip for both; if it fails, that next
   * statement fails with its error, and the write with it, committing nothing. Its `run` resolves
   * to no rows. Compiling a SELECT or a RETURNING clause this way throws.
   */
  unanswered?: boolean
}

export interface CompiledQuery<Row, Name extends string> {
  /** Outside a write: the last committed state (SQLite: on the read connection, synchronously). */
  read: (values: Record<Name, unknown>) => Promise<Row[]>
  readFirst: (values: Record<Name, unknown>) => Promise<Row | undefined>
  /** Inside a write, on its transaction. */
  run: (trx: Kysely<Database>, values: Record<Name, unknown>) => Promise<Row[]>
  runFirst: (trx: Kysely<Database>, values: Record<Name, unknown>) => Promise<Row | undefined>
}

export interface Wakeups {
  /** Wakes every other process listening on `channel` (lowercase letters, digits, `_`). */
  notify: (channel: string) => Promise<void>
  /**
   * Calls `fn` whenever another process notifies `channel`, and once after a lost connection is
   * back (what was sent meanwhile is not replayed). Resolves once listening, or after a failed
   * first attempt (it keeps trying); the function it resolves to stops the calls.
   */
  listen: (channel: string, fn: () => void) => Promise<() => void>
}

export interface ChangeSource {
  /** A number that moves whenever any connection in any process may have committed. */
  version: () => number
}

export interface DialectSql {
  /**
   * Whether `err` is a UNIQUE violation, on `column` ("table.column") when given; without it,
   * any UNIQUE violation.
   */
  isUniqueViolation: (err: unknown, column?: `${string}.${string}`) => boolean

  /** `column` contains `term` as an ASCII-case-insensitive substring, `%` and `_` literal. */
  containsText: (column: string, term: string) => RawBuilder<SqlBool>

  /**
   * The `search` list filter: `term` is a substring of one of `columns` of `table` (using the
   * table's search index where the engine has one).
   */
  matchesSearch: (table: string, columns: readonly string[], term: string) => RawBuilder<SqlBool>

  /** `column` (a JSON array of numbers) contains `value`. */
  jsonArrayContains: (column: string, value: number) => RawBuilder<SqlBool>

  /**
   * Rows a worker loop claims: locked for this transaction, skipping rows another process has
   * locked (PostgreSQL's FOR UPDATE SKIP LOCKED). With a join, `of` names the table (or alias)
   * whose rows are claimed, so the rows it is joined with stay free for other claims. SQLite's
   * single writer needs nothing.
   */
  claimable: <DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, of?: TB & string) => SelectQueryBuilder<DB, TB, O>

  /**
   * The rows `query` selects (of table `of` only, with a join), locked until the write's
   * transaction ends against another write locking them the same way: a read-then-write unit on
   * one row (a worker's clock event) is serial across processes, and reads its row in the same
   * statement that locks it. PostgreSQL's FOR NO KEY UPDATE, which still lets other writes insert
   * rows that reference the locked one. Statements after it see what the previous holder
   * committed; the statement itself does not, for the rows it joins. SQLite's single writer is
   * already serial.
   */
  lockedForWrite: <DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, of?: TB & string) => SelectQueryBuilder<DB, TB, O>

  /**
   * Serialises the transactions that take the same `key` (one Idempotency-Key, one document's
   * expiry) until `trx` ends: PostgreSQL's transaction-level advisory lock. SQLite's
   * single writer is already serial.
   */
  lockKey: (trx: Kysely<Database>, key: string) => Promise<void>
}
