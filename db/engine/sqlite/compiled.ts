import { SelectQueryNode, type Compilable, type Kysely } from 'kysely'
import type { Database } from '../../types.js'
import type { CompiledQuery, CompileOptions } from '../engine.js'
import { NamedStatement } from '../named-values.js'
import type { WriteGuard } from '../write-scope.js'
import type { StatementCachingDatabase } from './connection.js'

/**
 * A compiled query on SQLite. `read` runs a SELECT on the read connection when there is one (the
 * last committed state, synchronously, without queueing behind the writer), otherwise on the main
 * connection through Kysely; `run` runs on the write unit's transaction.
 */
export function compileSqlite<Row, Name extends string> (
  base: Kysely<Database>,
  reader: StatementCachingDatabase | undefined,
  guard: WriteGuard,
  build: (param: (name: Name) => any) => Compilable<Row>,
  options?: CompileOptions
): CompiledQuery<Row, Name> {
  // an unanswered statement runs like any other: the writer is in this process, no round trip to save
  const named = new NamedStatement<Row, Name>(build, options)
  const { statement } = named
  const isSelect = SelectQueryNode.is(statement.query)
  const read = async (values: Record<Name, unknown>): Promise<Row[]> => {
    guard.refuseInsideWrite()
    if (!isSelect) throw new Error('compiled query: read() is for SELECTs; a statement that writes runs inside engine.write() with run(trx, …)')
    const parameters = named.parameters(values)
    if (reader !== undefined) return reader.prepare(statement.sql).all(parameters) as Row[]
    return (await base.executeQuery<Row>({ ...statement, parameters })).rows
  }
  const run = async (trx: Kysely<Database>, values: Record<Name, unknown>): Promise<Row[]> =>
    (await trx.executeQuery<Row>({ ...statement, parameters: named.parameters(values) })).rows
  return {
    read,
    readFirst: async (values) => (await read(values))[0],
    run,
    runFirst: async (trx, values) => (await run(trx, values))[0]
  }
}
