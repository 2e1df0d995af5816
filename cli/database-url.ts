// PostgreSQL URLs as pg takes them, handled as text: WHATWG URL rejects forms pg accepts, such as a
// Unix socket's empty host (postgres://user@/dbname?host=/var/run/postgresql).

const USERINFO = /^(postgres(?:ql)?:\/\/)([^@/?#]*)@/i
const QUERY_PASSWORD = /([?&]password=)([^&#]*)/i

/** Throws unless `url` is a postgres:// or postgresql:// URL; the value is not echoed (it may hold a password). */
export function checkDatabaseUrl (url: string, name: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase()
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw new Error(`${name} must be a postgres:// or postgresql:// URL (got ${scheme === undefined ? 'something that is not a URL' : `scheme ${JSON.stringify(scheme + ':')}`})`)
  }
}

/** The password in `url` (as written, and decoded), if it has one. */
export function passwordsOf (url: string): string[] {
  const found: string[] = []
  const userinfo = USERINFO.exec(url)?.[2]
  const colon = userinfo?.indexOf(':') ?? -1
  if (userinfo !== undefined && colon !== -1) found.push(userinfo.slice(colon + 1))
  const query = QUERY_PASSWORD.exec(url)?.[2]
  if (query !== undefined) found.push(query)
  const decoded = found.map((p) => { try { return decodeURIComponent(p) } catch { return p } })
  return [...new Set([...found, ...decoded])].filter((p) => p !== '')
}

/** `url` with its password shown as `***`: for messages and summaries. */
export function redactDatabaseUrl (url: string): string {
  return url
    .replace(USERINFO, (_all, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':')
      return `${scheme}${colon === -1 ? userinfo : userinfo.slice(0, colon) + ':***'}@`
    })
    .replace(QUERY_PASSWORD, '$1***')
}

/** `url` without its password: a command line to copy, which takes the password from PGPASSWORD or ~/.pgpass. */
export function withoutPassword (url: string): string {
  return url
    .replace(USERINFO, (_all, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':')
      return `${scheme}${colon === -1 ? userinfo : userinfo.slice(0, colon)}@`
    })
    .replace(/[?&]password=[^&#]*/i, (match) => match.startsWith('?') ? '?' : '')
    .replace(/\?(&|$)/, (_all, rest: string) => rest === '&' ? '?' : '')
}
