import t from 'tap'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import rootPlugin, { serializeRequest, serverOptions } from '../app.js'
import { testConfig } from '../plugins/config.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey, revokeApiKey } from '../db/api-keys.js'
import { bearer, startServer } from './helper.js'
import { sqliteOf } from './helper.js'

type Assert = Pick<typeof t, 'notOk'>
type Teardown = Pick<typeof t, 'after'>

/** The ways a key could be written down: in full, its secret part, upper-cased. */
function forms (key: string): string[] {
  return [key, key.slice('tc_live_'.length), key.toUpperCase()]
}

function assertAbsent (t: Assert, haystack: Buffer | string, keys: string[], where: string): void {
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : haystack
  for (const key of keys) {
    for (const form of forms(key)) {
      t.notOk(text.includes(form), `${where}: no trace of ${key.slice(0, 12)}… (${form.length} chars)`)
    }
  }
}

/** The app as server.ts builds it, with its log lines captured instead of printed. */
async function buildLoggingApp (t: Teardown, dbPath: string, lines: string[]): Promise<FastifyInstance> {
  const config = testConfig({ dbPath, logLevel: 'trace' })
  const options = serverOptions(config)
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(...chunk.toString().split('\n').filter((l) => l !== '')); done() } })
  const logger = {
    ...(options.logger as Record<string, unknown>),
    stream,
    // an operator who logs request headers (for debugging) must still not log keys
    serializers: { req: (req: FastifyRequest) => ({ ...serializeRequest(req), headers: req.headers }) }
  }
  const app = Fastify({ ...options, logger } as FastifyServerOptions)
  await app.register(rootPlugin, { config })
  await app.ready()
  t.after(async () => { await app.close() })
  return app
}

t.test('keys are stored as SHA-256 only: never in the database file, never in the logs', async (t) => {
  const dir = t.testdir()
  const dbPath = join(dir, 'tempclock.db')
  const lines: string[] = []
  const app = await buildLoggingApp(t, dbPath, lines)

  const account = await createAccount(app.engine, { name: 'Acme', apiEnabled: true })
  const created = []
  for (const scopes of [[], ['locations:read'], ['workers:read']] as const) {
    created.push(await createApiKey(app.engine, { accountId: account.id, name: `key ${scopes.join()}`, scopes: [...scopes], expiresAt: null, rateLimit: null }))
  }
  await revokeApiKey(app.engine, created[2]!.record.id)
  const keys = created.map((c) => c.key)

  // use them every way: success, write, wrong scope, revoked, typo, wrong case, key in the URL, a crash
  const [full, reader, revoked] = keys as [string, string, string]
  const typo = full.slice(0, -1) + (full.endsWith('0') ? '1' : '0')
  const requests = [
    { url: '/api/v1/locations.php', headers: bearer(full) },
    { method: 'POST' as const, url: '/api/v1/locations.php', headers: bearer(full), payload: { name: 'Depot' } },
    { url: '/api/v1/locations.php?id=1', headers: bearer(reader) },
    { method: 'POST' as const, url: '/api/v1/locations.php', headers: bearer(reader), payload: { name: 'Nope' } },
    { url: '/api/v1/locations.php', headers: bearer(revoked) },
    { url: '/api/v1/locations.php', headers: bearer(typo) },
    { url: '/api/v1/locations.php', headers: { authorization: `Token ${full}` } },
    { url: '/api/v1/locations.php', headers: bearer(full.toUpperCase()) },
    { url: `/api/v1/locations.php?api_key=${full}`, headers: bearer(full) },
    { url: `/api/v1/locations.php?api_key=${reader}` },
    { url: `/nowhere/${full}` }
  ]
  const statuses = []
  for (const request of requests) statuses.push((await app.inject(request)).statusCode)
  t.same(statuses, [200, 201, 200, 403, 401, 401, 401, 401, 400, 401, 404])

  // a crash with the key in hand
  sqliteOf(app).exec('alter table locations rename to locations_moved')
  t.equal((await app.inject({ url: '/api/v1/locations.php', headers: bearer(full) })).statusCode, 500)

  t.ok(lines.length >= requests.length * 2, `logs were captured (${lines.length} lines)`)
  t.ok(lines.some((l) => l.includes('"level":50') && l.includes('request failed')), 'the crash was logged')
  const withHeaders = lines.filter((l) => l.includes('"headers"'))
  t.ok(withHeaders.length > 0, 'request headers were logged')
  t.ok(withHeaders.every((l) => !l.includes('"authorization":"') || l.includes('"authorization":"[redacted]"')), 'authorization is always redacted')
  t.ok(withHeaders.some((l) => l.includes('"authorization":"[redacted]"')), 'and it was there to redact')
  t.ok(lines.some((l) => l.includes('"url":"/api/v1/locations.php?api_key=tc_live_[redacted]"')), 'a key pasted into a URL is masked, the rest of the URL kept')
  assertAbsent(t, lines.join('\n'), [...keys, typo], 'logs')

  // what is stored
  const rows = await app.db.selectFrom('api_keys').select(['id', 'key_hash', 'key_prefix']).orderBy('id').execute()
  t.same(rows.map((r) => r.key_hash), keys.map((k) => createHash('sha256').update(k, 'utf8').digest('hex')), 'the stored hash is SHA-256 hex of the key')
  t.same(rows.map((r) => r.key_prefix), keys.map((k) => k.slice(0, 12) + '...'), 'with a short display prefix')
  t.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.key_hash)))

  // the bytes on disk, WAL included, while the app still has the file open
  const files = [dbPath, dbPath + '-wal', dbPath + '-shm'].filter((f) => existsSync(f))
  t.ok(files.includes(dbPath + '-wal'), 'the WAL is checked too')
  for (const file of files) assertAbsent(t, readFileSync(file), keys, file.slice(dir.length + 1))
  sqliteOf(app).pragma('wal_checkpoint(TRUNCATE)')
  assertAbsent(t, readFileSync(dbPath), keys, 'database after checkpoint')
})

t.test('the real server at info level logs no key', async (t) => {
  const dir = t.testdir()
  const dbPath = join(dir, 'tempclock.db')
  const server = await startServer(dbPath, { LOG_LEVEL: 'info' })
  t.teardown(async () => { await server.stop() })
  let output = ''
  server.process.stdout!.on('data', (c: Buffer) => { output += c.toString() })
  server.process.stderr!.on('data', (c: Buffer) => { output += c.toString() })

  const { runCli } = await import('./helper.js')
  const account = JSON.parse((await runCli(['--db', dbPath, '--json', 'accounts', 'create', '--name', 'Acme', '--api-enabled'])).stdout) as { id: number }
  const { key } = JSON.parse((await runCli(['--db', dbPath, '--json', 'keys', 'create', '--account', String(account.id), '--name', 'K'])).stdout) as { key: string }

  const statuses = []
  for (const [url, headers] of [
    ['/api/v1/locations.php', bearer(key)],
    ['/api/v1/locations.php', bearer(key.replace(/.$/, (c) => c === 'a' ? 'b' : 'a'))],
    [`/api/v1/locations.php?key=${key}`, bearer(key)],
    [`/api/v1/locations.php?key=${key}`, {}]
  ] as Array<[string, Record<string, string>]>) {
    statuses.push((await fetch(server.url + url, { headers })).status)
  }
  t.same(statuses, [200, 401, 400, 401])
  t.equal(await server.stop(), 0)
  t.match(output, /incoming request/, 'requests were logged')
  t.match(output, /request completed/)
  assertAbsent(t, output, [key], 'server output')
  for (const file of [dbPath, dbPath + '-wal'].filter((f) => existsSync(f))) assertAbsent(t, readFileSync(file), [key], file.slice(dir.length + 1))
})
