/**
 * Schemas are compiled on first use, not when their route is registered: a process pays only for
 * the routes it serves, so a start-up is ready sooner and a test that calls three routes does not
 * compile sixty. The validators (plugins/validation.ts) and serializers (schemas/serializer.ts)
 * wrap their compile step with `onFirstUse`; `compilePending` runs every compile step not yet
 * run, so the tests still find a schema that cannot be compiled before a caller does.
 */
const pending = new Set<() => unknown>()

/** `compile`, run once when the returned function is first called, and remembered. */
export function onFirstUse<T> (compile: () => T): () => T {
  let compiled: { value: T } | undefined
  const get = (): T => {
    if (compiled === undefined) {
      // a step that throws is not pending any more: it throws again on each use, as it would
      // have at registration
      pending.delete(get)
      compiled = { value: compile() }
    }
    return compiled.value
  }
  pending.add(get)
  return get
}

/**
 * Compiles everything not yet used and returns how many; if any fail, throws an AggregateError
 * with each failure once the rest are compiled.
 */
export function compilePending (): number {
  const steps = [...pending]
  const failures: unknown[] = []
  for (const step of steps) {
    try { step() } catch (err) { failures.push(err) }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} of ${steps.length} schemas do not compile: ${failures.map(String).join('; ')}`)
  return steps.length
}
