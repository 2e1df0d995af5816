import type { Compilable, CompiledQuery, Kysely } from 'kysely'

/**
 * A query whose shape is built and compiled once, then run with new parameter values.
 * Building and compiling a Kysely query costs more than executing its cached prepared statement,
 * so hot-path queries (the key lookup, a single-row read) are kept in this form.
 * Parameters are positional, in the order the builder added them.
 */
export interface Precompiled<Row> {
  execute (...parameters: unknown[]): Promise<Row[]>
  first (...parameters: unknown[]): Promise<Row | undefined>
}

export function precompile<DB, Row> (db: Kysely<DB>, query: Compilable<Row>): Precompiled<Row> {
  const compiled: CompiledQuery<Row> = query.compile()
  const arity = compiled.parameters.length
  const execute = async (...parameters: unknown[]): Promise<Row[]> => {
    if (parameters.length !== arity) {
      throw new Error(`precompiled query takes ${arity} parameters, got ${parameters.length}`)
    }
    const result = await db.executeQuery<Row>({ ...compiled, parameters })
    return result.rows
  }
  return {
    execute,
    first: async (...parameters) => (await execute(...parameters))[0]
  }
}
