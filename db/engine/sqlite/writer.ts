import { sql, type Kysely } from 'kysely'
import type { Database } from '../../types.js'
import { runAsWrite } from '../write-scope.js'

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
 *
 * `BEGIN IMMEDIATE`: a deferred BEGIN that reads and then writes fails at once with SQLITE_BUSY
 * when another process wrote in between; IMMEDIATE takes the write lock first, so a second
 * process waits its busy_timeout and then reads what the first committed.
 *
 * Each unit's `fn` runs marked as inside a write (db/engine/write-scope.ts), so a query on the
 * engine's `db` or a nested write inside it throws instead of waiting for this batch forever.
 */
export class WriteBatcher {
  readonly #queue: WriteUnit[] = []
  #scheduled = false
  #running = false

  /** @param db the unguarded Kysely instance on the writing connection */
  constructor (private readonly db: Kysely<Database>) {}

  async run<T> (fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
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
  const call = async (): Promise<unknown> => await runAsWrite(async () => await unit.fn(trx))
  if (!shared) {
    try {
      return { ok: true, value: await call() }
    } catch (error) {
      return { ok: false, error }
    }
  }
  await sql`savepoint unit`.execute(trx)
  try {
    const value = await call()
    await sql`release unit`.execute(trx)
    return { ok: true, value }
  } catch (error) {
    await sql`rollback to unit`.execute(trx)
    await sql`release unit`.execute(trx)
    return { ok: false, error }
  }
}
