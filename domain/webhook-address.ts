import { isIP } from 'node:net'
import { validationError } from './errors.js'

/**
 * Where a webhook may be sent (docs/webhooks.md): never to this machine, the private network,
 * link-local or cloud metadata addresses, whatever trick the URL or DNS plays. The literal host is
 * checked when a subscription is saved; every address a name resolves to is checked again right
 * before each delivery, and the connection goes to the address that was checked.
 */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'invalid'

export interface AddressPolicy {
  /** TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK: local use and tests */
  allowLoopback: boolean
}

/** Strict dotted quad (what the URL parser and the resolver produce) → 32-bit number. */
export function parseIPv4 (text: string): number | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  let value = 0
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null
    value = value * 256 + Number(part)
  }
  return value
}

/** An IPv6 address (no brackets, no zone) → its eight 16-bit groups. */
export function parseIPv6 (text: string): number[] | null {
  if (isIP(text) !== 6) return null
  let head = text
  const groups: number[] = []
  // a trailing dotted quad (::ffff:10.0.0.1) is the last two groups
  const quad = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(head)
  let tail: number[] = []
  if (quad !== null) {
    const v4 = parseIPv4(quad[2]!)
    if (v4 === null) return null
    tail = [Math.floor(v4 / 65536), v4 % 65536]
    head = quad[1]!.endsWith('::') ? quad[1]! : quad[1]!.slice(0, -1)
  }
  const [left, right] = head.includes('::') ? head.split('::') as [string, string] : [head, undefined]
  const parse = (s: string): number[] => s === '' ? [] : s.split(':').map((g) => parseInt(g, 16))
  const leftGroups = parse(left)
  if (right === undefined) {
    groups.push(...leftGroups, ...tail)
  } else {
    const rightGroups = [...parse(right), ...tail]
    const zeros = 8 - leftGroups.length - rightGroups.length
    groups.push(...leftGroups, ...new Array<number>(zeros).fill(0), ...rightGroups)
  }
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null
}

const v4 = (a: number, b: number, c: number, d: number): number => ((a * 256 + b) * 256 + c) * 256 + d

/** [network, prefix length, class], most specific first where they overlap. */
const IPV4_RANGES: Array<[number, number, AddressClass]> = [
  [v4(169, 254, 169, 254), 32, 'metadata'],
  [v4(0, 0, 0, 0), 8, 'unspecified'],
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(100, 64, 0, 0), 10, 'private'], // carrier-grade NAT, shared address space
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'],
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 0, 0, 0), 24, 'reserved'],
  [v4(192, 0, 2, 0), 24, 'reserved'],
  [v4(192, 88, 99, 0), 24, 'reserved'],
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(198, 18, 0, 0), 15, 'reserved'],
  [v4(198, 51, 100, 0), 24, 'reserved'],
  [v4(203, 0, 113, 0), 24, 'reserved'],
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'] // includes 255.255.255.255
]

function inRange (value: number, network: number, prefix: number): boolean {
  const size = 2 ** (32 - prefix)
  return Math.floor(value / size) === Math.floor(network / size)
}

export function classifyIPv4 (value: number): AddressClass {
  for (const [network, prefix, kind] of IPV4_RANGES) {
    if (inRange(value, network, prefix)) return kind
  }
  return 'public'
}

const embeddedV4 = (high: number, low: number): number => high * 65536 + low

export function classifyIPv6 (g: number[]): AddressClass {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number]
  const first96Zero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0
  if (first96Zero && g5 === 0) {
    if (g6 === 0 && g7 === 0) return 'unspecified'
    if (g6 === 0 && g7 === 1) return 'loopback'
    return 'reserved' // deprecated IPv4-compatible ::a.b.c.d
  }
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d reach the IPv4 address
  if (first96Zero && g5 === 0xffff) return classifyIPv4(embeddedV4(g6, g7))
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0xffff && g5 === 0) return classifyIPv4(embeddedV4(g6, g7))
  // NAT64 well-known prefix 64:ff9b::/96 reaches the embedded IPv4 address
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return classifyIPv4(embeddedV4(g6, g7))
  // 6to4 2002:AABB:CCDD::/48 reaches AA.BB.CC.DD
  if (g0 === 0x2002) return classifyIPv4(embeddedV4(g1, g2)) === 'public' ? 'public' : 'reserved'
  if (g0 === 0xfd00 && g1 === 0x0ec2 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0 && g6 === 0 && g7 === 0x254) return 'metadata'
  if ((g0 & 0xfe00) === 0xfc00) return 'private' // fc00::/7 unique local
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local' // fe80::/10
  if ((g0 & 0xff00) === 0xff00) return 'multicast' // ff00::/8
  if (g0 === 0x2001 && g1 === 0x0db8) return 'reserved' // documentation
  if (g0 === 0x2001 && g1 === 0) return 'reserved' // Teredo: the real address is hidden
  if ((g0 & 0xe000) !== 0x2000) return 'reserved' // only 2000::/3 is global unicast
  return 'public'
}

/** Classifies an IP address as text (IPv4 dotted quad, or IPv6 with or without brackets). */
export function classifyAddress (address: string): AddressClass {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address
  if (bare.includes('%')) return 'link-local' // a zone id only makes sense on a local link
  const four = parseIPv4(bare)
  if (four !== null) return classifyIPv4(four)
  const six = parseIPv6(bare)
  if (six !== null) return classifyIPv6(six)
  return 'invalid'
}

/** Why an address may not be delivered to, or null when it may. */
export function forbiddenReason (address: string, policy: AddressPolicy): string | null {
  const kind = classifyAddress(address)
  if (kind === 'public') return null
  if (kind === 'loopback' && policy.allowLoopback) return null
  return kind === 'invalid' ? `${address} is not an IP address` : `${address} is a ${kind} address`
}

const LOOPBACK_HTTP_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

function isLocalhostName (hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '')
  return name === 'localhost' || name.endsWith('.localhost')
}

/** Whether a URL hostname is an IP literal (the URL parser has already normalised 2130706433 etc.). */
export function isIpLiteral (hostname: string): boolean {
  return parseIPv4(hostname) !== null || (hostname.startsWith('[') && hostname.endsWith(']'))
}

/**
 * Checks a webhook URL as given by the API user and returns it normalised (the WHATWG parser turns
 * `http://2130706433/`, `0x7f.1` or `017700000001` into `127.0.0.1`, so those tricks are checked as
 * the address they really are). Throws a 400 naming the problem.
 */
export function checkWebhookUrl (input: string, policy: AddressPolicy): string {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    throw validationError('Invalid field url: must be an absolute https:// URL')
  }
  if (url.username !== '' || url.password !== '') {
    throw validationError('Invalid field url: must not contain a user name or password')
  }
  const host = url.hostname.toLowerCase()
  if (url.protocol === 'http:') {
    if (!policy.allowLoopback || !LOOPBACK_HTTP_HOSTS.has(host)) {
      throw validationError('Invalid field url: must use https' +
        (policy.allowLoopback ? ' (http is accepted only for 127.0.0.1, localhost and [::1])' : ''))
    }
  } else if (url.protocol !== 'https:') {
    throw validationError('Invalid field url: must use https')
  }
  if (host === '') throw validationError('Invalid field url: must name a host')
  if (isIpLiteral(host)) {
    const reason = forbiddenReason(host, policy)
    if (reason !== null) throw validationError(`Invalid field url: ${reason}; webhooks are only sent to public addresses`)
  } else if (isLocalhostName(host) && !policy.allowLoopback) {
    throw validationError(`Invalid field url: ${host} is a loopback address; webhooks are only sent to public addresses`)
  }
  return url.href
}
