/**
 * The deepest nesting of objects and arrays a request body may have (the body itself is level 1).
 * The API's own bodies need three levels; the rest is room for free-form fields. A cap keeps
 * recursive code (schema checks, the Idempotency-Key fingerprint, serialisers) away from a stack
 * overflow however the JSON is built.
 */
export const MAX_JSON_DEPTH = 32

/** Whether `value` nests objects and arrays deeper than `max` levels. Iterative: safe at any depth. */
export function nestsDeeperThan (value: unknown, max: number): boolean {
  const nodes: unknown[] = [value]
  const depths: number[] = [1]
  while (nodes.length > 0) {
    const node = nodes.pop()
    const depth = depths.pop()!
    if (node === null || typeof node !== 'object') continue
    if (depth > max) return true
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') {
        nodes.push(child)
        depths.push(depth + 1)
      }
    }
  }
  return false
}
