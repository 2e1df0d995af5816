import { AsyncLocalStorage } from 'node:async_hooks'
import type { Kysely, KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely'
import type { Database } from '../types.js'

type UnitFn<T> = (trx: Kysely<Database>) => Promise<T>

/**
 * Work that must commit in the same transaction as the writes a caller makes (a request's stored
 * response with the request's work: plugins/idempotency.ts). Set around the caller with
 * `withUnitExtension`; every `engine.write` started inside applies it to its unit.
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

/** The extension set around the caller, read in the caller's async context. */
export function currentExtension (): UnitExtension | undefined {
  return extensions.getStore()
}

/** Set while a write unit's `fn` runs (and in everything it awaits). */
const insideWrite = new AsyncLocalStorage<true>()

export const NESTED_WRITE = 'engine.write() was called inside a write: pass the trx you were given to the store\'s …In(trx, …) method instead'
export const DB_INSIDE_WRITE = 'a query on engine.db ran inside engine.write(): use the trx the write gave you (engine.db reads outside the transaction, and on SQLite it would wait for the write forever)'

/** Throws when called inside a write unit: engines call it before starting one. */
export function refuseNestedWrite (): void {
  if (insideWrite.getStore() === true) throw new Error(NESTED_WRITE)
}

/** Runs a write unit's `fn` marked as inside a write. */
export async function runAsWrite<T> (fn: () => Promise<T>): Promise<T> {
  return await insideWrite.run(true, fn)
}

/** Throws when called inside a write unit: for reads that bypass Kysely (compiled `read`). */
export function refuseInsideWrite (): void {
  if (insideWrite.getStore() === true) throw new Error(DB_INSIDE_WRITE)
}

/**
 * The plugin on the `engine.db` that resource modules see: a query built on it inside a write unit
 * throws at once. The engines run their transactions on an instance without it.
 */
export class OutsideWriteOnly implements KyselyPlugin {
  transformQuery (args: PluginTransformQueryArgs): RootOperationNode {
    refuseInsideWrite()
    return args.node
  }

  async transformResult (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result
  }
}
