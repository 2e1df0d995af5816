import type { PostgresPool, PostgresPoolClient } from 'kysely'
import type pg from 'pg'
import type { CompileOptions } from '../engine.js'

/** a bound on the names one engine hands out: compiled queries are a fixed set of shapes */
const MAX_STATEMENTS = 1_000

/** `*` as a column list (`select *`, `returning *`, `"t".*`), not `count(*)` */
const STAR_COLUMNS = /(?:^|[\s,])(?:"[^"]*"\.)?\*(?=[\s,]|$)/

/** marks the text of an unanswered statement (a comment: PostgreSQL ignores it) */
const UNANSWERED = ' /* unanswered */'

/** what Kysely's transaction sends to open one (PostgresDriver#beginTransaction, no settings) */
const BEGIN = 'begin'
const ENDS_TRANSACTION = new Set(['commit', 'rollback'])

/**
 * The compiled queries (engine.compile) as named, prepared statements, and the connections that
 * Kysely's PostgresDialect sees, which send some statements ahead.
 *
 * Prepared: each connection parses and plans a compiled query once and then only binds it, where
 * an unnamed statement is parsed and planned on every run (for a clock event's joins the planning
 * costs several times the execution). A query whose result columns are `*` is never prepared: a
 * column added by a rolling deploy's migration would fail the prepared statement with "cached plan
 * must not change result type"; with the columns listed, a new column changes nothing. Queries
 * built per call (not compiled) stay unnamed.
 *
 * Sent ahead: on these machines a round trip (writing to the server, waking it, being woken by its
 * answer) costs more than the statement, and a write's BEGIN and its unanswered statements (an
 * outbox INSERT) need no answer before the next statement. So a write's connection sends them
 * without waiting (pg's pipeline mode) and the next statement reports their outcome: BEGIN goes
 * with the write's first statement, an outbox INSERT with the COMMIT. PostgreSQL runs them in
 * order as ever; one that fails aborts the transaction, so the statement after it fails too (a
 * COMMIT rolls back), and the write fails with the first failure's own error.
 */
export class PreparedStatements {
  readonly #names = new Map<string, string>()
  readonly #unanswered = new Set<string>()

  /**
   * Prepares a compiled query's `sql` from now on, if it can be, and returns the text to send. An
   * unanswered one (sent ahead inside a write) gets a text of its own, marked, so that a query
   * that merely has the same SQL, built per call or compiled without the option, is never taken for it.
   */
  register (sql: string, options: CompileOptions = {}): string {
    const text = options.unanswered === true ? sql + UNANSWERED : sql
    if (options.unanswered === true) this.#unanswered.add(text)
    if (!this.#names.has(text) && this.#names.size < MAX_STATEMENTS && !STAR_COLUMNS.test(text)) {
      this.#names.set(text, `tempclock_${this.#names.size + 1}`)
    }
    return text
  }

  /** pg's query config: named when `text` is a registered query. */
  config (text: string, values: readonly unknown[]): pg.QueryConfig {
    const name = this.#names.get(text)
    return name === undefined ? { text, values: values as unknown[] } : { name, text, values: values as unknown[] }
  }

  /**
   * `pool` as Kysely's PostgresDialect sees it: its clients send registered queries by name, and
   * send BEGIN and unanswered statements ahead. The pool's clients must be in pipeline mode.
   */
  kyselyPool (pool: pg.Pool): PostgresPool {
    // one wrapper per pg client for its whole life: Kysely keys its per-connection state on it
    const wrappers = new WeakMap<pg.PoolClient, PipelinedClient>()
    const wrap = (client: pg.PoolClient): PipelinedClient => {
      let wrapper = wrappers.get(client)
      if (wrapper === undefined) {
        wrapper = new PipelinedClient(client, this, this.#unanswered)
        wrappers.set(client, wrapper)
      }
      return wrapper
    }
    return {
      connect: async () => wrap(await pool.connect()),
      end: async () => { await pool.end() }
    }
  }
}

/** One pooled connection as Kysely uses it, one query at a time. */
class PipelinedClient implements PostgresPoolClient {
  /** statements sent without waiting, whose outcome the next statement reports */
  #ahead: Array<Promise<pg.QueryResult>> = []
  #inTransaction = false

  constructor (
    private readonly client: pg.PoolClient,
    private readonly statements: PreparedStatements,
    private readonly unanswered: ReadonlySet<string>
  ) {}

  // Kysely's PostgresPoolClient types `query` with overloads for pg's result types
  query = ((text: string, values: readonly unknown[]) => this.#send(text, values)) as unknown as PostgresPoolClient['query']

  release (destroy?: boolean): void {
    // a write always ends with COMMIT or ROLLBACK, which reads whatever was sent ahead
    this.#ahead = []
    this.#inTransaction = false
    this.client.release(destroy)
  }

  #send (text: string, values: readonly unknown[]): Promise<pg.QueryResult> {
    const sent = this.client.query(this.statements.config(text, values))
    if (text === BEGIN || (this.#inTransaction && this.unanswered.has(text))) {
      this.#inTransaction = true
      // its failure is reported by the statement after it
      sent.catch(() => {})
      this.#ahead.push(sent)
      return Promise.resolve(text === BEGIN ? begun() : noAnswer())
    }
    if (ENDS_TRANSACTION.has(text)) this.#inTransaction = false
    if (this.#ahead.length === 0) return sent
    const ahead = this.#ahead
    this.#ahead = []
    // pg may reject it before the statements ahead of it are answered (a value it cannot
    // serialise): it is awaited after them, and must not count as unhandled meanwhile
    sent.catch(() => {})
    return this.#after(ahead, text, sent)
  }

  /** `sent`'s answer, unless a statement sent ahead of it failed: then that one's error. */
  async #after (ahead: ReadonlyArray<Promise<pg.QueryResult>>, text: string, sent: Promise<pg.QueryResult>): Promise<pg.QueryResult> {
    let failure: { err: unknown } | undefined
    for (const statement of ahead) {
      try {
        await statement
      } catch (err) {
        failure ??= { err }
      }
    }
    // a ROLLBACK was going to undo them anyway
    if (failure === undefined || text === 'rollback') return await sent
    // every answer is read before the connection goes back to the pool
    await sent.catch(() => {})
    throw failure.err
  }
}

/** What Kysely is told at once for BEGIN and for an unanswered statement (it reads `command`, `rowCount` and `rows`): new each time, as pg's are. */
const begun = (): pg.QueryResult => ({ command: 'BEGIN', rowCount: null, rows: [], oid: 0, fields: [] }) as unknown as pg.QueryResult
const noAnswer = (): pg.QueryResult => ({ command: undefined, rowCount: null, rows: [], oid: 0, fields: [] }) as unknown as pg.QueryResult
