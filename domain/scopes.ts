/** Every scope a key can carry (API.md §3). A key with none has full access. */
export const SCOPES = [
  'workers:read',
  'timesheets:read',
  'locations:read',
  'clock:write',
  'shifts:read',
  'shifts:write',
  'departments:read',
  'cost-codes:read',
  'webhooks:write',
  'surveys:read'
] as const

export type Scope = typeof SCOPES[number]

/**
 * What a route requires, declared in its route options as `config: { scope }`:
 * a scope name, `'full'` (only a key with no scopes), or `'public'` (no key at all).
 */
export type RouteScope = Scope | 'full' | 'public'

const scopeSet: ReadonlySet<string> = new Set(SCOPES)

export function isScope (value: string): value is Scope {
  return scopeSet.has(value)
}

export function isRouteScope (value: unknown): value is RouteScope {
  return typeof value === 'string' && (value === 'full' || value === 'public' || scopeSet.has(value))
}

/** Parses "a,b" as given to the CLI; throws on an unknown scope name. */
export function parseScopeList (input: string): Scope[] {
  const names = input.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const unknown = names.filter((n) => !isScope(n))
  if (unknown.length > 0) {
    throw new Error(`unknown scope ${unknown.map((u) => JSON.stringify(u)).join(', ')}; valid scopes: ${SCOPES.join(', ')}`)
  }
  return [...new Set(names)] as Scope[]
}

export function keyAllows (keyScopes: readonly string[], required: RouteScope): boolean {
  if (required === 'public') return true
  if (keyScopes.length === 0) return true
  if (required === 'full') return false
  return keyScopes.includes(required)
}
