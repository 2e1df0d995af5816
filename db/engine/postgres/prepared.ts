import type { PostgresPool, PostgresPoolClient } from 'kysely'
import type pg from 'pg'

/** a bound on the names one engine hands out: compiled queries are a fixed set of shapes */
const MAX_STATEMENTS = 1_000

/** `*` as a column list (`select *`, `returning *`, `"t".*`), not `count(*)` */
const STAR_COLUMNS = /(?:^|[\s,])(?:"[^"]*"\.)?\*(?=[\s,]|$)/

/**
 * The compiled queries (engine.compile) as named, prepared statements: each connection parses and
 * plans one once and then only binds it, where an unnamed statement is parsed and planned on every
 * run (for a clock event's joins the planning costs several times the execution). A query whose
 * result columns are `*` is never prepared: a column added by a rolling deploy's migration would
 * fail the prepared statement with "cached plan must not change result type"; with the columns
 * listed, a new column changes nothing. Queries built per call (not compiled) stay unnamed.
 */
export class PreparedStatements {
  readonly #names = new Map<string, string>()

  /** Prepares `text` from now on, if it can be. */
  register (text: string): void {
    if (this.#names.has(text) || this.#names.size >= MAX_STATEMENTS || STAR_COLUMNS.test(text)) return
    this.#names.set(text, `tempclock_${this.#names.size + 1}`)
  }

  /** pg's query config: named when `text` is a registered query. */
  config (text: string, values: readonly unknown[]): pg.QueryConfig {
    const name = this.#names.get(text)
    return name === undefined ? { text, values: values as unknown[] } : { name, text, values: values as unknown[] }
  }

  /** `pool` as Kysely's PostgresDialect sees it, its clients sending registered queries by name. */
  kyselyPool (pool: pg.Pool): PostgresPool {
    // one wrapper per pg client for its whole life: Kysely keys its per-connection state on it
    const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>()
    const wrap = (client: pg.PoolClient): PostgresPoolClient => {
      let wrapper = wrappers.get(client)
      if (wrapper === undefined) {
        wrapper = {
          query: (async (text: string, values: readonly unknown[]) => await client.query(this.config(text, values))) as unknown as PostgresPoolClient['query'],
          release: (...args: unknown[]) => { client.release(...args as [boolean?]) }
        }
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
