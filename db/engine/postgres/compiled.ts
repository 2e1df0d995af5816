import type { Compilable, Kysely } from 'kysely'
import type { Database } from '../../types.js'
import type { CompiledQuery, CompileOptions } from '../engine.js'
import { NamedStatement } from '../named-values.js'
import type { WriteGuard } from '../write-scope.js'
import type { PreparedStatements } from './prepared.js'

/**
 * A compiled query on PostgreSQL, prepared by `statements` (each connection parses and plans it
 * once). `read` goes to `query` (the pool, straight: on this hot path Kysely's executor costs
 * about half as much again as pg itself); `run` goes through the write's `trx`, whose connection
 * sends an unanswered statement ahead with the next one (./prepared.ts).
 */
export function compilePostgres<Row, Name extends string> (
  query: (sql: string, parameters: readonly unknown[]) => Promise<unknown[]>,
  statements: PreparedStatements,
  guard: WriteGuard,
  build: (param: (name: Name) => any) => Compilable<Row>,
  options: CompileOptions = {}
): CompiledQuery<Row, Name> {
  const named = new NamedStatement<Row, Name>(build, options)
  const statement = { ...named.statement, sql: statements.register(named.statement.sql, options) }

  const run = async (trx: Kysely<Database>, values: Record<Name, unknown>): Promise<Row[]> => {
    if (!trx.isTransaction) throw new Error('compiled run() needs the trx of a write; outside a write use read()')
    return (await trx.executeQuery<Row>({ ...statement, parameters: named.parameters(values) })).rows
  }
  const read = async (values: Record<Name, unknown>): Promise<Row[]> => {
    guard.refuseInsideWrite()
    return await query(statement.sql, named.parameters(values)) as Row[]
  }
  return {
    read,
    readFirst: async (values) => (await read(values))[0],
    run,
    runFirst: async (trx, values) => (await run(trx, values))[0]
  }
}
