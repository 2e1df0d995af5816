import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A PostgreSQL server reached through `LatencyProxy`: its Unix socket directory, for `?host=`. */
export interface LatencyProxy {
  /** the directory holding the proxy's `.s.PGSQL.<port>` socket */
  socketDir: string
  close: () => Promise<void>
}

/**
 * A PostgreSQL server as if it were on another machine: a Unix socket in a directory of its own
 * that forwards to `target` (the server's own socket file) with every chunk held `delayMs` in each
 * direction, so a round trip takes about twice that (Node's timers: at least 1 ms each way). The
 * same peer authentication as the local socket, since the proxy runs as the same user. Runs in the
 * bench's process: its CPU counts as the load generator's.
 */
export async function startLatencyProxy (target: string, port: number, delayMs: number): Promise<LatencyProxy> {
  const socketDir = mkdtempSync(join(tmpdir(), 'tempclock-pg-proxy-'))
  const sockets = new Set<Socket>()
  const forward = (from: Socket, to: Socket): void => {
    // timers of one duration fire in the order they were set: the bytes keep their order
    from.on('data', (chunk) => { setTimeout(() => { if (!to.destroyed) to.write(chunk) }, delayMs) })
    from.on('close', () => { setTimeout(() => { to.destroy() }, delayMs) })
    from.on('error', () => {})
  }
  const server = createServer((client) => {
    const upstream = createConnection(target)
    sockets.add(client).add(upstream)
    client.on('close', () => sockets.delete(client))
    upstream.on('close', () => sockets.delete(upstream))
    forward(client, upstream)
    forward(upstream, client)
  })
  server.listen(join(socketDir, `.s.PGSQL.${port}`))
  await once(server, 'listening')
  return {
    socketDir,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
      rmSync(socketDir, { recursive: true, force: true })
    }
  }
}
