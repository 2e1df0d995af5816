import { SelectQueryNode, type Compilable, type CompiledQuery, type Kysely } from 'kysely'
import { readerFor } from './connection.js'
import type { Database } from './types.js'

/**
 * A query whose shape is built and compiled once, then run with new parameter values.
 * Building and compiling a Kysely query costs more than executing its cached prepared statement,
 * so hot-path queries (the key lookup, a single-row read) are kept in this form.
 * Parameters are positional, in the order the builder added them.
 *
 * A SELECT runs on the database's read connection when it has one (db/connection.ts): the last
 * committed state, synchronously, without queueing behind the writer. Other statements go
 * through Kysely's driver on the main connection.
 */
export interface Precompiled<Row> {
  execute (...parameters: unknown[]): Promise<Row[]>
  first (...parameters: unknown[]): Promise<Row | undefined>
}

export function precompile<Row> (db: Kysely<Database>, query: Compilable<Row>): Precompiled<Row> {
  const compiled: CompiledQuery<Row> = query.compile()
  const arity = compiled.parameters.length
  const reader = SelectQueryNode.is(compiled.query) ? readerFor(db) : undefined
  const execute = async (...parameters: unknown[]): Promise<Row[]> => {
    if (parameters.length !== arity) {
      throw new Error(`precompiled query takes ${arity} parameters, got ${parameters.length}`)
    }
    if (reader !== undefined) return reader.prepare(compiled.sql).all(parameters) as Row[]
    const result = await db.executeQuery<Row>({ ...compiled, parameters })
    return result.rows
  }
  return {
    execute,
    first: async (...parameters) => (await execute(...parameters))[0]
  }
}
