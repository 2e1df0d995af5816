import { sql, type Kysely } from 'kysely'
import type { Database } from '../../types.js'
import type { WriteGuard } from '../write-scope.js'

/** the most write units one commit carries */
export const MAX_BATCH = 256

/** how long a write waits behind a batch that has not finished before it is refused (PostgreSQL's statement timeout) */
export const WRITE_WAIT_LIMIT_MS = 10_000

/** A write refused because the batch ahead of it ran past the limit: never a hang. */
export class WriteWaitExceeded extends Error {
  constructor (limitMs: number) {
    super(`a write waited more than ${limitMs} ms behind a write unit that has not finished: most likely a write was started inside a write ` +
      '(engine.write() called, or a query on engine.db awaited, inside an engine.write() unit: pass the unit\'s trx to the store\'s …In(trx, …) method instead)')
    this.name = 'WriteWaitExceeded'
  }
}

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
 * With the write guard on, each unit's `fn` runs marked as inside a write (db/engine/write-scope.ts),
 * so a nested write inside it throws at once. Without the guard, a unit that starts a write and
 * waits for it would wait for its own batch forever; instead the waits are bounded: once a batch
 * has run `waitLimitMs`, the units queued behind it are refused (WriteWaitExceeded), which fails
 * the unit that waited for one of them, and lets the batch finish.
 */
export class WriteBatcher {
  readonly #queue: WriteUnit[] = []
  #scheduled = false
  #running = false
  /** set while a batch has run past the limit: writes are refused at once until it ends */
  #overdue = false
  #timer: NodeJS.Timeout | undefined

  /**
   * @param db the unguarded Kysely instance on the writing connection
   * @param waitLimitMs how long a running batch may keep the queued units waiting
   */
  constructor (
    private readonly db: Kysely<Database>,
    private readonly guard: WriteGuard,
    private readonly waitLimitMs = WRITE_WAIT_LIMIT_MS
  ) {}

  async run<T> (fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    if (this.#overdue) throw new WriteWaitExceeded(this.waitLimitMs)
    return await new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject })
      this.#schedule()
    })
  }

  #startBatch (): void {
    this.#running = true
    this.#timer = setTimeout(() => {
      this.#overdue = true
      const waiting = this.#queue.splice(0)
      for (const unit of waiting) unit.reject(new WriteWaitExceeded(this.waitLimitMs))
    }, this.waitLimitMs)
    // a stuck batch must not keep the process alive on its own
    this.#timer.unref()
  }

  #endBatch (): void {
    clearTimeout(this.#timer)
    this.#overdue = false
    this.#running = false
  }

  #schedule (): void {
    if (this.#scheduled || this.#running) return
    this.#scheduled = true
    // setImmediate, not a microtask: requests already read from sockets join this batch
    setImmediate(() => {
      this.#scheduled = false
      const batch = this.#queue.splice(0, MAX_BATCH)
      if (batch.length === 0) return
      this.#startBatch()
      this.#commit(batch).finally(() => {
        this.#endBatch()
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
          for (const unit of batch) results.push(await runUnit(trx, unit, batch.length > 1, this.guard))
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
async function runUnit (trx: Kysely<Database>, unit: WriteUnit, shared: boolean, guard: WriteGuard): Promise<Outcome> {
  const call = async (): Promise<unknown> => await guard.runAsWrite(async () => await unit.fn(trx))
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
