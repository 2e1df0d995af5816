/** Every scope a key can carry (docs/api.md). A full-access key needs none of them. */
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
  'surveys:read',
  'documents:read'
] as const

export type Scope = typeof SCOPES[number]

/**
 * What a route requires, declared in its route options as `config: { scope }`:
 * a scope name, `'full'` (only a full-access key), or `'public'` (no key at all).
 */
export type RouteScope = Scope | 'full' | 'public'

/**
 * What a key may do: everything (`fullAccess`), or exactly the routes of its scopes. Full access is
 * a flag of its own, never inferred from an empty list, so a list that lost its entries grants nothing.
 */
export interface KeyGrant {
  readonly fullAccess: boolean
  readonly scopes: readonly Scope[]
}

export const NO_ACCESS: KeyGrant = Object.freeze({ fullAccess: false, scopes: Object.freeze([]) })

const scopeSet: ReadonlySet<string> = new Set(SCOPES)

export function isScope (value: string): value is Scope {
  return scopeSet.has(value)
}

export function isRouteScope (value: unknown): value is RouteScope {
  return typeof value === 'string' && (value === 'full' || value === 'public' || scopeSet.has(value))
}

/** Parses "a,b" as given to the CLI; throws on an unknown scope name or a list naming none. */
export function parseScopeList (input: string): Scope[] {
  const names = input.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (names.length === 0) {
    throw new Error(`the scope list names no scope; give at least one (valid scopes: ${SCOPES.join(', ')}), or leave the list out for a full-access key`)
  }
  const unknown = names.filter((n) => !isScope(n))
  if (unknown.length > 0) {
    throw new Error(`unknown scope ${unknown.map((u) => JSON.stringify(u)).join(', ')}; valid scopes: ${SCOPES.join(', ')}`)
  }
  return [...new Set(names)] as Scope[]
}

/**
 * A stored scope list (a JSON array of scope names), read strictly: undefined unless it is an
 * array of known scope names, so the caller can grant nothing rather than guess.
 */
export function parseStoredScopes (json: string): Scope[] | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return undefined
  }
  if (!Array.isArray(parsed)) return undefined
  return parsed.every((s): s is Scope => typeof s === 'string' && isScope(s)) ? parsed : undefined
}

/** A stored key's grant: the explicit full-access flag, or its scope list read strictly (fail closed). */
export function storedGrant (fullAccess: boolean, scopesJson: string): KeyGrant {
  if (fullAccess) return { fullAccess: true, scopes: [] }
  const scopes = parseStoredScopes(scopesJson)
  return scopes === undefined ? NO_ACCESS : { fullAccess: false, scopes }
}

export function keyAllows (grant: KeyGrant, required: RouteScope): boolean {
  if (required === 'public') return true
  if (grant.fullAccess) return true
  if (required === 'full') return false
  return grant.scopes.includes(required)
}
