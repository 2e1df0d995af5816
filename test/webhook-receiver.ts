import { createHmac, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'

export interface ReceivedRequest {
  path: string
  headers: http.IncomingHttpHeaders
  /** the raw body exactly as received */
  raw: Buffer
}

/** What the receiver does with a request: answer with a status, or hang (never answer). */
export type Reply = number | 'hang'

export interface Receiver {
  url: string
  requests: ReceivedRequest[]
  /** replies for the next requests in order; once used up, `fallback` */
  script: Reply[]
  fallback: Reply
  close: () => Promise<void>
}

/** A real HTTP receiver on 127.0.0.1 (an ephemeral port). */
export async function startReceiver (fallback: Reply = 200): Promise<Receiver> {
  const hanging = new Set<http.ServerResponse>()
  const receiver: Receiver = { url: '', requests: [], script: [], fallback, close: async () => {} }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      receiver.requests.push({ path: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks) })
      const reply = receiver.script.length > 0 ? receiver.script.shift()! : receiver.fallback
      if (reply === 'hang') { hanging.add(res); return }
      res.writeHead(reply, { 'content-type': 'text/plain' }).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  receiver.close = async () => {
    for (const res of hanging) res.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return receiver
}

/** The receiver check of docs/webhooks.md: constant-time compare of the signature header. */
export function signatureMatches (secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false
  const expected = Buffer.from('sha256=' + createHmac('sha256', secret).update(raw).digest('hex'))
  const given = Buffer.from(header)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function waitFor (check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

export interface HangingServer {
  url: string
  /** connections accepted so far */
  connections: number
  /** connections open now */
  open: () => number
  close: () => Promise<void>
}

/** A raw TCP server on 127.0.0.1 that accepts every connection and never answers anything. */
export async function startHangingServer (): Promise<HangingServer> {
  const sockets = new Set<net.Socket>()
  const hanging: HangingServer = { url: '', connections: 0, open: () => sockets.size, close: async () => {} }
  const server = net.createServer((socket) => {
    hanging.connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  hanging.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  hanging.close = async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return hanging
}
