import { SelectQueryNode, type Compilable, type CompiledQuery, type Kysely } from 'kysely'
import { readerFor } from './connection.js'
import type { Database } from './types.js'

/**
 * Queries whose shape is built and compiled once, then run with new parameter values. Building
 * and compiling a Kysely query costs more than executing its cached prepared statement, so
 * hot-path queries (the key lookup, a single-row read, the clock's reads and writes) are kept in
 * this form. Parameters are positional, in the order the builder added them.
 *
 * - `compileOnce(query)` runs on whatever executor each call names: the app's Kysely instance or
 *   a transaction's `trx` (inside `writeTransaction`, where the instance's connection is taken).
 *   It always goes through Kysely's driver on that executor's connection.
 * - `precompile(db, query)` is the same compiled query bound to one Kysely instance, for reads
 *   outside a transaction. A SELECT runs on the database's read connection when it has one
 *   (db/connection.ts): the last committed state, synchronously, without queueing behind the
 *   writer. Other statements go through Kysely's driver on the main connection.
 */
export interface Compiled<Row> {
  /** the statement: its SQL, and the builder's placeholder parameters */
  readonly statement: CompiledQuery<Row>
  all<DB> (on: Kysely<DB>, ...parameters: unknown[]): Promise<Row[]>
  first<DB> (on: Kysely<DB>, ...parameters: unknown[]): Promise<Row | undefined>
}

export interface Precompiled<Row> {
  execute (...parameters: unknown[]): Promise<Row[]>
  first (...parameters: unknown[]): Promise<Row | undefined>
}

function checkArity (statement: CompiledQuery<unknown>, parameters: unknown[]): void {
  const arity = statement.parameters.length
  if (parameters.length !== arity) throw new Error(`compiled query takes ${arity} parameters, got ${parameters.length}`)
}

export function compileOnce<Row> (query: Compilable<Row>): Compiled<Row> {
  const statement: CompiledQuery<Row> = query.compile()
  const all = async <DB>(on: Kysely<DB>, ...parameters: unknown[]): Promise<Row[]> => {
    checkArity(statement, parameters)
    return (await on.executeQuery<Row>({ ...statement, parameters })).rows
  }
  return { statement, all, first: async (on, ...parameters) => (await all(on, ...parameters))[0] }
}

export function precompile<Row> (db: Kysely<Database>, query: Compilable<Row>): Precompiled<Row> {
  const compiled = compileOnce(query)
  const { statement } = compiled
  const reader = SelectQueryNode.is(statement.query) ? readerFor(db) : undefined
  const execute = reader === undefined
    ? async (...parameters: unknown[]): Promise<Row[]> => await compiled.all(db, ...parameters)
    : async (...parameters: unknown[]): Promise<Row[]> => {
      checkArity(statement, parameters)
      return reader.prepare(statement.sql).all(parameters) as Row[]
    }
  return {
    execute,
    first: async (...parameters) => (await execute(...parameters))[0]
  }
}
