import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import { forbiddenReason, isIpLiteral, type AddressPolicy } from '../domain/webhook-address.js'

export class ForbiddenAddressError extends Error {
  readonly code = 'EWEBHOOKFORBIDDEN'
}

type Resolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void

const systemResolver: Resolver = (hostname, callback) => {
  dnsLookup(hostname, { all: true, verbatim: true }, callback)
}

/**
 * A `lookup` for net.connect that resolves the name, refuses when ANY of its addresses is
 * forbidden, and hands back only checked addresses: the socket connects to exactly what was
 * checked, so a name that re-resolves to 10.0.0.1 between the check and the connect (DNS
 * rebinding) cannot slip through.
 */
export function guardedLookup (policy: AddressPolicy, resolver: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname, (err, addresses) => {
      if (err !== null) { callback(err, '', 0); return }
      const allowed = addresses.filter((a) => options.family === undefined || options.family === 0 || a.family === options.family)
      if (allowed.length === 0) {
        const e = Object.assign(new Error(`${hostname} has no usable address`), { code: 'ENOTFOUND' })
        callback(e, '', 0)
        return
      }
      for (const a of addresses) {
        const reason = forbiddenReason(a.address, policy)
        if (reason !== null) {
          callback(new ForbiddenAddressError(`refused: ${hostname} resolves to ${reason}`), '', 0)
          return
        }
      }
      if (options.all === true) {
        (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed)
      } else {
        callback(null, allowed[0]!.address, allowed[0]!.family)
      }
    })
  }
}

export interface SendRequest {
  url: string
  body: string
  headers: Record<string, string>
  /** the whole attempt: resolving, connecting, sending and the response's status line */
  timeoutMs: number
  /** resolving and connecting alone: an address that never answers a SYN fails fast */
  connectTimeoutMs?: number
  policy: AddressPolicy
  /** aborts the attempt (server shutting down) */
  signal?: AbortSignal
  resolver?: Resolver
}

export type SendResult =
  | { ok: true, status: number }
  | { ok: false, status: number | null, error: string }

const MAX_ERROR_LENGTH = 500

/** One delivery attempt: a POST that never follows redirects; 2xx is success, anything else is not. */
export async function sendWebhook (request: SendRequest): Promise<SendResult> {
  let url: URL
  try {
    url = new URL(request.url)
  } catch {
    return { ok: false, status: null, error: 'invalid URL' }
  }
  // an IP literal skips the resolver, so it is checked here (again: config may have changed)
  if (isIpLiteral(url.hostname)) {
    const reason = forbiddenReason(url.hostname, request.policy)
    if (reason !== null) return { ok: false, status: null, error: `refused: ${reason}` }
  }
  const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null
  if (client === null) return { ok: false, status: null, error: `refused: ${url.protocol} is not allowed` }

  return await new Promise<SendResult>((resolve) => {
    let settled = false
    const finish = (result: SendResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      request.signal?.removeEventListener('abort', onAbort)
      resolve(result)
    }
    const req = client.request(url, {
      method: 'POST',
      agent: false, // one connection per attempt: nothing pooled keeps the process alive
      headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
      lookup: guardedLookup(request.policy, request.resolver)
    }, (res) => {
      const status = res.statusCode ?? 0
      // the response body is not needed; drain it so the socket can close
      res.resume()
      res.on('error', () => {})
      if (status >= 200 && status < 300) finish({ ok: true, status })
      else finish({ ok: false, status, error: `HTTP ${status}` })
      res.destroy()
    })
    const timer = setTimeout(() => {
      finish({ ok: false, status: null, error: `timed out after ${request.timeoutMs} ms` })
      req.destroy()
    }, request.timeoutMs)
    const connectTimeoutMs = request.connectTimeoutMs
    if (connectTimeoutMs !== undefined && connectTimeoutMs < request.timeoutMs) {
      req.once('socket', (socket) => {
        if (!socket.connecting) return
        const connectTimer = setTimeout(() => {
          finish({ ok: false, status: null, error: `connect timed out after ${connectTimeoutMs} ms` })
          req.destroy()
        }, connectTimeoutMs)
        socket.once('connect', () => { clearTimeout(connectTimer) })
        socket.once('close', () => { clearTimeout(connectTimer) })
      })
    }
    const onAbort = (): void => {
      finish({ ok: false, status: null, error: 'aborted: server shutting down' })
      req.destroy()
    }
    request.signal?.addEventListener('abort', onAbort)
    req.on('error', (err: Error) => {
      finish({ ok: false, status: null, error: err.message.slice(0, MAX_ERROR_LENGTH) })
    })
    req.end(request.body)
  })
}
