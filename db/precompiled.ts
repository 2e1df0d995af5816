import type { Compilable, CompiledQuery, Kysely } from 'kysely'

/**
 * Queries whose shape is built and compiled once, then run with new parameter values. Building
 * and compiling a Kysely query costs more than executing its cached prepared statement, so
 * hot-path queries (the key lookup, a single-row read, the clock's reads and writes) are kept in
 * this form. Parameters are positional, in the order the builder added them.
 *
 * - `compileOnce(query)` runs on whatever executor each call names: the app's Kysely instance or
 *   a transaction's `trx` (inside `writeTransaction`, where the instance's connection is taken).
 * - `precompile(db, query)` is the same query bound to one Kysely instance, for reads outside a
 *   transaction; it delegates to `compileOnce`.
 */
export interface Compiled<Row> {
  all<DB> (on: Kysely<DB>, ...parameters: unknown[]): Promise<Row[]>
  first<DB> (on: Kysely<DB>, ...parameters: unknown[]): Promise<Row | undefined>
}

export interface Precompiled<Row> {
  execute (...parameters: unknown[]): Promise<Row[]>
  first (...parameters: unknown[]): Promise<Row | undefined>
}

export function compileOnce<Row> (query: Compilable<Row>): Compiled<Row> {
  const compiled: CompiledQuery<Row> = query.compile()
  const arity = compiled.parameters.length
  const all = async <DB>(on: Kysely<DB>, ...parameters: unknown[]): Promise<Row[]> => {
    if (parameters.length !== arity) throw new Error(`compiled query takes ${arity} parameters, got ${parameters.length}`)
    return (await on.executeQuery<Row>({ ...compiled, parameters })).rows
  }
  return { all, first: async (on, ...parameters) => (await all(on, ...parameters))[0] }
}

export function precompile<DB, Row> (db: Kysely<DB>, query: Compilable<Row>): Precompiled<Row> {
  const compiled = compileOnce(query)
  return {
    execute: async (...parameters) => await compiled.all(db, ...parameters),
    first: async (...parameters) => await compiled.first(db, ...parameters)
  }
}
