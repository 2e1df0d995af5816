import { DeleteQueryNode, InsertQueryNode, UpdateQueryNode, type Compilable, type CompiledQuery } from 'kysely'
import type { CompileOptions } from './engine.js'

/** What `param(name)` puts where a value goes: found again, by identity, in the compiled parameters. */
class NamedValue {
  constructor (readonly name: string) {}
}

/**
 * A query built once with `param('name')` wherever a value goes, compiled, and ready to run with
 * named values. The builder's own literal values stay where they are. Shared by the engines.
 */
export class NamedStatement<Row, Name extends string> {
  readonly statement: CompiledQuery<Row>
  /** per compiled parameter: the name whose value goes there, or the literal value itself */
  readonly #slots: Array<NamedValue | { literal: unknown }>
  readonly #names: ReadonlySet<string>

  constructor (build: (param: (name: Name) => any) => Compilable<Row>, options: CompileOptions = {}) {
    const markers = new Map<string, NamedValue>()
    const param = (name: Name): NamedValue => {
      let marker = markers.get(name)
      if (marker === undefined) {
        marker = new NamedValue(name)
        markers.set(name, marker)
      }
      return marker
    }
    this.statement = build(param).compile()
    this.#slots = this.statement.parameters.map((value) => value instanceof NamedValue ? value : { literal: value })
    this.#names = new Set(markers.keys())
    if (options.unanswered === true && !answersNothing(this.statement)) {
      throw new Error(`compiled query: an unanswered statement is an INSERT, UPDATE or DELETE without RETURNING (nothing waits for its answer): ${this.statement.sql}`)
    }
    // a marker the builder turned into something else (e.g. inside JSON) would be sent as an object
    for (const name of this.#names) {
      if (!this.#slots.some((slot) => slot instanceof NamedValue && slot.name === name)) {
        throw new Error(`compiled query: param('${name}') is not a value of the compiled statement (was it used where Kysely takes a value?)`)
      }
    }
  }

  /** The parameters in statement order; throws for a missing or an unknown name. */
  parameters (values: Record<Name, unknown>): unknown[] {
    for (const name of this.#names) {
      if (!(name in values) || (values as Record<string, unknown>)[name] === undefined) {
        throw new Error(`compiled query run without a value for '${name}' (it takes ${[...this.#names].map((n) => `'${n}'`).join(', ')})`)
      }
    }
    for (const name of Object.keys(values)) {
      if (!this.#names.has(name)) {
        throw new Error(`compiled query run with '${name}', which it does not use (it takes ${this.#names.size === 0 ? 'no values' : [...this.#names].map((n) => `'${n}'`).join(', ')})`)
      }
    }
    return this.#slots.map((slot) => slot instanceof NamedValue ? (values as Record<string, unknown>)[slot.name] : slot.literal)
  }
}

/** Whether `statement` is a write that returns no rows. */
function answersNothing (statement: CompiledQuery): boolean {
  const node = statement.query
  return (InsertQueryNode.is(node) || UpdateQueryNode.is(node) || DeleteQueryNode.is(node)) && node.returning === undefined
}
