import type { Compilable, CompiledQuery as KyselyCompiledQuery, Kysely } from 'kysely'
import type { Database } from '../../types.js'
import type { CompiledQuery } from '../engine.js'
import type { WriteGuard } from '../write-scope.js'

/** What `param(name)` puts where a value goes; replaced by the named value on each run. */
class NamedValue {
  constructor (readonly name: string) {}
}

type Slot = { name: string } | { value: unknown }

/**
 * A query compiled once, run with named values. Its parameters are the builder's values in the
 * order the SQL uses them; each is either a `param()` marker (filled from `values` by name) or a
 * constant the builder was given. `read` goes to `query` (the pool, straight: on this hot path
 * Kysely's executor costs about half as much again as pg itself); `run` goes through the write's `trx`.
 */
export function compileNamed<Row, Name extends string> (
  query: (sql: string, parameters: readonly unknown[]) => Promise<unknown[]>,
  guard: WriteGuard,
  build: (param: (name: Name) => any) => Compilable<Row>,
  /** told each compiled query's SQL once (the engine prepares it) */
  register: (sql: string) => void = () => {}
): CompiledQuery<Row, Name> {
  const compiled = build((name) => new NamedValue(name)).compile()
  register(compiled.sql)
  const slots: Slot[] = compiled.parameters.map((p) => p instanceof NamedValue ? { name: p.name } : { value: p })
  const names = new Set(slots.flatMap((s) => 'name' in s ? [s.name] : []))

  const bind = (values: Record<Name, unknown>): KyselyCompiledQuery<Row> => {
    for (const key of Object.keys(values)) {
      if (!names.has(key)) throw new Error(`compiled query run with the value "${key}", which it does not use (it uses: ${[...names].join(', ') || 'none'})`)
    }
    const parameters = slots.map((slot) => {
      if (!('name' in slot)) return slot.value
      const value = (values as Record<string, unknown>)[slot.name]
      if (value === undefined) throw new Error(`compiled query run without the value "${slot.name}"`)
      return value
    })
    return { ...compiled, parameters }
  }

  const run = async (trx: Kysely<Database>, values: Record<Name, unknown>): Promise<Row[]> => {
    if (!trx.isTransaction) throw new Error('compiled run() needs the trx of a write; outside a write use read()')
    return (await trx.executeQuery(bind(values))).rows
  }
  const read = async (values: Record<Name, unknown>): Promise<Row[]> => {
    guard.refuseInsideWrite()
    const bound = bind(values)
    return await query(bound.sql, bound.parameters) as Row[]
  }
  return {
    read,
    readFirst: async (values) => (await read(values))[0],
    run,
    runFirst: async (trx, values) => (await run(trx, values))[0]
  }
}
