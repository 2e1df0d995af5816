import type { Compilable } from 'kysely'
import type { ChangeSource, CompiledQuery, Engine } from './engine/engine.js'
import { notFound } from '../domain/errors.js'

/** Bounded: a scan over many ids empties it rather than growing memory. */
const RECORD_CACHE_LIMIT = 10_000

/**
 * A resource's single-record read (`find`, and `get` that answers 404), by (account, id), kept in memory until the database changes. Reading one row
 * builds a fresh object column by column in better-sqlite3, which on the request path costs more
 * than everything else of a `GET x.php?id=` together; most reads of reference data repeat. Every
 * lookup first asks the engine's change source (db/engine/sqlite/change-watch.ts), or takes the version its caller read, and
 * the whole cache is dropped when any connection in any process has committed since, so a read
 * never returns anything older than the last commit before that look. Entries are frozen: callers share them.
 */
export class RecordCache<Row, V extends object> {
  readonly #byId: CompiledQuery<Row, 'id' | 'accountId'>
  /** none when the engine cannot tell cheaply that nothing changed (PostgreSQL): then every lookup loads */
  readonly #changes: ChangeSource | undefined
  readonly #entries = new Map<string, V>()
  #version = -1

  /**
   * @param byId the resource's row query, filtered by `param('id')` and `param('accountId')`
   * @param toRecord the row as the API shows it
   * @param what the resource in a 404 message, e.g. 'Cost code'
   */
  constructor (engine: Engine, byId: (param: (name: 'id' | 'accountId') => any) => Compilable<Row>, private readonly toRecord: (row: Row) => V, private readonly what: string) {
    this.#byId = engine.compile(byId)
    this.#changes = engine.changes
  }

  async #load (accountId: number, id: number): Promise<V | undefined> {
    const row = await this.#byId.readFirst({ id, accountId })
    return row === undefined ? undefined : this.toRecord(row)
  }

  /** The record, or 404 not_found (also for another account's id). */
  async get (accountId: number, id: number, asOf?: number): Promise<V> {
    const found = await this.find(accountId, id, asOf)
    if (found === undefined) throw notFound(`${this.what} ${id}`)
    return found
  }

  /**
   * @param asOf a version of the change watch the caller has already read (the API reads it once per
   *   request, when it authenticates the key): the answer is then at least as new as the database
   *   was at that moment, without reading the watch again. Without it, the watch is read now.
   */
  async find (accountId: number, id: number, asOf?: number): Promise<V | undefined> {
    if (this.#changes === undefined) return await this.#load(accountId, id)
    asOf ??= this.#changes.version()
    if (asOf > this.#version) {
      this.#entries.clear()
      this.#version = asOf
    }
    const key = `${accountId}:${id}`
    const cached = this.#entries.get(key)
    if (cached !== undefined) return cached
    const version = this.#version
    const loaded = await this.#load(accountId, id)
    // A row read now is at least as new as every version seen so far, so it may be kept under the
    // current one, unless a newer version was seen during the load (reads can wait without a read
    // connection): then the row may be older than that.
    if (loaded !== undefined && this.#version === version) {
      if (this.#entries.size >= RECORD_CACHE_LIMIT) this.#entries.clear()
      this.#entries.set(key, Object.freeze(loaded))
    }
    return loaded
  }
}
