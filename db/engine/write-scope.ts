import { AsyncLocalStorage } from 'node:async_hooks'
import type { Kysely, KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely'
import type { Database } from '../types.js'

type UnitFn<T> = (trx: Kysely<Database>) => Promise<T>

/**
 * Work that must commit in the same transaction as a caller's write (a request's stored response
 * with the request's work: plugins/idempotency.ts). The caller hands it to `engine.write(fn, {
 * extension })`, through the store method that makes the write.
 */
export interface UnitExtension {
  /** the unit as it will run: `fn`, plus whatever must commit with it */
  extend: <T>(fn: UnitFn<T>) => UnitFn<T>
  /** called once the extended unit's COMMIT is durable */
  committed: () => void
}

/**
 * What a caller may add to one `engine.write`. A store method whose write may carry a request's
 * Idempotency-Key takes it as its last parameter and passes it on unchanged.
 */
export interface WriteOptions {
  /** work that commits in the same transaction as the unit */
  extension?: UnitExtension
}

/** The unit to run for `fn` with `options`, and what to call once it committed. */
export function extendedUnit<T> (fn: UnitFn<T>, options: WriteOptions | undefined): { unit: UnitFn<T>, committed: () => void } {
  const extension = options?.extension
  if (extension === undefined) return { unit: fn, committed: noop }
  return { unit: extension.extend(fn), committed: () => { extension.committed() } }
}

function noop (): void {}

export const NESTED_WRITE = 'engine.write() was called inside a write: pass the trx you were given to the store\'s …In(trx, …) method instead'
export const DB_INSIDE_WRITE = 'a query on engine.db ran inside engine.write(): use the trx the write gave you (engine.db reads outside the transaction, and cannot see what the unit has written)'

/**
 * The engine's misuse check: a query on `engine.db` inside a write, or a write inside a write,
 * throws at once with what to do instead. It marks the code a write unit runs with an
 * AsyncLocalStorage, and on Node 20 the first `run` of one turns on promise hooks for the whole
 * process: every promise afterwards pays, about a third of the clock throughput. So it is a
 * development and test check, off in production (docs/operations.md, TEMPCLOCK_WRITE_GUARD); off,
 * it creates no AsyncLocalStorage and its methods do nothing. Without it, the same mistakes fail
 * late instead of at once, but still never hang (each engine's `write` says how).
 */
export interface WriteGuard {
  readonly on: boolean
  /** throws inside a write unit: engines call it before starting one */
  refuseNestedWrite: () => void
  /** throws inside a write unit: for reads that bypass Kysely (compiled `read`) */
  refuseInsideWrite: () => void
  /** runs a write unit's `fn` marked as inside a write */
  runAsWrite: <T>(fn: () => Promise<T>) => Promise<T>
  /** `db` as resource modules see it: with the guard on, a query built on it inside a write throws */
  outsideWriteOnly: (db: Kysely<Database>) => Kysely<Database>
}

const OFF: WriteGuard = {
  on: false,
  refuseNestedWrite: noop,
  refuseInsideWrite: noop,
  runAsWrite: async (fn) => await fn(),
  outsideWriteOnly: (db) => db
}

/** The guard of one engine: `on` for development and tests, off in production. */
export function writeGuard (on: boolean): WriteGuard {
  if (!on) return OFF
  const insideWrite = new AsyncLocalStorage<true>()
  const refuseInsideWrite = (): void => {
    if (insideWrite.getStore() === true) throw new Error(DB_INSIDE_WRITE)
  }
  return {
    on: true,
    refuseNestedWrite () {
      if (insideWrite.getStore() === true) throw new Error(NESTED_WRITE)
    },
    refuseInsideWrite,
    runAsWrite: async (fn) => await insideWrite.run(true, fn),
    outsideWriteOnly: (db) => db.withPlugin(new OutsideWriteOnly(refuseInsideWrite))
  }
}

/** The plugin behind `outsideWriteOnly`: a query built on that instance inside a write unit throws. */
class OutsideWriteOnly implements KyselyPlugin {
  constructor (private readonly refuse: () => void) {}

  transformQuery (args: PluginTransformQueryArgs): RootOperationNode {
    this.refuse()
    return args.node
  }

  async transformResult (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result
  }
}
