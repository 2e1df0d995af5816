import { request as httpRequest } from 'node:http'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import type { FastifyInstance } from 'fastify'
import type { AppConfig } from '../plugins/config.js'
import { buildTestApp } from './helper.js'

/** Creates and migrates a database file with one API-enabled account and a full-access key. */
export async function seedDatabaseFile (file: string): Promise<{ accountId: number, key: string }> {
  const handle = openSqliteEngine({ file })
  try {
    await handle.migrate()
    const account = await createAccount(handle, { name: 'Hardening', timezone: 'UTC', apiEnabled: true })
    const { key } = await createApiKey(handle, { accountId: account.id, name: 'full', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
    return { accountId: account.id, key }
  } finally {
    await handle.close()
  }
}

/**
 * The app in this process on a database file, listening on a free port, closed when the test ends:
 * the restart after a kill, without the 1-2 s of CPU a new server process costs. (A test about the
 * process itself, its signals or exit code, starts one with startServer.)
 */
export async function listenInProcess (t: { after: (fn: () => unknown) => void }, dbPath: string, overrides: Partial<AppConfig> = {}): Promise<{ url: string, app: FastifyInstance }> {
  const app = await buildTestApp(t, { dbPath, ...overrides })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { url, app }
}

export interface HttpResult { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** One HTTP request over a fresh socket (no keep-alive), so a SIGKILL shows as a socket error. */
export async function httpCall (base: string, options: { method?: string, path: string, key?: string, body?: unknown, headers?: Record<string, string>, timeoutMs?: number }): Promise<HttpResult> {
  const url = new URL(options.path, base)
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  return await new Promise<HttpResult>((resolve, reject) => {
    const req = httpRequest(url, {
      method: options.method ?? 'GET',
      agent: false,
      headers: {
        connection: 'close',
        ...options.headers,
        ...(options.key === undefined ? {} : { authorization: `Bearer ${options.key}` }),
        ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) })
      },
      timeout: options.timeoutMs ?? 20_000
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('client timeout')))
    req.on('error', reject)
    req.end(payload)
  })
}
