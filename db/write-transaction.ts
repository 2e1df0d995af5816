import { AsyncLocalStorage } from 'node:async_hooks'
import { sql, type Kysely } from 'kysely'
import type { Database } from './types.js'

/** the most write units one commit carries */
export const MAX_BATCH = 256

interface WriteUnit {
  fn: (trx: Kysely<Database>) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

type Outcome = { ok: true, value: unknown } | { ok: false, error: unknown }

/**
 * Group commit. With synchronous=FULL every COMMIT waits for the disk (an fsync: a few hundred per
 * second on this kind of machine), so one transaction per request caps the API at the disk's
 * fsync rate. Instead, the write units that arrive in the same turn of the event loop share one
 * `BEGIN IMMEDIATE … COMMIT`, each inside its own SAVEPOINT: a unit that throws rolls back only
 * its own changes and gets its own error; the others commit together. Nobody is answered before
 * the COMMIT is on disk, so an acknowledged write is durable exactly as with one commit each.
 */
class WriteBatcher {
  readonly #queue: WriteUnit[] = []
  #scheduled = false
  #running = false

  constructor (private readonly db: Kysely<Database>) {}

  run<T> (fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject })
      this.#schedule()
    })
  }

  #schedule (): void {
    if (this.#scheduled || this.#running) return
    this.#scheduled = true
    // setImmediate, not a microtask: requests already read from sockets join this batch
    setImmediate(() => {
      this.#scheduled = false
      this.#running = true
      const batch = this.#queue.splice(0, MAX_BATCH)
      this.#commit(batch).finally(() => {
        this.#running = false
        if (this.#queue.length > 0) this.#schedule()
      })
    })
  }

  async #commit (batch: WriteUnit[]): Promise<void> {
    let outcomes: Outcome[]
    try {
      outcomes = await this.db.connection().execute(async (trx) => {
        await sql`begin immediate`.execute(trx)
        const results: Outcome[] = []
        try {
          for (const unit of batch) results.push(await runUnit(trx, unit, batch.length > 1))
          if (batch.length === 1 && !results[0]!.ok) {
            await sql`rollback`.execute(trx)
            return results
          }
        } catch (err) {
          await sql`rollback`.execute(trx).catch(() => {})
          throw err
        }
        await sql`commit`.execute(trx)
        return results
      })
    } catch (err) {
      // BEGIN or COMMIT failed (busy past the timeout, disk error): nothing of the batch is written
      for (const unit of batch) unit.reject(err)
      return
    }
    batch.forEach((unit, i) => {
      const outcome = outcomes[i]!
      if (outcome.ok) unit.resolve(outcome.value)
      else unit.reject(outcome.error)
    })
  }
}

/** One unit in its savepoint (when it shares the transaction); a failed rollback aborts the batch. */
async function runUnit (trx: Kysely<Database>, unit: WriteUnit, shared: boolean): Promise<Outcome> {
  if (!shared) {
    try {
      return { ok: true, value: await unit.fn(trx) }
    } catch (error) {
      return { ok: false, error }
    }
  }
  await sql`savepoint unit`.execute(trx)
  try {
    const value = await unit.fn(trx)
    await sql`release unit`.execute(trx)
    return { ok: true, value }
  } catch (error) {
    await sql`rollback to unit`.execute(trx)
    await sql`release unit`.execute(trx)
    return { ok: false, error }
  }
}

const batchers = new WeakMap<Kysely<Database>, WriteBatcher>()

type UnitFn<T> = (trx: Kysely<Database>) => Promise<T>

/**
 * Work that must commit in the same transaction as the writes a caller makes (a request's stored
 * response with the request's work: plugins/idempotency.ts). Set around the caller with
 * `withUnitExtension`; every writeTransaction started inside applies it to its unit.
 */
export interface UnitExtension {
  /** the unit as it will run: `fn`, plus whatever must commit with it */
  extend: <T>(fn: UnitFn<T>) => UnitFn<T>
  /** called once the extended unit's COMMIT is durable */
  committed: () => void
}

const extensions = new AsyncLocalStorage<UnitExtension>()

/** Runs `work` so that every write unit it starts is extended by `extension`. */
export async function withUnitExtension<T> (extension: UnitExtension, work: () => Promise<T>): Promise<T> {
  return await extensions.run(extension, work)
}

/**
 * Runs `fn` as one atomic write: it commits in full or not at all, and the promise settles only
 * after the COMMIT is durable. Transactions are `BEGIN IMMEDIATE` (a deferred BEGIN that reads and
 * then writes fails at once with SQLITE_BUSY when another process wrote in between; IMMEDIATE
 * takes the write lock first, so a second process waits its busy_timeout and then reads what the
 * first committed) and are shared by the writes of one event-loop turn (group commit, above).
 * Inside `fn`, use only the `trx` it is given, and never call writeTransaction again: the app has
 * one connection and the batch is holding it.
 */
export async function writeTransaction<T> (db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  // a caller already inside a transaction must pass its trx to the store's `…In(trx, …)` method
  if (db.isTransaction) throw new Error('writeTransaction needs the database, not a transaction: use the store\'s …In(trx) method')
  let batcher = batchers.get(db)
  if (batcher === undefined) {
    batcher = new WriteBatcher(db)
    batchers.set(db, batcher)
  }
  // read now, in the caller's async context: the batch runs the unit from another one
  const extension = extensions.getStore()
  if (extension === undefined) return await batcher.run(fn)
  const value = await batcher.run(extension.extend(fn))
  extension.committed()
  return value
}
